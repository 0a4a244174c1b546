"""Penalties, DRY, no-repeat n-gram, logit bias and banned strings against loop-based NumPy
references of their sources, stepped over real sequences (warp, then update with the next id).

References: llama.cpp's ``llama_sampler_penalties_apply``/``_accept``, ``llama_sampler_dry_apply``
(the Z-algorithm written as the plain definition it computes), transformers'
``_calc_banned_ngram_tokens`` and ``SequenceBiasLogitsProcessor.__call__`` (bad words = bias
``-inf``), llama.cpp's ``llama_sampler_logit_bias_apply``.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from textgen.backbones.lstm import LSTMBackbone
from textgen.generation.engine import Decoder
from textgen.model import build_model
from textgen.plugins import load_registry
from textgen.samplers.base import SamplerChain
from textgen.samplers.builtin import GreedySampler
from textgen.testing import check_stage, logit_arrays
from textgen_penalties import (
    BannedStringsSampler,
    DRYSampler,
    LogitBiasSampler,
    NoRepeatNGramSampler,
    PenaltiesSampler,
)
from textgen_penalties.vocabulary import VocabularyError

INF = math.inf
CHARS = "abcdef:\n"  # vocabulary of the tests: id i is CHARS[i]


@st.composite
def histories(draw, vocab, max_len=40):
    """Two rows of generated ids from a small alphabet, so repeats are common."""
    size = draw(st.integers(1, vocab))
    length = draw(st.integers(0, max_len))
    return [draw(st.lists(st.integers(0, size - 1), min_size=length, max_size=length))
            for _ in range(2)]


def stepped(stage, logits, rows, vocab):
    """Warp at every step of ``rows`` (the two rows' ids); yields (t, warped) as NumPy."""
    state = stage.initial_state(2, vocab)
    x = tf.constant(logits)
    for t in range(len(rows[0]) + 1):
        warped, state = stage.warp(x, state)
        for s in state:
            assert tuple(s.shape)[0] == 2  # fixed shapes: checked by tf.while_loop too
        yield t, np.asarray(warped)
        if t < len(rows[0]):
            state = stage.update(state, tf.constant([r[t] for r in rows], tf.int32), warped)


# --- references ----------------------------------------------------------------------------
def ref_penalties(row, history, last_n, repeat, frequency, presence):
    window = history if last_n == -1 else history[len(history) - min(len(history), last_n):]
    out = row.astype(np.float64)
    for token in set(window):
        count = window.count(token)
        v = out[token] * repeat if out[token] <= 0 else out[token] / repeat
        out[token] = v - (count * frequency + presence)
    return out


def ref_dry(row, history, multiplier, base, allowed, last_n, breakers):
    """llama.cpp's DRY; ``breakers`` are (head id, tail ids) as its tokenisation gives them."""
    out = row.astype(np.float64)
    last = history[len(history) - min(len(history), last_n):]
    n = len(last)
    if n <= allowed:
        return out

    def rat(i):
        return last[n - 1 - i]

    rep_limit = n
    for i in range(n):
        longest = -1
        for head, tail in breakers:
            if head == rat(i) and len(tail) > longest and len(tail) <= i:
                if all(tail[o] == rat(i - o - 1) for o in range(len(tail))):
                    longest = len(tail)
        if longest >= 0:
            rep_limit = i - longest
            break
    if rep_limit < allowed:
        return out
    repeat = {}
    for k in range(1, n):
        m = 0
        while m + k < n and rat(m) == rat(m + k):
            m += 1
        m = min(m, rep_limit)
        if m >= allowed:
            token = rat(k - 1)
            repeat[token] = max(repeat.get(token, 0), m)
    max_exponent = int(88.7228391 / math.log(base)) if base > 1.000001 else 0
    singles = {head for head, tail in breakers if not tail}
    for token, length in repeat.items():
        if token in singles:
            continue
        exponent = length - allowed
        if max_exponent > 0 and exponent > max_exponent:
            exponent = max_exponent
        out[token] -= multiplier * base ** exponent
    return out


def ref_no_repeat(history, size, last_n):
    """transformers' _calc_banned_ngram_tokens on the last ``last_n`` generated ids."""
    tokens = history[len(history) - min(len(history), last_n):]
    cur_len = len(tokens)
    if cur_len + 1 < size:
        return set()
    ngrams = {}
    for gram in zip(*[tokens[i:] for i in range(size)], strict=False):
        ngrams.setdefault(tuple(gram[:-1]), []).append(gram[-1])
    return set(ngrams.get(tuple(tokens[cur_len + 1 - size:cur_len]), []))


def ref_banned(history, sequences):
    """transformers' SequenceBiasLogitsProcessor with bias -inf (NoBadWordsLogitsProcessor)."""
    banned = set()
    for seq in sequences:
        if len(seq) == 1:
            banned.add(seq[0])
            continue
        if len(seq) > len(history):  # "the sequence is longer than the context, ignore"
            continue
        if history[len(history) - (len(seq) - 1):] == seq[:-1]:
            banned.add(seq[-1])
    return banned


def ref_ban(row, banned):
    """``-inf`` on the banned ids; if that leaves nothing, the (first) most likely stays."""
    out = np.array([-INF if i in banned else v for i, v in enumerate(row)])
    if not np.isfinite(out).any() and np.isfinite(row).any():
        out[np.argmax(row)] = row[np.argmax(row)]
    return out


def assert_same(warped, expected, context):
    finite = np.isfinite(expected)
    assert (np.isfinite(warped) == finite).all(), context
    np.testing.assert_allclose(warped[finite], expected[finite], rtol=1e-5, atol=1e-4,
                               err_msg=str(context))


# --- the stages, stepped over sequences ---------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(st.data(), st.integers(1, 8), st.sampled_from([-1, 1, 3, 8]),
       st.sampled_from([1.0, 1.3, 0.7]), st.sampled_from([0.0, 0.5, -0.4]),
       st.sampled_from([0.0, 1.0, -2.0]))
