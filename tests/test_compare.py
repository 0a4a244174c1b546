"""textgen compare: comparison files, the outputs, cached vs recomputed conv decoding."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from textgen.cli import cli
from textgen.compare import read_comparison_record
from textgen.generation.timing import recomputed_decoder
from textgen.report.compare import render_markdown
from textgen.spec.comparison import differences, load_comparison, merge
from textgen.spec.errors import SpecError

TINY = """\
name: tiny_compare
base:
  seed: 3
  corpus: {name: tiny}
  training:
    seq_len: 32
    batch_size: 32
    epochs: 1
    optimizer: {name: adam, learning_rate: 1e-2, clipnorm: 1.0}
  evaluation: {context: 16, stride: 64}
  generation:
    length: 20
    prompt_length: 16
    samplers: [greedy, {temperature: 1.0}]
runs:
  - name: lstm
    backbone: {type: lstm, embedding: 8, units: 16}
  - name: conv
    backbone: {type: conv, embedding: 8, filters: 16, kernel_size: 2, dilations: [1, 2, 4]}
benchmark:
  length: 20
  batch_sizes: [1, 4]
  repeats: 1
  prompt_length: 10
  jit_compile: false     # faster to trace; the XLA path is tested below
"""


def write(tmp_path, text, name="compare.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    spec = write(root, TINY)
    result = CliRunner().invoke(cli, ["compare", str(spec), "--output-dir", str(root / "out")])
    assert result.exit_code == 0, result.output
    return root / "out", spec


def test_compare_writes_json_markdown_and_plot_with_a_row_per_model(compared):
    out, _ = compared
    data = json.loads((out / "comparison.json").read_text())
    assert [r["name"] for r in data["runs"]] == ["lstm", "conv"]
    for row in data["runs"]:
        assert (out / row["name"] / "metrics.json").is_file()
        assert row["parameters"] > 0 and row["val_bpc"] > 0
        assert set(row["generation"]) == {"1", "4"}
        assert all(s["chars_per_second"] > 0 for s in row["generation"].values())
        assert [s["sampler"] for s in row["settings"]] == ["greedy", "temperature(1)"]
        assert row["history"] and row["history"][-1]["val_bpc"] == row["val_bpc"]
    lstm, conv = data["runs"]
    assert lstm["recomputed"] is None  # recurrent: nothing to recompute
    assert conv["recomputed"]["window"] == 8 and conv["recomputed"]["same_text"]
    record = read_comparison_record(out)  # the typed record reads what was written
    assert record.version == 1 and record.runs[1].recomputed == conv["recomputed"]
    assert record.runs[0].history[-1].val_bpc == lstm["val_bpc"]
    md = (out / "comparison.md").read_text()
    assert render_markdown(record) == md
    assert "`lstm`" in md and "`conv`" in md and "comparison.png" in md
    assert (out / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_refuses_to_overwrite_and_reuses_finished_runs(compared, tmp_path):
    out, spec = compared
    runner = CliRunner()
    refused = runner.invoke(cli, ["compare", str(spec), "--output-dir", str(out)])
    assert refused.exit_code == 2 and "--reuse" in refused.output
    mtime = (out / "conv" / "model.keras").stat().st_mtime
    quick = write(tmp_path, TINY.replace("batch_sizes: [1, 4]", "batch_sizes: [1]")
                  .replace("  repeats: 1", "  repeats: 1\n  recomputed: false"))
    reused = runner.invoke(cli, ["compare", str(quick), "--output-dir", str(out), "--reuse"])
    assert reused.exit_code == 0, reused.output
    assert (out / "conv" / "model.keras").stat().st_mtime == mtime


def test_cached_and_recomputed_conv_decoding_give_the_same_greedy_text(compared):
    from textgen.generation.engine import Decoder
    from textgen.rundir import load_trained
    from textgen.samplers.build import build_chain

    out, _ = compared
    spec, model, vocab = load_trained(out / "conv")
    text = "the river runs past the mill and under the old stone bridge"
    prompts = np.stack([vocab.encode(text[:40], "skip")[-12:], vocab.encode(text, "skip")[-12:]])
    zeros = np.zeros(2, np.int32)
    cached = Decoder(model, [build_chain("greedy")])(prompts, zeros, zeros, 60).tokens
    recomputed = recomputed_decoder(model, window=8)(prompts, 60)
    np.testing.assert_array_equal(cached, recomputed)
    with pytest.raises(ValueError, match=">= 8"):
        recomputed_decoder(model, window=8)(prompts[:, :5], 10)


json_values = st.recursive(st.integers() | st.text(max_size=3),
                           lambda inner: st.dictionaries(st.sampled_from("abc"), inner, max_size=3),
                           max_leaves=8)


@given(json_values, json_values)
def test_merge_keeps_base_and_lets_the_entry_win(base, over):
    merged = merge(base, over)
    if isinstance(base, dict) and isinstance(over, dict):
        assert set(merged) == set(base) | set(over)
        for key in set(base) - set(over):
            assert merged[key] == base[key]
        for key, value in over.items():
            if not isinstance(value, dict):
                assert merged[key] == value
    else:
        assert merged == over


def test_a_bad_entry_is_named_with_its_run_and_line(tmp_path):
    bad = TINY.replace("backbone: {type: conv, embedding: 8, filters: 16,",
                       "backbone: {type: conv, embedding: 8, filters: -1,")
    with pytest.raises(SpecError) as err:
        load_comparison([write(tmp_path, bad)])
    message = str(err.value)
    assert "runs.1.backbone" in message and "filters" in message and "line 19" in message


def test_comparison_files_are_checked(tmp_path):
    with pytest.raises(SpecError, match="benchmark.repeats"):
        load_comparison([write(tmp_path, TINY.replace("repeats: 1", "repeats: 0"))])
    twice = TINY.replace("- name: conv", "- name: lstm")
    with pytest.raises(SpecError, match="lstm appears more than once"):
        load_comparison([write(tmp_path, twice)])
    plain = write(tmp_path, "name: a\ncorpus: {name: tiny}\n", "plain.yaml")
    with pytest.raises(SpecError, match="give it alone"):
        load_comparison([write(tmp_path, TINY), plain])


def test_plain_specs_compare_and_differences_are_reported(tmp_path):
    a = write(tmp_path, "name: a\nseed: 1\ncorpus: {name: tiny}\n", "a.yaml")
    b = write(tmp_path, "name: b\nseed: 2\ncorpus: {name: tiny}\n", "b.yaml")
    comparison = load_comparison([a, b])
    assert [s.name for s in comparison.specs] == ["a", "b"]
    assert differences(comparison.specs) == ["seed differs: a=1, b=2"]


def test_a_missing_or_damaged_comparison_json_is_a_run_error(tmp_path):
    from textgen.errors import RunError

    with pytest.raises(RunError, match="has no comparison.json"):
        read_comparison_record(tmp_path)
    (tmp_path / "comparison.json").write_text('{"name": "x", "runs": []}')
    with pytest.raises(RunError, match="damaged"):
        read_comparison_record(tmp_path)
