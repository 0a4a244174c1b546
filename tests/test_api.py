"""The Python API: load a run, generate (the CLI's texts), score, inspect, stage objects, errors."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import textgen
from textgen.cli import cli
from textgen.errors import PromptError, RunError, TextgenError, UnknownNameError

CHAIN = [{"top_k": 8}, {"temperature": 0.7}]


@pytest.fixture(scope="module")
def model(tiny_run):
    return textgen.load(tiny_run)


def cli_json(args):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


def test_import_textgen_stays_light():
    code = "import sys, textgen; assert 'tensorflow' not in sys.modules; print(textgen.load)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "function load" in out.stdout


def test_generate_gives_the_clis_records(model, tiny_run):
    records = cli_json(["generate", str(tiny_run), "--prompt", "the river", "--sampler", "top_k: 8",
                        "--sampler", "temperature: 0.7", "--length", "40", "--num-samples", "3",
                        "--seed", "5", "--json"])
    samples = model.generate("the river", sampler=CHAIN, length=40, n=3, seed=5)
    assert [s.text for s in samples] == [r["text"] for r in records]
    assert [s.seed for s in samples] == [5, 6, 7]
    for sample, record in zip(samples, records, strict=True):
        own = sample.to_json()
        assert {k: own[k] for k in record} == record


def test_sampler_forms_agree(model):
    by_spec = model.generate("the ", sampler=CHAIN, length=30, seed=1)[0].text
    stages = [textgen.sampler("top_k", k=8), textgen.sampler("temperature", temperature=0.7)]
    assert model.generate("the ", sampler=stages, length=30, seed=1)[0].text == by_spec
    greedy = model.generate("the ", sampler="greedy", length=30)[0].text
    assert model.generate("the ", sampler=["greedy"], length=30, seed=9)[0].text == greedy
    assert model.generate("The ", sampler="greedy", length=30)[0].prompt == "the "  # lowercased


def test_the_compiled_decoder_is_kept_per_chain(model):
    model.generate("the ", sampler=CHAIN, length=10)
    before = dict(model._decoders)
    model.generate("a ", sampler=[{"top_k": 8}, {"temperature": 0.7}], length=10, seed=3)
    assert model._decoders == before


def test_distributions_follow_the_chain_and_draw_generates_text(model):
    sample = model.generate("the river", sampler=CHAIN, length=25, seed=4)[0]
    seen = model.distributions("the river", sampler=CHAIN, steps=25, seed=4)
    assert seen.text == sample.text
    assert [label for label, _ in seen.steps[0].stages] == ["top_k(8)", "temperature(0.7)"]
    for step in seen.steps:
        top_k, temp = (p for _, p in step.stages)
        assert np.count_nonzero(top_k) <= 8
        assert np.allclose([step.model.sum(), top_k.sum(), temp.sum()], 1, atol=1e-5)
        assert set(np.flatnonzero(temp)) <= set(np.flatnonzero(top_k))
        assert temp[seen.vocab.index(step.char)] > 0  # the draw was allowed by the last stage
    drawn = [step.model[seen.vocab.index(step.char)] for step in seen.steps]
    assert np.allclose(drawn, np.exp(sample.token_logprob), atol=1e-4)  # the model's own p
    assert np.allclose([s.model_entropy for s in seen.steps], sample.model_entropy, atol=1e-3)
    data = seen.to_json(top=3)
    assert len(data["steps"]) == 25 and len(data["steps"][0]["stages"][0]["probs"]) == 3


def test_score_matches_the_generators_own_log_probabilities(model):
    sample = model.generate("the river", sampler="multinomial", length=30, seed=2)[0]
    scored = model.score(sample.prompt + sample.text)
    continuation = np.array(scored.surprise[len(sample.prompt):])
    assert np.allclose(continuation, -np.array(sample.token_logprob) / math.log(2), atol=1e-3)
    assert math.isnan(scored.surprise[0]) and len(scored.surprise) == len(scored.text)
    assert scored.bpc == pytest.approx(np.mean(scored.surprise[1:]))
    both = model.score(["the river", "a town by the river"])
    assert both[0].bpc == pytest.approx(model.score("the river").bpc, abs=1e-5)


def test_a_stage_works_alone_on_numpy():
    out = textgen.sampler("top_k", k=2)(np.array([[1.0, 3.0, 2.0, 0.0]], np.float32))
    assert isinstance(out, np.ndarray)
    assert np.isneginf(out[0, [0, 3]]).all() and np.isfinite(out[0, [1, 2]]).all()


def test_errors_are_textgen_errors_with_the_clis_messages(model, tiny_run):
    with pytest.raises(UnknownNameError) as api_err:
        model.generate("the ", sampler="top_z")
    result = CliRunner().invoke(cli, ["generate", str(tiny_run), "--sampler", "top_z",
                                      "--prompt", "the "])
    assert result.exit_code == 2 and str(api_err.value).split(".")[0] in result.output
    with pytest.raises(PromptError, match="never saw"):
        model.generate("日本", sampler="greedy")
    with pytest.raises(PromptError, match="never saw"):
        model.score("日本語")
    with pytest.raises(TextgenError, match="top_k"):
        textgen.sampler("top_k", k=0)
    with pytest.raises(RunError, match="not a textgen run directory"):
        textgen.load(tiny_run.parent / "nowhere")


def test_run_from_python_with_overrides(tmp_path):
    from conftest import SMOKE_SPEC

    result = textgen.run(SMOKE_SPEC, overrides={"training.epochs": 1,
                                                "generation.samplers": ["greedy"]},
                         output_dir=tmp_path / "run")
    assert result.run_dir == tmp_path / "run" and result.metrics.epochs == 1
    assert {s.sampler for s in result.samples} == {"greedy"}
    assert result.spec.training.epochs == 1
    with pytest.raises(TextgenError, match=r"--set training.epochs=0: training.epochs"):
        textgen.run(SMOKE_SPEC, overrides=["training.epochs=0"], output_dir=tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_stop_strings_end_samples_as_the_cli_does(model, tiny_run):
    records = cli_json(["generate", str(tiny_run), "--prompt", "the river", "--sampler",
                        "temperature: 0.8", "--length", "60", "--num-samples", "3", "--seed", "1",
                        "--stop", " ", "--json"])
    samples = model.generate("the river", sampler={"temperature": 0.8}, length=60, n=3, seed=1,
                             stop=[" "])
    assert [s.text for s in samples] == [r["text"] for r in records]
    assert all(" " not in s.text for s in samples)
