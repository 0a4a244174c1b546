"""Scaling out: two workers on 127.0.0.1, mirrored resume, mixed precision, streamed samples."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from pydantic import ValidationError

from textgen.cli import cli
from textgen.corpus.prepare import prepare_corpus
from textgen.experiment import build
from textgen.spec.schema import DistributeSpec, Spec
from textgen.training.distribute import (
    DistributeError,
    cluster_config,
    in_float32,
    make_strategy,
    precision,
)
from textgen.training.trainer import train

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "experiments" / "tiny_multiworker.yaml"
DEADLINE = 150  # seconds for both workers; they take about 30-40 on two CPU cores
# Two workers compute the same updates as one process with the same global batch (same data
# order, initial weights and loss weighting), so only float summation order differs: measured
# here, the two bpc agree to 1e-6. A worker training alone on half of each batch (batch 16 in one
# process) or a doubled learning rate ends 0.4 bpc away; 0.02 allows for other CPUs' rounding.
BPC_TOLERANCE = 0.02


def write_spec(folder: Path, **distribute) -> Path:
    data = yaml.safe_load(SPEC.read_text())
    data["training"]["distribute"] = distribute
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def single_run(tmp_path_factory):
    """The two-worker spec trained in one process, by Keras fit."""
    folder = tmp_path_factory.mktemp("single")
    spec = write_spec(folder, strategy="default")
    start = time.monotonic()
    result = CliRunner().invoke(cli, ["run", str(spec), "--output-dir", str(folder / "run")])
    assert result.exit_code == 0, result.output
    print(f"\none worker: {time.monotonic() - start:.1f} s in-process")
    return folder / "run"


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def run_workers(spec: Path, outputs: list[Path], folder: Path) -> list[int]:
    """`textgen run` once per worker, each with its TF_CONFIG; SIGKILLed by the deadline."""
    workers = [f"127.0.0.1:{port}" for port in free_ports(len(outputs))]
    scratch = folder / "tmp"
    scratch.mkdir()
    procs, logs = [], []
    start = time.monotonic()
    try:
        for index, out in enumerate(outputs):
            tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker",
                                                                  "index": index}}
            env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3",
                   "TF_CONFIG": json.dumps(tf_config), "TMPDIR": str(scratch)}
            logs.append(open(folder / f"worker{index}.log", "w"))
            procs.append(subprocess.Popen(
                [sys.executable, "-c", "from textgen.cli import main; main()", "run",
                 str(spec), "--output-dir", str(out)],
                env=env, stdout=logs[-1], stderr=subprocess.STDOUT, cwd=folder))
        codes = [p.wait(timeout=max(1.0, DEADLINE - (time.monotonic() - start)))
                 for p in procs]
    except subprocess.TimeoutExpired:
        codes = None
    finally:
        for p in procs:  # a worker blocked in a collective ignores SIGTERM
            p.kill()
            p.wait()
        for log in logs:
            log.close()
    print(f"two workers: {time.monotonic() - start:.1f} s wall, both processes")
    output = "\n".join((folder / f"worker{i}.log").read_text()[-3000:]
                       for i in range(len(outputs)))
    assert codes is not None, f"the workers did not finish in {DEADLINE} s:\n{output}"
    assert codes == [0] * len(outputs), output
    return codes


def test_two_workers_train_like_one_and_only_the_chief_writes(tmp_path, single_run):
    spec = write_spec(tmp_path, strategy="multi_worker")
    chief, other = tmp_path / "run", tmp_path / "worker1-run"
    run_workers(spec, [chief, other], tmp_path)

    assert not other.exists()  # the non-chief wrote no run directory
    assert list((tmp_path / "tmp").iterdir()) == []  # and removed its scratch checkpoints
    two = json.loads((chief / "metrics.json").read_text())
    one = json.loads((single_run / "metrics.json").read_text())
    print(f"val_bpc: two workers {two['val_bpc']:.6f}, one {one['val_bpc']:.6f}; train "
          f"seconds {two['train_seconds']:.1f} vs {one['train_seconds']:.1f}")
    assert two["epochs"] == one["epochs"] == 3
    assert abs(two["val_bpc"] - one["val_bpc"]) < BPC_TOLERANCE
    assert (chief / "history.csv").read_text().splitlines()[0] == \
        (single_run / "history.csv").read_text().splitlines()[0]

    result = CliRunner().invoke(cli, ["generate", str(chief), "--sampler", "greedy",
                                      "--prompt", "the ", "--length", "20"])
    assert result.exit_code == 0, result.output
    text = result.output.splitlines()[0]
    assert text.startswith("the ") and len(text) == 24


def test_generate_streams_samples_to_jsonl(single_run, tmp_path):
    out = tmp_path / "samples.jsonl"
    args = ["generate", str(single_run), "--sampler", "temperature", "--temperature", "1",
            "--prompt", "the ", "--length", "10", "--batch-size", "64"]
    result = CliRunner().invoke(cli, [*args, "--num-samples", "200", "--output", str(out)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 200
    assert [r["seed"] for r in records] == list(range(200))
    assert all(len(r["text"]) == 10 for r in records)
    printed = CliRunner().invoke(cli, [*args, "--num-samples", "3", "--json"])
    assert [json.loads(line) for line in printed.output.splitlines()] == records[:3]


def test_mirrored_strategy_trains_and_resumes(tmp_path):
    data = yaml.safe_load(SPEC.read_text())
    data["training"].update(epochs=1, distribute={"strategy": "mirrored", "devices": ["/cpu:0"]})
    data["backbone"]["units"] = 16
    spec = Spec(**data)
    strategy = make_strategy(spec.training.distribute)
    corpus = prepare_corpus(spec)
    with strategy.scope():
        model = build(spec, len(corpus.vocab))
    train(spec, model, corpus.train_ids, corpus.scoring_ids, tmp_path, strategy=strategy)
    longer = spec.model_copy(update={"training": spec.training.model_copy(update={"epochs": 2})})
    with strategy.scope():
        model = build(spec, len(corpus.vocab))
    result = train(longer, model, corpus.train_ids, corpus.scoring_ids, tmp_path, resume=True,
                   strategy=strategy)
    assert [row["epoch"] for row in result.history] == [1, 2]
    assert result.history[1]["loss"] < result.history[0]["loss"]


def test_mixed_bfloat16_trains_with_float32_logits():
    spec = Spec(name="bf16", corpus={"name": "tiny"},
                backbone={"type": "lstm", "units": 16, "embedding": 8})
    before = keras.mixed_precision.dtype_policy().name
    with precision("mixed_bfloat16"):
        model = build(spec, 20)
    assert keras.mixed_precision.dtype_policy().name == before  # restored for what follows
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ids = np.random.default_rng(0).integers(0, 20, size=(4, 9))
    loss = model.train_on_batch(ids[:, :-1], ids[:, 1:])
    assert np.isfinite(loss)
    assert model.get_layer("embed").compute_dtype == "bfloat16"
    assert all(w.dtype == "float32" for w in model.trainable_weights)
    assert model(ids[:, :-1]).dtype == "float32"
    copy = in_float32(model, lambda: build(spec, 20))  # what a run saves and generates from
    assert copy.get_layer("embed").compute_dtype == "float32"
    pairs = zip(copy.get_weights(), model.get_weights(), strict=True)
    assert all(np.array_equal(a, b) for a, b in pairs)


def test_distribute_spec_names_what_is_wrong(monkeypatch):
    cases = [({"strategy": "default", "devices": ["/gpu:0"]}, "only for strategy: mirrored"),
             ({"strategy": "mirrored", "workers": ["a:1"], "task_index": 0}, "multi_worker"),
             ({"strategy": "multi_worker", "workers": ["a:1"]}, "together"),
             ({"strategy": "multi_worker", "workers": ["a"], "task_index": 0}, "host:port"),
             ({"strategy": "multi_worker", "workers": ["a:1"], "task_index": 1}, "not an index"),
             ({"strategy": "mirrored", "gpus": 2}, "gpus")]
    for fields, message in cases:
        with pytest.raises(ValidationError, match=message):
            DistributeSpec(**fields)
    spec = DistributeSpec(strategy="multi_worker", workers=["h0:2222", "h1:2222"], task_index=1)
    assert cluster_config(spec) == {"cluster": {"worker": ["h0:2222", "h1:2222"]},
                                    "task": {"type": "worker", "index": 1}}
    monkeypatch.setenv("TF_CONFIG", "{cluster: ")
    with pytest.raises(DistributeError, match="TF_CONFIG is not JSON"):
        make_strategy(DistributeSpec(strategy="multi_worker"))
