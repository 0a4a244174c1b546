"""One error base for user mistakes (exit 2, one paragraph), anything else reported as a bug
(exit 1, --debug for the traceback); the typed records read files written before them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from textgen import rundir
from textgen.cli import cli
from textgen.errors import (
    CorpusError,
    LimitError,
    PluginError,
    PromptError,
    RunError,
    TextgenError,
    UnknownNameError,
    out_of_memory,
)
from textgen.records import METRICS_VERSION, RunMetrics, Sample
from textgen.spec.errors import SpecError

ROOT = Path(__file__).resolve().parents[1]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], terminal_width=200)


def said(result) -> str:
    """What a command printed, with the terminal's line wrapping undone."""
    return " ".join(result.output.split())


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    return Path(shutil.copytree(tiny_run, tmp_path / "run"))


def test_every_user_error_is_a_textgen_error():
    for kind in (SpecError, CorpusError, RunError, PluginError, UnknownNameError, PromptError,
                 LimitError):
        assert issubclass(kind, TextgenError), kind
    assert issubclass(UnknownNameError, LookupError) and issubclass(CorpusError, ValueError)


@pytest.mark.parametrize("bug, shown", [
    (KeyError("settings"), "KeyError: 'settings'"),
    # TensorFlow's "in user code:" puts the error itself on the last line
    (TypeError("in user code:\n\n    File x.py, line 3\n\n    TypeError: bad operand"),
     "TypeError: in user code: ... TypeError: bad operand"),
], ids=["one line", "traced function"])
def test_a_bug_is_reported_as_one_and_exits_1(run_copy, monkeypatch, bug, shown):
    def broken(run_dir):
        raise bug

    monkeypatch.setattr(rundir, "load_metrics", broken)
    result = invoke("report", run_copy)
    assert result.exit_code == 1, result.output
    assert f"this is a bug in textgen or a plugin: {shown}" in said(result)
    assert "--debug" in said(result) and "Traceback" not in said(result)
    debug = invoke("report", run_copy, "--debug")
    assert isinstance(debug.exception, type(bug))


def test_out_of_memory_names_the_knobs(run_copy, monkeypatch):
    import tensorflow as tf

    def exhausted(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")

    monkeypatch.setattr("textgen.generation.engine.Decoder.__call__", exhausted)
    result = invoke("generate", run_copy, "--prompt", "the", "--length", 5)
    assert result.exit_code == 2, result.output
    for knob in ("batch_size", "seq_len", "backbone.units", "--length", "OOM"):
        assert knob in said(result), knob
    assert out_of_memory(ValueError("x")) is None


def test_a_damaged_vocabulary_is_a_run_error(run_copy):
    (run_copy / "vocab.json").write_text("{not json")
    result = invoke("generate", run_copy, "--length", 5)
    assert result.exit_code == 2, result.output
    assert "vocab.json is damaged or not from textgen" in said(result)


def test_validate_checks_comparison_files(tmp_path):
    result = invoke("validate", ROOT / "experiments" / "compare_backbones.yaml")
    assert result.exit_code == 0, result.output
    assert "comparison" in said(result) and "runs" in said(result)
    bad = tmp_path / "bad.yaml"
    bad.write_text("base: {corpus: {name: tiny}}\nruns:\n  - {name: a, training: {epochs: 0}}\n")
    result = invoke("validate", bad)
    assert result.exit_code == 2, result.output
    assert "runs.0.training.epochs (line 3)" in said(result)


def test_records_from_before_their_versions_still_read(run_copy):
    metrics = json.loads((run_copy / "metrics.json").read_text())
    assert metrics["version"] == METRICS_VERSION
    del metrics["version"]
    for setting in metrics["settings"]:
        del setting["sampler_config"]
    (run_copy / "metrics.json").write_text(json.dumps(metrics))
    old = [{k: v for k, v in json.loads(line).items() if k not in ("sampler_config", "length")}
           for line in (run_copy / "samples.jsonl").read_text().splitlines()]
    (run_copy / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in old))
    loaded = rundir.load_metrics(run_copy)
    assert isinstance(loaded, RunMetrics) and loaded.settings[0].sampler_config is None
    samples = rundir.load_samples(run_copy)
    assert all(isinstance(s, Sample) and s.sampler_config == [] for s in samples)
    assert [s.text for s in samples] == [r["text"] for r in old]
    result = invoke("report", run_copy)
    assert result.exit_code == 0, result.output
