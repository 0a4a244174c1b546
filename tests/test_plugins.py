"""Plugin discovery through entry points: built-ins load like third parties, and a broken,
incompatible or duplicate plugin is reported by name and skipped while the rest keep working."""

import json
import sys
import textwrap
import types

import pytest
from click.testing import CliRunner

from textgen import PLUGIN_API_VERSION
from textgen.cli import cli
from textgen.hookspecs import hookimpl
from textgen.plugins import UnknownNameError, load_registry, set_registry
from textgen.samplers.builtin import GreedySampler

BUILTIN_SAMPLERS = {"greedy", "multinomial", "temperature", "uniform"}


def fake_distribution(root, dist, module, source, group_lines):
    """A real installed distribution on sys.path: dist-info with entry points, and a module."""
    info = root / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text("[textgen]\n" + "\n".join(group_lines) + "\n")
    (root / f"{module}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("tgfake_")]:
        del sys.modules[name]


def test_builtins_register_through_the_package_entry_points():
    reg = load_registry()
    assert BUILTIN_SAMPLERS <= set(reg.samplers)
    assert {"lstm", "conv"} <= set(reg.backbones)
    for name in BUILTIN_SAMPLERS:
        assert reg.entry("samplers", name).dist == "textgen-char"
    assert not [f for f in reg.failures if f.dist == "textgen-char"]


def test_a_plugin_distribution_is_discovered(site):
    fake_distribution(site, "tg-good", "tgfake_good", """
        from textgen.hookspecs import hookimpl
        from textgen.samplers.builtin import GreedySampler

        class Argmax(GreedySampler):
            pass

        @hookimpl
        def register_samplers(register):
            register("argmax", Argmax)
    """, ["good = tgfake_good"])
    entry = load_registry().entry("samplers", "argmax")
    assert (entry.plugin, entry.dist, entry.version) == ("good", "tg-good", "1.2.3")


def test_broken_incompatible_and_duplicate_plugins_are_skipped(site):
    fake_distribution(site, "tg-broken", "tgfake_broken", "raise ImportError('no numpy 9')",
                      ["broken = tgfake_broken"])
    fake_distribution(site, "tg-future", "tgfake_future", f"""
        textgen_plugin_api = {PLUGIN_API_VERSION + 1}
    """, ["future = tgfake_future"])
    fake_distribution(site, "tg-dupe", "tgfake_dupe", """
        from textgen.hookspecs import hookimpl
        from textgen.samplers.builtin import UniformSampler

        class Flat(UniformSampler):
            pass

        class Greedy(UniformSampler):
            pass

        @hookimpl
        def register_samplers(register):
            register("greedy", Greedy)   # taken by the core
            register("flat", Flat)       # fine
    """, ["dupe = tgfake_dupe"])
    fake_distribution(site, "tg-typo", "tgfake_typo", """
        from textgen.hookspecs import hookimpl

        @hookimpl
        def register_sampler(register):   # no such hook
            pass
    """, ["typo = tgfake_typo"])
    reg = load_registry()
    problems = {f.plugin: f.error for f in reg.failures}
    assert "no numpy 9" in problems["broken"]
    assert f"needs textgen plugin API {PLUGIN_API_VERSION + 1}" in problems["future"]
    assert "'greedy' is already registered by builtin_samplers" in problems["dupe"]
    assert "register_sampler" in problems["typo"]
    assert reg.samplers["greedy"] is GreedySampler  # never shadowed
    assert "flat" in reg.samplers and BUILTIN_SAMPLERS <= set(reg.samplers)


def test_load_plugins_env_limits_third_parties(site, monkeypatch):
    fake_distribution(site, "tg-env", "tgfake_env", """
        from textgen.hookspecs import hookimpl
        from textgen.samplers.builtin import GreedySampler

        class EnvOnly(GreedySampler):
            pass

        @hookimpl
        def register_samplers(register):
            register("envonly", EnvOnly)
    """, ["env = tgfake_env"])
    monkeypatch.setenv("TEXTGEN_LOAD_PLUGINS", "")
    reg = load_registry()
    assert "envonly" not in reg.samplers and BUILTIN_SAMPLERS <= set(reg.samplers)
    monkeypatch.setenv("TEXTGEN_LOAD_PLUGINS", "tg-env")
    assert "envonly" in load_registry().samplers


def test_unknown_names_list_the_registered_ones_and_suggest():
    with pytest.raises(UnknownNameError, match=r"Did you mean 'temperature'.*greedy"):
        load_registry().sampler("temprature")


def test_plugins_command_lists_distributions_and_failures():
    plugin = types.ModuleType("local_plugin")

    @hookimpl
    def register_samplers(register):
        register("greedy", GreedySampler)

    plugin.register_samplers = register_samplers
    set_registry(load_registry(extra=[("local", plugin)]))
    try:
        result = CliRunner().invoke(cli, ["plugins", "--json"])
        table = CliRunner().invoke(cli, ["plugins"], terminal_width=200)
    finally:
        set_registry(None)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    names = {(e["name"], e["dist"]) for e in data["samplers"]}
    assert ("temperature", "textgen-char") in names and ("lstm", "textgen-char") in {
        (e["name"], e["dist"]) for e in data["backbones"]}
    assert any(f["plugin"] == "local" and "already registered" in f["error"]
               for f in data["failures"])
    assert "Skipped" in table.output and "temperature" in table.output


def test_a_plugin_can_add_a_command():
    plugin = types.ModuleType("cmd_plugin")

    @hookimpl
    def register_commands(cli):
        @cli.command(name="hello")
        def hello():
            print("hello from a plugin")

    plugin.register_commands = register_commands
    reg = load_registry(extra=[("cmd", plugin)])
    reg.manager.hook.register_commands(cli=cli)
    try:
        result = CliRunner().invoke(cli, ["hello"])
        assert result.output.strip() == "hello from a plugin"
    finally:
        cli.commands.pop("hello", None)
