"""End to end: a tiny coupled run with ``report.compare`` writes the new columns, the held-out
row and the paired differences into metrics.json, the tables and report.md (issue 19)."""

import io
import json
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from textgen import rundir
from textgen.metrics import SAMPLE_KEYS
from textgen.spec import loads as load_text
from textgen.spec.errors import SpecError

ROOT = Path(__file__).resolve().parents[1]
NEW = ("copy_rate", "longest_copy", "zipf_slope", "self_bleu", "judge_bpc")


def _spec(**report):
    data = yaml.safe_load((ROOT / "experiments" / "smoke.yaml").read_text())
    data["generation"].update(coupled=True, prompts=2, samplers=[
        "greedy", {"temperature": 0.8}, {"temperature": 0.8}, "uniform"])
    data["report"] = {"reference_pieces": 6, "judge_order": 4, **report}
    return yaml.safe_dump(data)


@pytest.fixture(scope="module")
def paired(tmp_path_factory):
    from textgen.experiment import run

    spec = load_text(_spec(compare={"baseline": {"temperature": 0.8}}))
    out = io.StringIO()
    run_dir = tmp_path_factory.mktemp("paired") / "run"
    metrics = run(spec, run_dir, Console(file=out, width=120))
    return run_dir, metrics, out.getvalue()


def test_metrics_json_has_new_columns_reference_row_and_pairs(paired):
    run_dir, metrics, _ = paired
    saved = json.loads((run_dir / rundir.METRICS).read_text())
    for setting in saved["settings"]:
        assert set(NEW) <= set(setting["metrics"])
    reference = saved["reference"]
    assert reference["sampler"] == "held-out text" and reference["samples"] == 6
    assert set(SAMPLE_KEYS) <= set(reference["metrics"])
    assert reference["metrics"]["sampling_entropy"] == [None, None, None]  # no sampler drew it
    assert reference["metrics"]["model_entropy"][0] > 0
    assert [(c["setting_index"], c["baseline_index"]) for c in saved["comparisons"]] == [
        (0, 1), (2, 1), (3, 1)]
    same = saved["comparisons"][1]  # temperature 0.8 twice: identical samples, zero difference
    assert same["pairs"] == 4
    for key, interval in same["difference"].items():
        assert interval in ([0.0, 0.0, 0.0], [None, None, None]), key
    assert saved["metrics_seconds"] > 0


def test_tables_and_report_show_the_reference_row_and_pairs(paired):
    run_dir, _, shown = paired
    report = (run_dir / rundir.REPORT).read_text()
    for text in (shown, report):
        assert "held-out text (6 × 60 chars)" in text
        assert "Paired differences against temperature(0.8)" in text
        assert "judge bpc" in text and "self-BLEU" in text and "longest copy" in text
    paired = report.split("## Paired differences\n")[1].split("### Invented")[0]
    assert " *" in paired  # uniform differs from temperature 0.8 somewhere


def test_compare_needs_coupled_noise_and_known_settings():
    with pytest.raises(SpecError, match="report.compare needs generation.coupled"):
        data = yaml.safe_load(_spec(compare={"baseline": 1}))
        data["generation"]["coupled"] = False
        load_text(yaml.safe_dump(data))
    with pytest.raises(SpecError, match=r"report.compare.baseline: .*temperature.*0\.3"):
        load_text(_spec(compare={"baseline": {"temperature": 0.3}}))
    with pytest.raises(SpecError, match=r"report.compare.pairs.0.1: index 9 is out of range"):
        load_text(_spec(compare={"pairs": [["greedy", 9]]}))
    spec = load_text(_spec(compare={"pairs": [["uniform", "greedy"], [2, "temperature(0.8)"]]}))
    assert spec.compare_pairs() == [(3, 0), (2, 1)]
