"""Requests too large for the machine, refused up front or served in bounded memory: long
samples decode in chunks (the same text as in one piece), models too large to train are
refused before they are built, YAML aliases cannot expand without end."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from textgen import spec as specs
from textgen.cli import cli
from textgen.errors import LimitError
from textgen.generation.engine import Decoder
from textgen.generation.sampling import generate, plan_rows
from textgen.records import Sample
from textgen.spec.errors import SpecError
from textgen.spec.loader import load_yaml_with_positions
from textgen.training.memory import check_fits, estimate

V = 11


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], terminal_width=200)


@pytest.fixture(scope="module")
def model():
    import keras

    from textgen.backbones.lstm import LSTMBackbone
    from textgen.model import build_model

    keras.utils.set_random_seed(5)
    return build_model(V, LSTMBackbone(units=16, layers=2), 8)


def _chains():
    from textgen.samplers.build import build_chain

    return [build_chain({"temperature": 0.8}), build_chain("multinomial")]


def test_chunked_decoding_gives_the_ids_of_one_piece(model):
    decoder = Decoder(model, _chains(), threads=2)
    rng = np.random.default_rng(1)
    prompt, setting, seeds = rng.integers(0, V, (16, 4)), np.arange(16) % 2, np.arange(16) + 9
    whole = decoder(prompt, setting, seeds, 45)
    pieces = list(decoder.stream(prompt, setting, seeds, 45, chunk=8))
    assert [p.tokens.shape[1] for p in pieces] == [8] * 5 + [5]
    np.testing.assert_array_equal(np.concatenate([p.tokens for p in pieces], 1), whole.tokens)
    np.testing.assert_allclose(np.concatenate([p.token_logprob for p in pieces], 1),
                               whole.token_logprob, atol=1e-5)


def test_generate_in_chunks_gives_the_same_samples(model):
    from textgen.corpus.vocab import CharVocab

    vocab = CharVocab(list("abcdefghij "))
    chains = _chains()
    rows = plan_rows(["abc ", "hij"], len(chains), 2, seed=3, coupled=False)
    decoder = Decoder(model, chains)
    one = generate(model, vocab, chains, rows, 40, decoder=decoder)
    chunked = generate(model, vocab, chains, rows, 40, decoder=decoder, steps=7)
    assert [s.text for s in chunked] == [s.text for s in one]
    assert all(len(s.text) == 40 for s in one)


def test_a_length_beyond_the_cap_is_refused_up_front(tiny_run):
    start = time.monotonic()
    result = invoke("generate", tiny_run, "--length", 1_000_000_000)
    assert result.exit_code == 2, result.output
    assert "--length 1,000,000,000" in result.output and "10,000,000" in result.output
    assert time.monotonic() - start < 60  # refused before any decoding
    result = invoke("generate", tiny_run, "--length", 2_000_000, "--json")
    assert result.exit_code == 2 and "1,000,000" in result.output, result.output


def test_a_long_sample_streams_the_text_its_record_holds(tiny_run):
    args = ["generate", tiny_run, "--prompt", "the river", "--length", 2500, "--seed", 4,
            "--sampler", "temperature: 0.9"]
    streamed = invoke(*args)
    record = invoke(*args, "--json")
    assert streamed.exit_code == 0 and record.exit_code == 0, streamed.output + record.output
    sample = Sample.from_json(json.loads(record.stdout))
    assert len(sample.text) == 2500 and sample.sampler_config == [
        {"temperature": {"temperature": 0.9}}]
    assert streamed.stdout == "the river" + sample.text + "\n\n"


def test_generate_json_is_the_record_of_samples_jsonl(tiny_run):
    saved = json.loads((tiny_run / "samples.jsonl").read_text().splitlines()[-1])
    again = invoke("generate", tiny_run, "--prompt", saved["prompt"], "--seed", saved["seed"],
                   "--length", saved["length"], "--json",
                   *[a for stage in saved["sampler_config"]
                     for a in ("--sampler", json.dumps(stage))])
    assert again.exit_code == 0, again.output
    record = json.loads(again.stdout)
    assert set(record) == set(saved)
    assert {k: record[k] for k in ("text", "sampler", "sampler_config", "seed")} == {
        k: saved[k] for k in ("text", "sampler", "sampler_config", "seed")}


SMALL = """
name: small
corpus: {name: tiny}
backbone: {type: lstm, units: 32}
"""


def test_a_model_too_large_for_memory_is_refused_naming_the_field(tmp_path):
    spec = specs.loads(SMALL.replace("units: 32", "units: 100000"))
    need, count, field = estimate(spec, 40)
    assert field == "backbone.units" and count > 4 * 100_000**2
    with pytest.raises(LimitError, match="backbone.units: 100000"):
        check_fits(spec, 40, available=need - 1)
    check_fits(spec, 40, available=need)  # what fits is let through
    check_fits(specs.loads(SMALL), 40)    # the everyday case, on this machine
    path = tmp_path / "big.yaml"
    path.write_text(SMALL.replace("units: 32", "units: 100000"))
    result = invoke("run", path, "--output-dir", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert "backbone.units" in result.output and "GiB" in result.output
    assert not (tmp_path / "out").exists()  # refused before anything was written


def _laughs(levels: int = 9) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"[:levels - 1], strict=False):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_yaml_billion_laughs_is_refused_quickly(tmp_path):
    text = _laughs()
    assert len(text) < 400
    start = time.monotonic()
    with pytest.raises(SpecError, match="expands to more than"):
        load_yaml_with_positions(text, "laughs.yaml")
    assert time.monotonic() - start < 1.0
    path = tmp_path / "laughs.yaml"
    path.write_text(text)
    start = time.monotonic()
    result = invoke("validate", path)
    assert result.exit_code == 2 and "billion laughs" in result.output, result.output
    assert time.monotonic() - start < 1.0
    assert yaml.safe_load(_laughs(2))  # a few aliases are fine
    load_yaml_with_positions(_laughs(3), "few.yaml")