def test_penalties_match_llama_cpp(data, vocab, last_n, repeat, frequency, presence):
    logits, rows = data.draw(logit_arrays(batch=2, vocab=vocab)), data.draw(histories(vocab))
    stage = PenaltiesSampler(last_n=last_n, repeat=repeat, frequency=frequency, presence=presence)
    for t, warped in stepped(stage, logits, rows, vocab):
        for b in range(2):
            expected = ref_penalties(logits[b], rows[b][:t], last_n, repeat, frequency, presence)
            assert_same(warped[b], expected, (b, t))


@settings(max_examples=40, deadline=None)
@given(st.data(), st.integers(2, 8), st.sampled_from([0.8, 2.0]), st.sampled_from([1.0, 1.75]),
       st.integers(1, 3), st.sampled_from([4, 9, 64]),
       st.lists(st.sampled_from(["\n", ":", "a", "ab", "bca", "z", "az"]), max_size=3))
def test_dry_matches_llama_cpp(data, vocab, multiplier, base, allowed, last_n, breakers):
    logits = data.draw(logit_arrays(batch=2, vocab=vocab))
    rows = data.draw(histories(vocab, max_len=30))
    stage = DRYSampler(multiplier=multiplier, base=base, allowed_length=allowed, last_n=last_n,
                       sequence_breakers=breakers)
    stage.bind(CHARS[:vocab])
    ids = {c: i for i, c in enumerate(CHARS[:vocab])}
    usable = list(dict.fromkeys((ids[s[0]], tuple(ids[c] for c in s[1:])) for s in breakers
                                if all(c in ids for c in s)))
    for t, warped in stepped(stage, logits, rows, vocab):
        for b in range(2):
            expected = ref_dry(logits[b], rows[b][:t], multiplier, base, allowed, last_n,
                               [(h, list(tail)) for h, tail in usable])
            assert_same(warped[b], expected, (b, t, rows[b][:t]))


@settings(max_examples=40, deadline=None)
@given(st.data(), st.integers(1, 6), st.integers(1, 4), st.sampled_from([3, 10, 64]))
def test_no_repeat_ngram_matches_transformers(data, vocab, size, last_n):
    logits = data.draw(logit_arrays(batch=2, vocab=vocab))
    rows = data.draw(histories(vocab))
    stage = NoRepeatNGramSampler(size=size, last_n=last_n)
    for t, warped in stepped(stage, logits, rows, vocab):
        for b in range(2):
            expected = ref_ban(logits[b], ref_no_repeat(rows[b][:t], size, last_n))
            assert_same(warped[b], expected, (b, t))


@settings(max_examples=40, deadline=None)
@given(st.data(), st.integers(2, 6),
       st.lists(st.text(alphabet="abcdz", min_size=1, max_size=4), min_size=1, max_size=4))
