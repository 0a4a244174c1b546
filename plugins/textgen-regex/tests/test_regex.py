"""The regex stage: its DFA against ``re.fullmatch`` on every prefix, full matches from a
compiled loop, and the refusals (invalid pattern, no match over the vocabulary)."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from textgen.generation.noise import gumbel
from textgen.plugins import load_registry
from textgen.samplers.build import build_stage
from textgen.testing import check_stage
from textgen_regex import PatternError, RegexSampler, token_dfa

VOCAB = ["a", "b", "c", ".", "x"]
PATTERNS = [r"ab*c", r"(ab|ba)+\.", r"[a-c]{2,3}", r"a|bc|cab", r"(a|b)*c", r"[^x.]+x?",
            r"a.c", r"(a\.)?b+"]
HORIZON = 3  # completions tried by the brute-force reference


def strings(max_len: int):
    for n in range(max_len + 1):
        for chars in itertools.product(VOCAB, repeat=n):
            yield "".join(chars)


def live(pattern: str, prefix: str) -> bool:
    """Some completion of at most HORIZON vocabulary characters makes a full match."""
    return any(re.fullmatch(pattern, prefix + w) for w in strings(HORIZON))


@pytest.mark.parametrize("pattern", PATTERNS)
def test_dfa_matches_fullmatch_on_every_prefix(pattern):
    dfa = token_dfa(pattern, VOCAB)
    for prefix in strings(3):
        state = dfa.run([VOCAB.index(c) for c in prefix])
        assert (state != dfa.dead) == live(pattern, prefix), prefix
        if state != dfa.dead:
            assert dfa.accepting[state] == bool(re.fullmatch(pattern, prefix)), prefix
            for i, c in enumerate(VOCAB):  # the mask: allowed iff the prefix stays live
                assert (dfa.table[state, i] != dfa.dead) == live(pattern, prefix + c)
            shortest = min(len(w) for w in strings(HORIZON) if re.fullmatch(pattern, prefix + w))
            assert dfa.distance[state] == shortest, prefix


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(PATTERNS), st.text(alphabet="".join(VOCAB), max_size=6))
def test_dfa_state_agrees_with_reference(pattern, prefix):
    dfa = token_dfa(pattern, VOCAB)
    state = dfa.run([VOCAB.index(c) for c in prefix])
    assert (state != dfa.dead) == live(pattern, prefix)
    assert dfa.closed[state] == (state != dfa.dead and not any(
        live(pattern, prefix + c) for c in VOCAB))


def decode_constrained(stage: RegexSampler, logits: np.ndarray, seeds: np.ndarray,
                       length: int) -> tuple[np.ndarray, np.ndarray]:
    """A compiled loop like the engine's: warp, Gumbel-max draw, update, per-row done flag.

    ``logits[t]`` are the model's logits at step t; returns the drawn ids and each row's
    length (the step after which ``finished`` held, or ``length``)."""
    batch, vocab = len(seeds), logits.shape[-1]
    table = tf.constant(logits, tf.float32)

    @tf.function(jit_compile=True)
    def run(seeds):
        state = stage.initial_state(batch, vocab)
        done = stage.finished(state)
        ends = tf.where(done, 0, length)
        tokens = tf.TensorArray(tf.int32, size=length)
        for t in tf.range(length):
            warped, state = stage.warp(tf.gather(table, t), state)
            token = tf.argmax(warped + gumbel(seeds, t, vocab), axis=-1, output_type=tf.int32)
            state = stage.update(state, token, warped)
            now = stage.finished(state) & ~done
            ends = tf.where(now, t + 1, ends)
            done |= now
            tokens = tokens.write(t, token)
        return tf.transpose(tokens.stack()), ends

    ids, ends = run(tf.constant(seeds, tf.int64))
    return ids.numpy(), ends.numpy()


@pytest.mark.parametrize("pattern,stop", [(r"ab*c", "end"), (r"(ab|ba)+\.", "end"),
                                          (r"[a-c]{2,3}", "end"), (r"a|bc|cab", "end"),
                                          (r"(a|b)*c", "accept"), (r"[^x.]+x", "end")])
def test_every_sample_is_a_full_match(pattern, stop):
    stage = RegexSampler(pattern=pattern, stop=stop)
    stage.bind(VOCAB)
    rng = np.random.default_rng(0)
    length, rows = 40, 64
    logits = rng.normal(0, 2, (length, rows, len(VOCAB))).astype(np.float32)
    ids, ends = decode_constrained(stage, logits, np.arange(rows), length)
    assert (ends < length).mean() > 0.9  # almost every row finished well within the length
    dfa = token_dfa(pattern, VOCAB)
    for row, end in zip(ids, ends, strict=True):
        text = "".join(VOCAB[i] for i in row[:end])
        if end < length:
            assert re.fullmatch(pattern, text), text
        else:  # ran out of characters: still a prefix of some match
            assert dfa.run(row[:end]) != dfa.dead, text


def test_stop_accept_ends_at_the_first_full_match():
    stage = RegexSampler(pattern=r"a+", stop="accept")
    stage.bind(VOCAB)
    logits = np.zeros((5, 4, len(VOCAB)), np.float32)
    ids, ends = decode_constrained(stage, logits, np.arange(4), 5)
    assert ends.tolist() == [1, 1, 1, 1] and (ids[:, 0] == 0).all()
    stage = RegexSampler(pattern=r"a+")  # stop: end never closes, the row runs to length
    stage.bind(VOCAB)
    ids, ends = decode_constrained(stage, logits, np.arange(4), 5)
    assert ends.tolist() == [5] * 4 and (ids == 0).all()


def test_mask_is_one_gather_on_the_stage_alone():
    stage = RegexSampler(pattern=r"ab*c")
    stage.bind(VOCAB)
    out = np.asarray(stage(np.zeros((2, len(VOCAB)), np.float32)))
    assert np.isfinite(out).tolist() == [[True, False, False, False, False]] * 2


def test_characters_the_model_never_saw_are_named():
    with pytest.raises(PatternError, match=r"never saw.*'Q'"):
        token_dfa(r"Q[a-c]+", VOCAB)
    with pytest.raises(PatternError, match=r"never saw.*'z'"):
        token_dfa(r"(z|y)+", VOCAB)
    token_dfa(r"(z|a)+", VOCAB)  # one alternative is enough


def test_a_pattern_that_matches_nothing_is_refused():
    with pytest.raises(PatternError, match="matches no string at all"):
        token_dfa(r"a(?=b)c", VOCAB)


@pytest.mark.parametrize("pattern,why", [("(ab", "invalid regular expression"),
                                         ("[c-a]", "invalid regular expression"),
                                         (r"(a)\1", "cannot be compiled to a DFA")])
def test_invalid_patterns_name_the_field(pattern, why):
    with pytest.raises(ValueError, match=rf"regex.*pattern.*{why}"):
        build_stage({"regex": pattern})


def test_unbound_stage_says_what_to_do():
    with pytest.raises(RuntimeError, match="bind"):
        RegexSampler(pattern="a").initial_state(2, len(VOCAB))


def test_registered_and_built_from_a_spec_item():
    reg = load_registry()
    assert reg.sampler("regex") is RegexSampler
    stage = build_stage({"regex": {"pattern": "a+", "stop": "accept"}})
    assert stage.get_config() == {"pattern": "a+", "stop": "accept", "max_chars": None}


@pytest.mark.parametrize("pattern,stop,why", [("(Q)?", "end", "only the empty string"),
                                              ("a*", "accept", "matches the empty string")])
def test_patterns_that_make_empty_samples_are_refused(pattern, stop, why):
    with pytest.raises(PatternError, match=why):
        RegexSampler(pattern=pattern, stop=stop).bind(VOCAB)


@pytest.fixture(scope="module")
def model():
    import keras

    from textgen.backbones.lstm import LSTMBackbone
    from textgen.model import build_model

    keras.utils.set_random_seed(2)
    return build_model(len(VOCAB), LSTMBackbone(units=16), 8)


@pytest.mark.parametrize("pattern,stop", [(r"(ab|ba)+\.", "end"), (r"[a-c]{2,3}x", "end"),
                                          (r"(a|b)*c", "accept")])
def test_generate_ends_every_row_at_a_full_match(model, pattern, stop):
    from textgen.corpus.vocab import CharVocab
    from textgen.generation.sampling import generate, plan_rows
    from textgen.samplers.build import build_chain

    chains = [build_chain([{"regex": {"pattern": pattern, "stop": stop}}, {"temperature": 2}]),
              build_chain({"temperature": 1.0})]
    rows = plan_rows(["a"], 2, 24, seed=0, coupled=True)
    samples = generate(model, CharVocab(VOCAB), chains, rows, 60)
    constrained = [s for s in samples if s.setting == 0]
    assert all(s.end == "accept" and re.fullmatch(pattern, s.text) for s in constrained), [
        (s.text, s.end) for s in constrained if not re.fullmatch(pattern, s.text)]
    assert len({len(s.text) for s in constrained}) > 1  # rows end independently
    assert all(s.end == "length" and len(s.text) == 60 for s in samples if s.setting == 1)
    assert all(len(s.token_logprob) == len(s.text) for s in samples)


def test_generate_refuses_a_pattern_the_vocabulary_cannot_match(model):
    from textgen.corpus.vocab import CharVocab
    from textgen.generation.sampling import Row, generate
    from textgen.samplers.build import build_chain

    with pytest.raises(PatternError, match="'Z'"):
        generate(model, CharVocab(VOCAB), [build_chain({"regex": "Z+"})], [Row("a", 0, 0)], 5)


@settings(max_examples=12, deadline=None)
@given(st.sampled_from([(r"(ab|ba)+\.", 3), (r"[abc.]+x", 2), (r"a(b|c)*\.x?", 2)]),
       st.integers(0, 6), st.integers(0, 2**16))
def test_max_chars_makes_every_sample_a_full_match(case, extra, seed):
    pattern, shortest = case
    length = shortest + extra  # from the shortest match up
    stage = RegexSampler(pattern=pattern, max_chars=length)
    stage.bind(VOCAB)
    logits = np.random.default_rng(seed).normal(0, 3, (length, 16, len(VOCAB)))
    ids, ends = decode_constrained(stage, logits.astype(np.float32), np.arange(16) + seed,
                                   length)
    for row, end in zip(ids, ends, strict=True):
        assert end <= length and re.fullmatch(pattern, "".join(VOCAB[i] for i in row[:end]))


def test_max_chars_below_the_shortest_match_is_refused():
    with pytest.raises(PatternError, match="max_chars: .* has 3 characters, more than 2"):
        RegexSampler(pattern=r"(ab|ba)+\.", max_chars=2).bind(VOCAB)


@pytest.mark.parametrize("pattern,stop", [(r"([ax][bc.]?)+", "end"), (r"[ax]+\.", "accept"),
                                          (r"[abc]*x", "end")])
def test_conformance_kit(pattern, stop):
    """textgen.testing's contract checks, bound to the tests' characters; a row the stage
    declares finished (a full match) is not checked after. The patterns always allow "a" and
    "x" before the match ends: the kit's rows with one finite logit hold it at the first or
    the last id, and a hard constraint cannot keep a row whose only candidate it forbids."""
    check_stage(RegexSampler, {"pattern": pattern, "stop": stop}, vocab=VOCAB, steps=6)
