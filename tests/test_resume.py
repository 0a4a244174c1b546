"""Crash safety: a killed run resumes to the result of an uninterrupted one; Ctrl-C stops cleanly
and says how to resume; a diverging epoch is never checkpointed; no temporary file survives."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import pytest
import yaml
from click.testing import CliRunner

from textgen.cli import cli
from textgen.training.callbacks import read_history, read_state

EPOCHS = 8
SPEC = {
    "name": "resume", "seed": 3,
    "corpus": {"name": "tiny", "max_chars": 12000},
    "backbone": {"type": "lstm", "embedding": 8, "units": 16},
    "training": {"seq_len": 32, "batch_size": 16, "epochs": EPOCHS,
                 "optimizer": {"name": "adam", "learning_rate": 1e-2}},
    "evaluation": {"context": 32, "stride": 64},
    "generation": {"length": 20, "num_samples": 1, "samplers": ["greedy"]},
}
RUN_FILES = {"spec.yaml", "vocab.json", "checkpoint.keras", "state.json", "history.csv",
             "model.keras", "samples.jsonl", "metrics.json", "report.md"}


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], terminal_width=200)


AVERAGED = {"training": {**SPEC["training"], "carry_state": True,
                         "optimizer": {**SPEC["training"]["optimizer"], "ema": 0.9}},
            "backbone": {**SPEC["backbone"], "dropout": 0.2, "recurrent_dropout": 0.1}}


@pytest.fixture(scope="module", params=[{}, {"training": {**SPEC["training"], "carry_state": True}},
                                        AVERAGED],
                ids=["windows", "carried-state", "averaged-dropout"])
def spec_file(request, tmp_path_factory) -> Path:
    """The spec as it is; reading the text as streams with the LSTM's state carried over (its
    checkpoint is the state-carrying training model; each epoch starts from zero); and that with
    averaged weights (its checkpoint holds the average as the model's weights, the training
    weights in the optimizer) and dropout (a resumed run draws the masks an uninterrupted one
    would: the checkpoint's state holds where each random stream had got to)."""
    path = tmp_path_factory.mktemp("spec") / "resume.yaml"
    path.write_text(yaml.safe_dump({**SPEC, **request.param}))
    return path


@pytest.fixture(scope="module")
def uninterrupted(spec_file, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("whole") / "run"
    result = invoke("run", spec_file, "--output-dir", out)
    assert result.exit_code == 0, result.output
    return out


def epochs_done(out: Path) -> int:
    path = out / "state.json"  # replaced atomically: always whole when it exists
    return json.loads(path.read_text())["epochs_done"] if path.exists() else 0


def start_and_signal(spec_file: Path, out: Path, sig: int,
                     after: int = 1) -> tuple[int, str, dict]:
    """Start `textgen run` in a subprocess; send ``sig`` once ``after`` epochs are saved."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "from textgen.cli import main; main()", "run", str(spec_file),
         "--output-dir", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while epochs_done(out) < after:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no checkpoint after 120 s"
        time.sleep(0.01)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    return proc.returncode, stderr, json.loads((out / "state.json").read_text())


def squash(text: str) -> str:
    return "".join(text.split())


def same_history(a: Path, b: Path) -> None:
    rows_a, rows_b = read_history(a / "history.csv"), read_history(b / "history.csv")
    assert [r["epoch"] for r in rows_a] == [r["epoch"] for r in rows_b] == list(
        range(1, EPOCHS + 1))
    for key in ("loss", "val_bpc"):
        assert [r[key] for r in rows_a] == pytest.approx([r[key] for r in rows_b], abs=1e-4)


def test_a_killed_run_resumes_to_the_uninterrupted_result(spec_file, uninterrupted, tmp_path):
    out = tmp_path / "run"
    code, _, state = start_and_signal(spec_file, out, signal.SIGKILL, after=2)
    assert code == -signal.SIGKILL
    assert 2 <= state["epochs_done"] < EPOCHS, "killed too late to test anything"
    assert len(read_history(out / "history.csv")) >= state["epochs_done"]
    shutil.copytree(out, tmp_path / "killed")  # for the divergence test below
    # The worst moment to die: after the checkpoint's rename, before state.json's. The
    # checkpoint carries its own state, so the resumed run must not repeat an epoch.
    behind = {**state, "epochs_done": state["epochs_done"] - 1}
    (out / "state.json").write_text(json.dumps(behind))

    result = invoke("resume", out)
    assert result.exit_code == 0, result.output
    same_history(out, uninterrupted)
    whole = json.loads((uninterrupted / "metrics.json").read_text())
    resumed = json.loads((out / "metrics.json").read_text())
    assert resumed["epochs"] == EPOCHS
    assert resumed["val_bpc"] == pytest.approx(whole["val_bpc"], abs=1e-4)
    assert (out / "samples.jsonl").read_text() == (uninterrupted / "samples.jsonl").read_text()
    # SIGKILL may have left a half-written temporary file behind; the finished files are whole.
    assert RUN_FILES <= {p.name for p in out.iterdir()}

    # A divergence after a good epoch keeps that epoch's checkpoint and says so.
    killed = tmp_path / "killed"
    done = state["epochs_done"]
    wild = keras.models.load_model(killed / "checkpoint.keras")
    wild.optimizer.learning_rate.assign(1e6)
    wild.save(killed / "checkpoint.keras")
    good = (killed / "checkpoint.keras").read_bytes()
    result = invoke("run", spec_file, "--resume", killed)
    assert result.exit_code == 0, result.output
    said = squash(result.stdout)  # rich may fold a long path anywhere
    assert squash(f"training diverged in epoch {done + 1}") in said, said
    assert squash(f"Kept the last good checkpoint, from epoch {done} "
                  f"({killed}/checkpoint.keras)") in said, said
    assert (killed / "checkpoint.keras").read_bytes() == good
    assert len(read_history(killed / "history.csv")) == done
    assert json.loads((killed / "metrics.json").read_text())["diverged"].startswith(
        f"training diverged in epoch {done + 1}")


def test_a_run_without_a_checkpoint_resumes_from_the_start(tmp_path):
    assert read_state(tmp_path) == {}


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(spec_file, tmp_path):
    out = tmp_path / "run"
    code, stderr, state = start_and_signal(spec_file, out, signal.SIGINT)
    assert code == 130, stderr
    said = squash(stderr)
    assert "Interrupted." in said and squash(f"textgen resume {out}") in said, said
    assert "Traceback" not in stderr
    assert state["epochs_done"] >= 1
    names = {p.name for p in out.iterdir()}
    assert not [n for n in names if n.startswith(".")], names  # no temporary file survives
    assert len(read_history(out / "history.csv")) == state["epochs_done"]


def test_a_run_leaves_only_whole_files(uninterrupted):
    names = {p.name for p in uninterrupted.iterdir()}
    assert RUN_FILES <= names and not [n for n in names if n.startswith(".")], names
    for name in ("state.json", "metrics.json"):
        json.loads((uninterrupted / name).read_text())
    assert [json.loads(line) for line in (uninterrupted / "samples.jsonl").open()]
    assert json.loads((uninterrupted / "state.json").read_text())["epochs_done"] == EPOCHS