def test_banned_strings_match_transformers(data, vocab, strings):
    logits = data.draw(logit_arrays(batch=2, vocab=vocab))
    rows = data.draw(histories(vocab, max_len=20))
    stage = BannedStringsSampler(strings=strings)
    chars = CHARS[:vocab]
    if set(chars) <= {s for s in strings if len(s) == 1}:
        with pytest.raises(VocabularyError, match="every character"):
            stage.bind(chars)
        return
    stage.bind(chars)
    sequences = [[chars.index(c) for c in s] for s in strings if all(c in chars for c in s)]
    for t, warped in stepped(stage, logits, rows, vocab):
        for b in range(2):
            expected = ref_ban(logits[b], ref_banned(rows[b][:t], sequences))
            assert_same(warped[b], expected, (b, t))


@settings(max_examples=40, deadline=None)
@given(st.data(), st.integers(1, 8))
def test_logit_bias_matches_llama_cpp(data, vocab):
    logits = data.draw(logit_arrays(batch=2, vocab=vocab))
    chars = CHARS[:vocab]
    bias = data.draw(st.dictionaries(st.sampled_from(chars), st.floats(-100, 100), min_size=1))
    stage = LogitBiasSampler(bias=bias)
    stage.bind(chars)
    expected = logits.astype(np.float64)
    for c, amount in bias.items():
        expected[:, chars.index(c)] += amount
    out = stage(logits)
    for b in range(2):
        assert_same(out[b], expected[b], b)


# --- hand-computed cases --------------------------------------------------------------------------
def run_text(stage, text, vocab=CHARS):
    """The stage's output on flat logits after generating ``text``."""
    ids = [vocab.index(c) for c in text]
    *_, (_, warped) = stepped(stage, np.zeros((2, len(vocab)), np.float32), [ids, ids],
                              len(vocab))
    return warped[0]


def test_dry_penalises_the_character_that_extends_a_repeat():
    stage = DRYSampler(multiplier=1.0, base=2.0, allowed_length=2, sequence_breakers=[":"])
    stage.bind(CHARS)
    out = run_text(stage, "abcdabc")  # "abc" repeats; "d" would make it 4 long: 2 ** (3 - 2)
    assert out[CHARS.index("d")] == pytest.approx(-2.0)
    assert (np.delete(out, CHARS.index("d")) == 0).all()
    cut = DRYSampler(multiplier=1.0, base=2.0, allowed_length=2, sequence_breakers=["b"])
    cut.bind(CHARS)
    assert (run_text(cut, "abcdabc") == 0).all()  # a repeat never reaches back past a breaker


def test_no_repeat_ngram_bans_the_completing_character():
    stage = NoRepeatNGramSampler(size=3)
    out = run_text(stage, "abcab")  # "ab" occurred before, followed by "c"
    assert np.isinf(out[CHARS.index("c")]) and np.isfinite(np.delete(out, 2)).all()


def test_a_row_never_loses_its_last_character():
    stage = NoRepeatNGramSampler(size=1)  # every character generated once is banned
    ids = [0, 1]
    *_, (_, warped) = stepped(stage, np.array([[1.0, 2.0]] * 2, np.float32), [ids, ids], 2)
    np.testing.assert_array_equal(warped[0], [-INF, 2.0])  # both banned: the likelier stays


def test_penalties_window_forgets_old_characters():
    stage = PenaltiesSampler(last_n=2, presence=1.0, frequency=0.5)
    out = run_text(stage, "aabb")
    assert out[CHARS.index("a")] == 0 and out[CHARS.index("b")] == pytest.approx(-2.0)


def test_stages_that_name_characters_need_the_vocabulary():
    with pytest.raises(Exception, match=r"stage\.bind\(vocab\)"):  # named by the engine
        LogitBiasSampler(bias={"a": 1.0})(np.zeros((1, 3), np.float32))
    with pytest.raises(VocabularyError, match="'q'"):
        LogitBiasSampler(bias={"q": 1.0}).bind("abc")


