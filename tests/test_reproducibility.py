"""Reproducibility: the same spec and seed give the same numbers and the same text, and
`textgen generate` re-creates a run's own samples from their recorded seeds and settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from textgen import spec as specs
from textgen.cli import cli

SMOKE = Path(__file__).resolve().parents[1] / "experiments" / "smoke.yaml"


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], terminal_width=200)


def results(run_dir: Path) -> dict:
    return {"metrics": json.loads((run_dir / "metrics.json").read_text()),
            "history": (run_dir / "history.csv").read_text(),
            "samples": [json.loads(line) for line in (run_dir / "samples.jsonl").open()]}


@pytest.fixture(scope="module")
def twice(tmp_path_factory) -> tuple[dict, dict, Path]:
    """The smoke spec run twice into the same directory (the second with --overwrite)."""
    out = tmp_path_factory.mktemp("smoke") / "run"
    first = invoke("run", SMOKE, "--output-dir", out)
    assert first.exit_code == 0, first.output
    before = results(out)
    second = invoke("run", SMOKE, "--output-dir", out, "--overwrite")
    assert second.exit_code == 0, second.output
    return before, results(out), out


def test_the_same_spec_and_seed_give_the_same_bpc_and_samples(twice):
    a, b, _ = twice
    assert a["metrics"]["val_bpc"] == pytest.approx(b["metrics"]["val_bpc"], abs=1e-6)
    losses = [[line.split(",")[1:3] for line in run["history"].splitlines()[1:]]
              for run in (a, b)]
    assert losses[0] == losses[1]
    texts = [[(s["sampler"], s["seed"], s["prompt"], s["text"]) for s in run["samples"]]
             for run in (a, b)]
    assert texts[0] == texts[1]


def test_generate_reproduces_every_sample_of_the_run(twice):
    _, run, out = twice
    spec = specs.load(out / "spec.yaml")
    for k, setting in enumerate(spec.generation.samplers):
        own = sorted((s for s in run["samples"] if s["setting"] == k), key=lambda s: s["seed"])
        assert own and all(s["sampler"] == own[0]["sampler"] for s in own)
        assert [s["seed"] for s in own] == list(range(own[0]["seed"], own[0]["seed"] + len(own)))
        stages = setting if isinstance(setting, list) else [setting]
        args = [a for stage in stages for a in ("--sampler", json.dumps(stage))]
        result = invoke("generate", out, *args, "--prompt", own[0]["prompt"],
                        "--seed", own[0]["seed"], "--num-samples", len(own),
                        "--length", spec.generation.length, "--json")
        assert result.exit_code == 0, result.output
        again = [json.loads(line) for line in result.stdout.splitlines()]
        assert [(r["sampler"], r["seed"], r["text"]) for r in again] == [
            (s["sampler"], s["seed"], s["text"]) for s in own]
