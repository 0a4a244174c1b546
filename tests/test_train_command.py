"""``textgen train PATH...``: a model of a text the project never saw, sized to text and budget."""

import json
import math
import random

import pytest
import yaml
from click.testing import CliRunner

from textgen.cli import cli
from textgen.corpus.resolve import load_text
from textgen.spec.sizing import MIN_CHARS, parameters, size_model

WORDS = ("ferry lantern copper wharf gull tide rope harbour keel mast salt net oar dawn "
         "storm pier beacon anchor hull drift").split()


def made_up_text(seed: int, chars: int) -> str:
    """Sentences of sea words in a random order: a text no corpus of the project holds."""
    rng = random.Random(seed)
    out = []
    while sum(map(len, out)) < chars:
        out.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 11))).capitalize()
                   + (".\n" if rng.random() < 0.3 else ". "))
    return "".join(out)


def test_sizing_reproduces_the_nietzsche_specs():
    fast = size_model(600_000, 15)  # experiments/nietzsche_fast.yaml
    assert (fast.units, fast.seq_len, fast.epochs, fast.dropout) == (512, 64, 15, 0.25)
    assert size_model(600_000, 2).units == 128  # nietzsche_lstm's width for ~2 minutes


def test_sizing_fits_the_text_and_the_budget():
    for chars in (MIN_CHARS, 30_000, 600_000, 50_000_000):
        for minutes in (0.1, 1, 10, 60, 600):
            size = size_model(chars, minutes)
            assert 1 <= size.epochs <= 50 and 8 <= size.seq_len <= 64
            assert size.units == 64 or parameters(size.units) <= 2 * chars
    assert size_model(30_000, 60).units < size_model(3_000_000, 60).units  # more text, wider
    assert size_model(3_000_000, 1).units < size_model(3_000_000, 60).units  # more time, wider


def test_a_spec_corpus_may_list_files_and_folders(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "b.txt").write_text("second\n")
    (tmp_path / "d" / "a.txt").write_text("first")
    (tmp_path / "d" / ".hidden").write_text("skipped")
    (tmp_path / "c.txt").write_text("third")
    assert load_text(path=[str(tmp_path / "d"), str(tmp_path / "c.txt")]) == \
        "first\nsecond\nthird\n"


def test_train_on_a_generated_text(tmp_path):
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "one.txt").write_text(made_up_text(1, 3000), encoding="utf-8")
    (folder / "two.txt").write_text(made_up_text(2, 3000), encoding="utf-8")
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["train", str(folder), "--minutes", "0.25",
                                      "--output-dir", str(out)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert f"Spec:{out / 'spec.yaml'}" in "".join(result.output.split())  # rich wraps lines
    spec = yaml.safe_load((out / "spec.yaml").read_text())
    assert spec["corpus"]["path"] == [str(folder.resolve())]
    assert spec["backbone"]["units"] == 64 and spec["training"]["max_seconds"] == 15.0
    metrics = json.loads((out / "metrics.json").read_text())
    # better than guessing uniformly (an epoch is ~5 updates here; a loaded machine fits few)
    assert metrics["epochs"] >= 1 and metrics["val_bpc"] < math.log2(metrics["vocab_size"])
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 3 and all(len(s["text"]) == 400 for s in samples)
    again = CliRunner().invoke(cli, ["validate", str(out / "spec.yaml")])
    assert again.exit_code == 0, again.output  # the saved spec reruns with `textgen run`


@pytest.mark.parametrize("content, message", [
    (bytes(range(256)) * 8, "looks binary"),
    ("café ".encode("latin-1") * 400, "is not valid UTF-8"),
    (b"", "is empty"),
    (b"a short note", "too short to learn from"),
])
def test_train_refuses_what_is_not_a_usable_text(tmp_path, content, message):
    path = tmp_path / "input.txt"
    path.write_bytes(content)
    result = CliRunner().invoke(cli, ["train", str(path), "--output-dir", str(tmp_path / "run")])
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output
    assert not (tmp_path / "run").exists()


def test_train_names_a_missing_path(tmp_path):
    result = CliRunner().invoke(cli, ["train", str(tmp_path / "nowhere.txt")])
    assert result.exit_code == 2 and "does not exist" in " ".join(result.output.split())
