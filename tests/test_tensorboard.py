"""TensorBoard logs (``report.tensorboard`` / ``--tensorboard``), read back from the event files;
and generation speed that counts steady-state decoding, with the compile reported apart."""

import json
import time

import pytest
from click.testing import CliRunner

from textgen.cli import cli
from textgen.generation.timing import CompileTimer

pytest.importorskip("tensorboard")


def events(log_dir):
    """{tag: [(step, value)]} of every scalar and text summary under ``log_dir``."""
    import tensorflow as tf
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = {}
    for sub in sorted(p for p in log_dir.iterdir() if p.is_dir()):
        acc = EventAccumulator(str(sub), size_guidance={"tensors": 0, "scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["tensors"]:
            out[f"{sub.name}/{tag}"] = [(e.step, tf.make_ndarray(e.tensor_proto).item())
                                        for e in acc.Tensors(tag)]
    return out


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory):
    from conftest import SMOKE_SPEC

    out = tmp_path_factory.mktemp("tb") / "run"
    result = CliRunner().invoke(cli, ["run", SMOKE_SPEC, "--output-dir", str(out),
                                      "--tensorboard", "--set", "generation.length=30"])
    assert result.exit_code == 0, result.output
    return out


def test_tensorboard_logs_loss_bpc_rate_and_samples(logged_run):
    tags = events(logged_run / "tensorboard")
    assert [step for step, _ in tags["train/epoch_loss"]] == [0, 1]
    bpc = tags["textgen/held_out/val_bpc"]
    history = (logged_run / "history.csv").read_text().splitlines()
    column = history[0].split(",").index("val_bpc")
    assert [v for _, v in bpc] == pytest.approx([float(r.split(",")[column])
                                                 for r in history[1:]], rel=1e-5)
    assert [v for _, v in tags["textgen/learning_rate"]] == pytest.approx([0.01, 0.01])
    samples = {t: v for t, v in tags.items() if t.startswith("textgen/samples/")}
    assert sorted(samples) == ["textgen/samples/0_greedy", "textgen/samples/1_temperature_0.5",
                               "textgen/samples/2_temperature_1", "textgen/samples/3_uniform"]
    prompt = json.loads((logged_run / "samples.jsonl").read_text().splitlines()[0])["prompt"]
    for values in samples.values():
        assert [step for step, _ in values] == [0, 1]
        assert values[-1][1].decode().replace("\n    ", "\n").strip().startswith(prompt.strip())
    metrics = json.loads((logged_run / "metrics.json").read_text())
    assert tags["textgen/generation/compile_seconds"][0][1] == pytest.approx(
        metrics["generation_compile_seconds"], rel=1e-5)


def test_tensorboard_is_off_by_default(tiny_run):
    assert not (tiny_run / "tensorboard").exists()


def test_generation_speed_counts_decoding_only(tiny_run):
    m = json.loads((tiny_run / "metrics.json").read_text())
    decoding = m["generation_seconds"] - m["generation_compile_seconds"]
    assert 0 < m["generation_compile_seconds"] < m["generation_seconds"]
    chars = 4 * 2 * 60  # smoke: four settings, two samples each, 60 characters
    assert m["generation_chars_per_second"] == pytest.approx(chars / decoding, rel=1e-6)


class SlowFirstDecoder:
    """A decoder whose first call per shape takes ``compile`` seconds longer."""

    def __init__(self, compile: float, decode: float) -> None:
        self.compile, self.decode, self.seen = compile, decode, set()
        self.calls = 0

    def __call__(self, prompt_ids, setting, seeds, length):
        self.calls += 1
        shape = (len(prompt_ids), length)
        time.sleep(self.decode + (self.compile if shape not in self.seen else 0.0))
        self.seen.add(shape)
        return shape


def test_compile_timer_separates_compiling_from_decoding():
    inner = SlowFirstDecoder(compile=0.3, decode=0.02)
    timer = CompileTimer(inner)
    for rows in (8, 8, 8, 16):
        assert timer([[0]] * rows, None, None, 5) == (rows, 5)
    assert timer.compile_seconds() == pytest.approx(0.6, abs=0.08)
    assert inner.calls == 5  # one warm call measured for the shape seen once (16 rows)
    assert timer.seen == {(8, 5), (16, 5)}  # anything else is the decoder's own
