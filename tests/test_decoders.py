"""Beam search, stochastic beam search and stop strings through ``generate`` on a small LSTM:
beam width 1 is greedy, the n best are distinct with the full model's log-probs, rows are
independent, and unequal lengths flow into the metrics."""

from __future__ import annotations

import numpy as np
import pytest

from textgen.corpus.vocab import CharVocab
from textgen.generation.sampling import Row, generate, plan_rows
from textgen.metrics.summary import setting_metrics
from textgen.samplers.build import build_chain

VOCAB = CharVocab("abcdefgh .")


@pytest.fixture(scope="module")
def model():
    import keras

    from textgen.backbones.lstm import LSTMBackbone
    from textgen.model import build_model

    keras.utils.set_random_seed(5)
    model = build_model(len(VOCAB), LSTMBackbone(units=16, layers=2), 8)
    head = model.get_layer("head")
    head.kernel.assign(head.kernel * 12.0)  # peaked distributions: no near-ties
    return model


def full_logprobs(model, prompt: str, text: str) -> np.ndarray:
    """ln p of each character of ``text`` after ``prompt`` under one full forward pass."""
    import tensorflow as tf

    ids = VOCAB.encode(prompt + text)
    logits = model(ids[None, :-1]).numpy()[0, len(prompt) - 1:]
    logp = tf.nn.log_softmax(logits).numpy()
    return logp[np.arange(len(text)), VOCAB.encode(text)]


def run(model, settings, rows, length=24, **kw):
    return generate(model, VOCAB, [build_chain(s) for s in settings], rows, length, **kw)


def test_beam_width_one_is_greedy(model):
    rows = plan_rows(["ab", "h."], 2, 1, seed=0, coupled=True)
    greedy, beam = [s for s in run(model, ["greedy", {"beam": 1}], rows)], None
    beam = [s for s in greedy if s.setting == 1]
    greedy = [s for s in greedy if s.setting == 0]
    assert [s.text for s in beam] == [s.text for s in greedy]
    np.testing.assert_allclose([sum(s.token_logprob) for s in beam],
                               [sum(s.token_logprob) for s in greedy], rtol=1e-5)


def test_the_n_best_are_distinct_ranked_and_scored_by_the_full_model(model):
    rows = plan_rows(["abc", "gh"], 2, 3, seed=0, coupled=True)
    samples = run(model, ["greedy", {"beam": {"width": 4}}], rows)
    greedy = {s.prompt: sum(s.token_logprob) for s in samples if s.setting == 0}
    for prompt in ("abc", "gh"):
        beams = [s for s in samples if s.setting == 1 and s.prompt == prompt]
        assert len({s.text for s in beams}) == 3 and all(len(s.text) == 24 for s in beams)
        totals = [sum(s.token_logprob) for s in beams]
        assert totals == sorted(totals, reverse=True)
        assert totals[0] >= greedy[prompt] - 1e-4
        for s in beams:  # the cache followed each hypothesis through the reorders
            np.testing.assert_allclose(s.token_logprob, full_logprobs(model, prompt, s.text),
                                       atol=2e-4)
            assert s.score == pytest.approx(sum(s.token_logprob) / 24, abs=1e-4)


def test_beams_of_one_prompt_do_not_depend_on_the_others(model):
    alone = run(model, [{"beam": 3}], plan_rows(["gh"], 1, 2, 0, True))
    together = run(model, [{"beam": 3}], plan_rows(["ab", "gh", "cd"], 1, 2, 0, True))
    assert [s.text for s in alone] == [s.text for s in together if s.prompt == "gh"]


def test_stochastic_beams_are_distinct_and_follow_the_seed(model):
    rows = [Row("ab", 0, seed) for seed in (1, 1, 1, 7, 7, 7)]
    a = run(model, [{"stochastic_beam": 3}], rows)
    b = run(model, [{"stochastic_beam": 3}], rows[:3])
    assert len({s.text for s in a[:3]}) == 3
    assert [s.text for s in a[:3]] == [s.text for s in b]
    assert [s.text for s in a[:3]] != [s.text for s in a[3:]]
    assert a[0].sampling_entropy == a[0].model_entropy
    assert [s.score for s in a[:3]] == sorted((s.score for s in a[:3]), reverse=True)


