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
from textgen.errors import PluginError, UnknownNameError
from textgen.hookspecs import hookimpl
from textgen.plugins import load_registry, registry, set_registry
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
def site(tmp_path, monkeypatch, allow_plugins):
    monkeypatch.syspath_prepend(str(tmp_path))
    allow_plugins("tg-good", "tg-broken", "tg-future", "tg-dupe", "tg-typo", "tg-env",
                  "tg-empty", "tg-bad")
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


# --- issue 14: a plugin author's mistakes are reported by name, with what to change ----------
def test_a_hook_name_typo_suggests_the_hook_and_shows_up_where_the_name_is_used(site):
    fake_distribution(site, "tg-typo", "tgfake_typo", """
        from textgen.hookspecs import hookimpl
        from textgen.samplers.builtin import UniformSampler

        class TopA(UniformSampler):
            pass

        @hookimpl
        def register_sampler(register):   # no such hook
            register("top_a", TopA)
    """, ["typo = tgfake_typo"])
    reg = load_registry()
    (failure,) = [f for f in reg.failures if f.plugin == "typo"]
    assert "did you mean 'register_samplers'" in failure.error
    with pytest.raises(UnknownNameError) as info:
        reg.sampler("top_a")
    message = str(info.value)
    assert "Skipped plugins" in message and "typo" in message and "register_samplers" in message


def test_a_module_that_registers_nothing_is_a_plugin_with_no_hooks(site):
    fake_distribution(site, "tg-empty", "tgfake_empty", """
        def register_samplers(register):   # @hookimpl forgotten
            pass
    """, ["empty = tgfake_empty"])
    (failure,) = [f for f in load_registry().failures if f.plugin == "empty"]
    assert "provides no hooks" in failure.error and "not marked @hookimpl" in failure.error


def test_bad_registrations_are_reported_like_a_broken_plugin(site):
    fake_distribution(site, "tg-bad", "tgfake_bad", """
        from textgen.hookspecs import hookimpl
        from textgen.samplers.builtin import UniformSampler

        class Named(UniformSampler):
            name = "something_else"

        class Fine(UniformSampler):
            pass

        @hookimpl
        def register_samplers(register):
            register("lam", lambda logits: logits)
            register("inst", Fine())
            register("Top A", Fine)
            register("named", Named)
            register("fine", Fine)
            register("fine_again", Fine)   # one class, one name
    """, ["bad = tgfake_bad"])
    reg = load_registry()
    errors = {f.names: f.error for f in reg.failures if f.plugin == "bad"}
    assert "Sampler subclass" in errors[("lam",)] and "function" in errors[("lam",)]
    assert "Sampler subclass" in errors[("inst",)]
    assert "lowercase identifier" in errors[("Top A",)]
    assert "something_else" in errors[("named",)]
    assert "already has the name 'fine'" in errors[("fine_again",)]
    assert reg.sampler("fine").name == "fine"
    with pytest.raises(UnknownNameError, match="'lam' was not registered: plugin 'bad'"):
        reg.sampler("lam")


def test_strict_mode_makes_a_skipped_plugin_an_error(site, monkeypatch):
    fake_distribution(site, "tg-broken", "tgfake_broken", "raise ImportError('no numpy 9')",
                      ["broken = tgfake_broken"])
    set_registry(None)
    try:
        relaxed = CliRunner().invoke(cli, ["plugins"], terminal_width=60)
        assert relaxed.exit_code == 0 and "no numpy 9" in relaxed.output
        strict = CliRunner().invoke(cli, ["--strict-plugins", "plugins"], terminal_width=60)
        assert strict.exit_code == 2, strict.output
        assert "strict plugin mode" in strict.output and "no numpy 9" in strict.output
        with pytest.raises(PluginError, match="broken"):
            registry()
    finally:
        set_registry(None)
        monkeypatch.delenv("TEXTGEN_STRICT_PLUGINS", raising=False)


def test_plugins_lists_built_in_metrics_and_says_so_in_its_help():
    set_registry(None)
    try:
        listing = CliRunner().invoke(cli, ["plugins", "--json"])
        helped = CliRunner().invoke(cli, ["plugins", "--help"])
    finally:
        set_registry(None)
    metrics = {e["name"] for e in json.loads(listing.output)["metrics"]}
    assert {"distinct_2", "sample_nll_bpc"} <= metrics
    helped_text = " ".join(helped.output.split())
    assert "metrics" in helped_text and "failed to load" in helped_text


def test_a_checkout_without_package_metadata_still_has_the_builtins(monkeypatch):
    import importlib.metadata as md

    monkeypatch.setattr(md, "entry_points", lambda **kw: [])
    reg = load_registry()
    assert {"lstm", "conv"} <= set(reg.backbones) and BUILTIN_SAMPLERS <= set(reg.samplers)
    assert reg.backbone_params("lstm")().units == 128


def test_the_distribution_is_textgen_char_and_the_plugins_depend_on_it():
    from pathlib import Path

    import tomllib

    root = Path(__file__).resolve().parents[1]
    assert tomllib.loads((root / "pyproject.toml").read_text())["project"]["name"] == (
        "textgen-char")
    for path in root.glob("plugins/*/pyproject.toml"):
        deps = tomllib.loads(path.read_text())["project"]["dependencies"]
        assert "textgen-char" in deps and "textgen" not in deps, path


def test_from_run_says_it_still_reads_the_corpus():
    text = " ".join(CliRunner().invoke(cli, ["run", "--help"]).output.split())
    assert "--from-run" in text and "corpus is still read" in text
