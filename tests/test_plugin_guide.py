"""The worked example of docs/plugins.md, built from the page itself: its package, its own tests
(the conformance kit) and a spec that uses it with the plugin distributions under plugins/."""

import json
import re
import sys
import types
from pathlib import Path

import pytest
import tomllib
from click.testing import CliRunner

from textgen.cli import cli
from textgen.plugins import load_registry, set_registry

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "docs" / "plugins.md").read_text()

SPEC = """
name: plugin_spec
seed: 3
corpus: {name: tiny, max_chars: 8000}
backbone: {type: lstm, embedding: 8, units: 16}
training: {seq_len: 24, batch_size: 32, epochs: 1}
evaluation: {context: 24, stride: 64}
generation:
  length: 40
  num_samples: 2
  samplers:
    - top_a: 0.2
    - [{presence_penalty: 1.0}, {top_a: 0.2}, {temperature: 0.8}]
    - [{top_k: 5}, {temperature: 0.7}]
    - top_p: {p: 0.9, min_keep: 2}
    - mirostat: 3.0
    - [{repetition_penalty: 1.3}, greedy]
"""


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE, re.S)


PROJECT = tomllib.loads(blocks("toml")[0])["project"]
MODULE = PROJECT["entry-points"]["textgen"]["topa"]


@pytest.fixture
def guide_plugin(tmp_path, monkeypatch, allow_plugins):
    """Install the guide's example as a distribution on sys.path."""
    package = tmp_path / MODULE
    package.mkdir()
    (package / "__init__.py").write_text(blocks("python")[0])
    info = tmp_path / f"{MODULE}-{PROJECT['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {PROJECT['name']}\nVersion: {PROJECT['version']}\n")
    points = PROJECT["entry-points"]["textgen"]
    (info / "entry_points.txt").write_text(
        "[textgen]\n" + "".join(f"{k} = {v}\n" for k, v in points.items()))
    monkeypatch.syspath_prepend(str(tmp_path))
    allow_plugins(PROJECT["name"])
    set_registry(load_registry())
    yield
    set_registry(None)
    sys.modules.pop(MODULE, None)


def test_the_guide_depends_on_the_distribution_name():
    assert PROJECT["dependencies"] == ["textgen-char"]
    assert "textgen-char" in GUIDE and 'dependencies = ["textgen-char"]' in GUIDE


def test_the_guides_float_parameters_refuse_inf_and_nan():
    module = blocks("python")[0]
    assert module.count("float = Field(") == module.count("allow_inf_nan=False") == 2


def test_the_guides_own_tests_pass(guide_plugin):
    tests = types.ModuleType("test_topa")
    exec(compile(blocks("python")[1], "docs/plugins.md", "exec"), tests.__dict__)
    names = [n for n in vars(tests) if n.startswith("test_")]
    assert len(names) == 3
    for name in names:
        getattr(tests, name)()


def test_the_guide_example_registers_and_runs_in_a_spec(guide_plugin, tmp_path):
    reg = load_registry()
    assert reg.entry("samplers", "top_a").dist == "textgen-topa"
    assert "mean_word_length" in reg.metrics and not [
        f for f in reg.failures if f.dist == "textgen-topa"]
    for name in ("top_k", "top_p", "mirostat", "repetition_penalty"):
        assert name in reg.samplers, f"install plugins/ first: {name} missing"

    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", str(spec), "--output-dir", str(out)],
                                terminal_width=200)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    labels = [s["sampler"] for s in metrics["settings"]]
    assert labels == ["top_a(0.2)", "presence_penalty(1) -> top_a(0.2) -> temperature(0.8)",
                      "top_k(5) -> temperature(0.7)", "top_p(0.9, min_keep=2)",
                      "mirostat(3, 0.1)", "repetition_penalty(1.3) -> greedy"]
    for setting in metrics["settings"]:
        assert "mean_word_length" in setting["metrics"]
    assert "mean_word_length" in result.output
    samples = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 12 and all(len(s["text"]) == 40 for s in samples)