def test_stop_strings_cut_rows_independently(model):
    rows = plan_rows(["ab"], 1, 16, seed=0, coupled=True)
    full = run(model, [{"temperature": 1.0}], rows, length=40)
    stopped = run(model, [{"temperature": 1.0}], rows, length=40, stop=["e", "hh"])
    lengths = set()
    for whole, cut in zip(full, stopped, strict=True):
        ends = [i for i in (whole.text.find("e"), whole.text.find("hh")) if i >= 0]
        first = min(ends, default=len(whole.text))
        assert cut.text == whole.text[:first]
        assert cut.end == ("stop" if ends else "length")
        assert len(cut.token_logprob) == len(cut.model_entropy) == len(cut.text)
        lengths.add(len(cut.text))
    assert len(lengths) > 3  # rows ended at different places
    metrics = setting_metrics(stopped, frozenset({"ab", "cd"}))  # unequal lengths
    for name in ("model_entropy", "sample_nll_bpc", "distinct_2", "char_entropy_1"):
        assert np.isfinite(metrics[name][0]), name
    nll = np.mean([-np.mean(s.token_logprob) / np.log(2) for s in stopped if s.text])
    assert metrics["sample_nll_bpc"][0] == pytest.approx(nll, rel=0.2)


def test_beams_end_at_stop_strings(model):
    samples = run(model, [{"beam": 4}], plan_rows(["ab"], 1, 4, 0, True), length=30,
                  stop=["a"])
    for s in samples:
        assert "a" not in s.text
        assert s.end in ("stop", "length") and (s.end == "stop") == (len(s.text) < 30)


@pytest.mark.parametrize("bad,why", [([{"beam": 2}, "greedy"], "not a stage"),
                                     ({"beam": {"width": 0}}, "width"),
                                     ({"stochastic_beam": {"length_penalty": 1}}, "length_")])
def test_bad_decoder_settings_are_refused(bad, why):
    with pytest.raises(ValueError, match=why):
        build_chain(bad)


def cli(*args):
    from click.testing import CliRunner

    from textgen.cli import cli as group

    return CliRunner().invoke(group, ["generate", *map(str, args)])


def test_generate_command_runs_beams_and_stop_strings(tiny_run):
    import json

    out = cli(tiny_run, "--decoder", "beam", "--beam-width", 3, "--num-samples", 2,
              "--length", 20, "--prompt", "the ", "--json", "--stop", "\n")
    assert out.exit_code == 0, out.output
    records = [json.loads(line) for line in out.output.splitlines() if line.startswith("{")]
    assert len(records) == 2 and records[0]["sampler"].startswith("beam(width=3")
    assert records[0]["score"] >= records[1]["score"]
    assert all("\n" not in r["text"] and r["end"] in ("stop", "length") for r in records)


@pytest.mark.parametrize("args,why", [
    (["--stop", ""], "--stop[0]"),
    (["--decoder", "beam", "--beam-width", 2, "--num-samples", 3], "--beam-width 2"),
    (["--decoder", "beam", "--sampler", "greedy"], "without --sampler"),
    (["--decoder", "beem"], "beam"),
])
def test_generate_command_refuses_bad_decoding_options(tiny_run, args, why):
    out = cli(tiny_run, "--prompt", "the ", "--length", 5, *args)
    assert out.exit_code == 2, out.output
    assert why in out.output


def test_a_beam_longer_than_the_cap_is_refused(model):
    from textgen.errors import LimitError
    from textgen.generation.decoders import MAX_LENGTH

    with pytest.raises(LimitError, match="at most 4,096"):
        run(model, [{"beam": 2}], [Row("ab", 0, 0)], length=MAX_LENGTH + 1)


def test_the_loop_ends_once_every_row_has_stopped(model):
    from textgen.generation.engine import STOP, Decoder
    from textgen.generation.stops import stop_automaton

    decoder = Decoder(model, [build_chain({"temperature": 1.0})])
    prompt = np.stack([VOCAB.encode("ab")] * 8)
    stops = stop_automaton(list("abcdefgh"), VOCAB)  # every letter ends a row
    out = decoder(prompt, np.zeros(8), np.arange(8), 200, stops=stops)
    ends = [int(np.flatnonzero(row)[0]) for row in out.finish]
    assert all(out.finish[i, end] == STOP for i, end in enumerate(ends))
    assert (out.finish != 0).sum() == 8  # one mark per row
    last = max(ends)
    assert last < 50 and not out.tokens[:, last + 1:].any()  # no step ran after the last end