@pytest.mark.parametrize("cls, params, field", [
    (DRYSampler, {"multiplier": 0.8, "base": -1.0}, "base"),
    (DRYSampler, {"multiplier": 0.8, "base": 0.5}, "base"),
    (DRYSampler, {"multiplier": 0.0}, "multiplier"),
    (DRYSampler, {"multiplier": 0.8, "allowed_length": 0}, "allowed_length"),
    (DRYSampler, {"multiplier": 0.8, "sequence_breakers": [""]}, "sequence_breakers"),
    (PenaltiesSampler, {"presence": 3.0}, "presence"), (PenaltiesSampler, {"last_n": 0}, "last_n"),
    (PenaltiesSampler, {"repeat": 0.0}, "repeat"), (NoRepeatNGramSampler, {"size": 0}, "size"),
    (LogitBiasSampler, {"bias": {"a": 101.0}}, "bias"),
    (LogitBiasSampler, {"bias": {"ab": 1.0}}, "bias"),
    (BannedStringsSampler, {"strings": []}, "strings"),
    (BannedStringsSampler, {"strings": [""]}, "strings"),
])
def test_out_of_range_parameters_name_the_field(cls, params, field):
    with pytest.raises(ValidationError, match=field):
        cls(**params)


def test_registered_through_the_entry_point():
    samplers = load_registry().samplers
    for name, cls in [("penalties", PenaltiesSampler), ("dry", DRYSampler),
                      ("no_repeat_ngram", NoRepeatNGramSampler), ("logit_bias", LogitBiasSampler),
                      ("banned_strings", BannedStringsSampler)]:
        entry = samplers[name]
        assert getattr(entry, "obj", entry) is cls


# --- through the decoding loop, and the conformance kit ------------------------------------------
def test_through_the_decoding_loop_greedy_follows_the_references():
    """textgen's compiled Decoder on a tiny model: each row's greedy choice after the stage is
    the argmax of the reference applied to the model's logits and the row's own draws."""
    keras.utils.set_random_seed(0)
    model = build_model(len(CHARS), LSTMBackbone(units=8), 4)
    dry = DRYSampler(multiplier=3.0, base=1.5, allowed_length=1, sequence_breakers=[":"])
    banned = BannedStringsSampler(strings=["ab", "c"])
    for stage in (dry, banned):
        stage.bind(CHARS)
    settings = [SamplerChain([dry, GreedySampler()]),
                SamplerChain([NoRepeatNGramSampler(size=2), GreedySampler()]),
                SamplerChain([PenaltiesSampler(last_n=6, frequency=1.0, presence=0.5),
                              banned, GreedySampler()])]
    prompt = np.zeros((3, 2), np.int32)
    tokens = Decoder(model, settings)(prompt, [0, 1, 2], np.arange(3), 25).tokens
    full = np.concatenate([prompt, tokens], axis=1)
    logits = np.asarray(model(full[:, :-1]))[:, 1:]  # the logits before each draw
    for t in range(25):
        seen = [tokens[r, :t].tolist() for r in range(3)]
        ref = [ref_dry(logits[0, t], seen[0], 3.0, 1.5, 1, 1024, [(CHARS.index(":"), [])]),
               ref_ban(logits[1, t], ref_no_repeat(seen[1], 2, 2048)),
               ref_penalties(logits[2, t], seen[2], 6, 1.0, 1.0, 0.5)]
        ref[2] = ref_ban(ref[2], ref_banned(seen[2], [[0, 1], [2]]))
        for r in range(3):
            assert tokens[r, t] == np.argmax(ref[r]), (r, t)
    assert "c" not in "".join(CHARS[i] for i in tokens[2])


@pytest.mark.parametrize("stage", [
    PenaltiesSampler(last_n=4, repeat=1.2, frequency=0.5, presence=0.3),
    PenaltiesSampler(last_n=-1, frequency=0.2),
    NoRepeatNGramSampler(size=3, last_n=16),
    NoRepeatNGramSampler(size=1, last_n=4),
], ids=lambda s: s.label())
def test_conformance_kit(stage):
    """textgen.testing's contract checks."""
    check_stage(stage, vocab_sizes=(33,))


@pytest.mark.parametrize("cls, params", [
    (DRYSampler, {"multiplier": 0.8, "allowed_length": 1, "sequence_breakers": [":"]}),
    (LogitBiasSampler, {"bias": {"a": 2.0, "e": -5.0, ":": -100.0}}),
    (BannedStringsSampler, {"strings": ["ab", "c", "fed"]}),
], ids=lambda x: x.__name__ if isinstance(x, type) else "")
def test_conformance_kit_bound_to_a_vocabulary(cls, params):
    """Stages that name characters are checked bound to the tests' characters, at that width."""
    check_stage(cls, params, vocab=CHARS, steps=4)
