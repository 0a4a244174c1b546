"""The smoke spec through the command line: every output file, and generate from the saved model."""

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from textgen.cli import cli

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "experiments" / "smoke.yaml"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke") / "run"
    result = CliRunner().invoke(cli, ["run", str(SMOKE), "--output-dir", str(out)],
                                terminal_width=160)
    assert result.exit_code == 0, result.output
    return out


def test_a_run_writes_every_output(run_dir):
    for name in ("spec.yaml", "model.keras", "vocab.json", "history.csv", "metrics.json",
                 "samples.jsonl", "report.md"):
        assert (run_dir / name).is_file(), name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs"] == 2
    assert 0 < metrics["val_bpc"] < 6
    assert metrics["train_seconds"] > 0 and metrics["train_chars_per_second"] > 0
    resolved = yaml.safe_load((run_dir / "spec.yaml").read_text())
    assert resolved["training"]["optimizer"]["learning_rate"] == 0.01  # "1e-2" coerced
    samples = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 4 * 2  # four settings, two samples each
    assert {s["sampler"] for s in samples} == {"greedy", "temperature(0.5)", "temperature(1)",
                                               "uniform"}
    assert all(len(s["text"]) == 60 for s in samples)
    history = (run_dir / "history.csv").read_text().splitlines()
    assert history[0].startswith("epoch,loss,val_bpc") and len(history) == 3
    assert "## Samplers" in (run_dir / "report.md").read_text()


def test_generate_reproduces_the_runs_samples(run_dir):
    samples = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    target = next(s for s in samples if s["sampler"] == "temperature(0.5)")
    args = ["generate", str(run_dir), "--sampler", "temperature", "--temperature", "0.5",
            "--prompt", target["prompt"], "--length", "60", "--seed", str(target["seed"]),
            "--json"]
    first = CliRunner().invoke(cli, args)
    again = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    record = json.loads(first.output.splitlines()[0])
    assert record["text"] == target["text"]
    assert {"prompt", "text", "sampler", "seed"} <= set(record)
    assert first.output == again.output


def test_generate_several_samples_with_seed_plus_index(run_dir):
    args = ["generate", str(run_dir), "--sampler", "temperature", "--temperature", "1.0",
            "--prompt", "the river", "--length", "30", "--num-samples", "3", "--seed", "7",
            "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.splitlines()]
    assert [r["seed"] for r in records] == [7, 8, 9]
    assert len({r["text"] for r in records}) > 1


def test_generate_shows_surprise(run_dir):
    result = CliRunner().invoke(cli, ["generate", str(run_dir), "--sampler", "greedy",
                                      "--prompt", "the ", "--length", "20", "--show",
                                      "surprise"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("the ")


def test_validate_accepts_every_shipped_experiment():
    for spec in sorted((ROOT / "experiments").glob("*.yaml")):
        result = CliRunner().invoke(cli, ["validate", str(spec)])
        assert result.exit_code == 0, (spec, result.output)


def test_the_backbone_comparison_runs_the_two_15_minute_specs():
    """compare_backbones.yaml's entries are nietzsche_fast.yaml and nietzsche_conv.yaml."""
    from textgen.spec import load
    from textgen.spec.comparison import load_comparison

    runs = load_comparison([ROOT / "experiments" / "compare_backbones.yaml"], []).specs
    for run, name in zip(runs, ["nietzsche_fast", "nietzsche_conv"], strict=True):
        alone = load(ROOT / "experiments" / f"{name}.yaml")
        for part in ("backbone", "ngram", "training", "corpus"):
            assert getattr(run, part) == getattr(alone, part), (name, part)
        assert run.seed == alone.seed


def test_a_new_sampler_sweep_reuses_a_trained_model(run_dir, tmp_path):
    spec = yaml.safe_load(SMOKE.read_text())
    spec["generation"]["samplers"] = ["multinomial", {"temperature": 2.0}]
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = tmp_path / "sweep"
    result = CliRunner().invoke(cli, ["run", str(path), "--from-run", str(run_dir),
                                      "--output-dir", str(out)], terminal_width=160)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    trained = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["trained_in"] == str(run_dir)
    assert metrics["val_bpc"] == trained["val_bpc"] and metrics["epochs"] == 2
    assert [s["sampler"] for s in metrics["settings"]] == ["multinomial", "temperature(2)"]
    assert not (out / "checkpoint.keras").exists()  # nothing was trained


def test_prompts_follow_the_corpus_preprocessing(run_dir):
    # tiny is lowercased by its manifest, so "The River" is read as "the river"
    args = ["generate", str(run_dir), "--sampler", "greedy", "--prompt", "The River",
            "--length", "10", "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["prompt"] == "the river"


def test_generate_prints_brackets_as_text_not_markup(tmp_path):
    """A prompt or sample with "[...]" (Nietzsche's text has 87) is printed as written."""
    corpus = tmp_path / "notes.txt"
    corpus.write_text("see the note [see 2] and [/] the river. " * 60)
    spec = yaml.safe_load(SMOKE.read_text())
    spec["corpus"] = {"path": str(corpus), "val_fraction": 0.1}
    spec["training"]["epochs"] = 1
    spec["generation"].update(length=10, samplers=["greedy"])
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    run = CliRunner().invoke(cli, ["run", str(path), "--output-dir", str(tmp_path / "run")])
    assert run.exit_code == 0, run.output
    prompt = "[see 2] and [/] "
    result = CliRunner().invoke(cli, ["generate", str(tmp_path / "run"), "--sampler", "greedy",
                                      "--prompt", prompt, "--length", "10"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(prompt), result.output
