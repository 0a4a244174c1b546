"""Beam search and stochastic beam search against brute-force enumeration on a tiny model.

The toy model is second order (its next-character logits depend on the last two characters),
so a beam's cache must follow its hypothesis when beams are reordered.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from textgen.corpus.vocab import CharVocab
from textgen.generation.beam import BeamDecoder, conditioned_gumbel
from textgen.generation.stops import stop_automaton

V = 3


class Toy:
    """``logits = table[prev, last]``; the cache holds ``prev``. ``table`` is a variable, so a
    new table needs no new compile."""

    def __init__(self) -> None:
        self.table = tf.Variable(tf.zeros([V, V, V]))

    def step(self, ids, cache):
        (prev,) = cache
        return tf.gather_nd(self.table.read_value(), tf.stack([prev, ids], axis=-1)), (ids,)

    @staticmethod
    def initial_cache(rows):
        return (tf.zeros([rows], tf.int32),)

    def logp(self, prev: int, last: int) -> np.ndarray:
        x = self.table.numpy()[prev, last].astype(np.float64)
        return x - np.log(np.exp(x - x.max()).sum()) - x.max()

    def sequences(self, prompt: list[int], length: int, stops=None):
        """Every continuation (cut after its first stop string) with its total ln p."""
        found = {}
        for seq in itertools.product(range(V), repeat=length):
            prev, last = (0, prompt[0]) if len(prompt) == 1 else prompt[-2:]
            total, kept = 0.0, list(seq)
            for t, token in enumerate(seq):
                total += self.logp(prev, last)[token]
                prev, last = last, token
                if stops is not None and stops.find(seq[:t + 1]):
                    kept = list(seq[:t + 1])
                    break
            found[tuple(kept)] = total
        return found


TOY = Toy()
# Logits on a grid of eighths: ties are exact (both sides break them to the lowest id), never
# closer than float32 rounding.
table_arrays = st.lists(st.integers(-24, 24), min_size=V ** 3, max_size=V ** 3).map(
    lambda xs: np.reshape(xs, (V, V, V)) / 8)


def decoder(width, n_best, **kw):
    return BeamDecoder(TOY.step, TOY.initial_cache, V, width=width, n_best=n_best, **kw)


EXACT = decoder(27, 5)  # width >= V ** (length - 1): nothing is ever pruned


@settings(max_examples=15, deadline=None)
@given(table_arrays, st.lists(st.integers(0, V - 1), min_size=1, max_size=3))
def test_a_wide_beam_finds_the_n_best_by_total_logprob(table, prompt):
    TOY.table.assign(table.astype(np.float32))
    out = EXACT(np.array([prompt, prompt]), np.array([0, 1]), 4)
    everything = TOY.sequences(prompt, 4)
    best = sorted(everything.values(), reverse=True)[:5]
    np.testing.assert_allclose(out.logprob[0], best, rtol=1e-4, atol=1e-4)
    # The i-th sequence returned has the i-th best log-prob (tied ones in either order).
    got = [everything[tuple(seq)] for seq in out.tokens[0]]
    np.testing.assert_allclose(got, best, rtol=1e-4, atol=1e-4)
    assert len({tuple(seq) for seq in out.tokens[0]}) == 5
    assert (out.lengths == 4).all() and not out.stopped.any()
    np.testing.assert_array_equal(out.tokens[0], out.tokens[1])  # rows are independent


@settings(max_examples=15, deadline=None)
@given(table_arrays)
def test_width_one_is_greedy_and_narrow_beams_report_true_logprobs(table):
    TOY.table.assign(table.astype(np.float32))
    prompt, length = [1], 5
    greedy, prev, last, total = [], 0, 1, 0.0
    for _ in range(length):
        logp = TOY.logp(prev, last)
        token = int(np.argmax(logp))
        greedy.append(token)
        total += logp[token]
        prev, last = last, token
    out = NARROW[1](np.array([prompt]), np.array([0]), length)
    assert out.tokens[0, 0].tolist() == greedy
    np.testing.assert_allclose(out.logprob[0, 0], total, rtol=1e-5, atol=1e-5)
    beam = NARROW[3](np.array([prompt]), np.array([0]), length)
    everything = TOY.sequences(prompt, length)
    for seq, lp in zip(beam.tokens[0], beam.logprob[0], strict=True):
        np.testing.assert_allclose(lp, everything[tuple(seq)], rtol=1e-4, atol=1e-4)
    assert beam.logprob[0, 0] >= total - 1e-4  # the beam's best is at least greedy's
    assert len({tuple(s) for s in beam.tokens[0]}) == 3
    assert (np.diff(beam.logprob[0]) <= 1e-6).all()  # best first


NARROW = {1: decoder(1, 1), 3: decoder(3, 3)}


def test_stop_strings_end_hypotheses_and_length_normalisation_ranks_them():
    vocab = CharVocab("abc")
    stops = stop_automaton(["ca", "b"], vocab)
    rng = np.random.default_rng(3)
    TOY.table.assign(rng.normal(0, 1.5, (V, V, V)).astype(np.float32))
    for alpha in (0.0, 1.0, 2.0):
        out = decoder(27, 4, length_penalty=alpha)(np.array([[0]]), np.array([0]), 4, stops)
        found = TOY.sequences([0], 4, stops)
        ranked = sorted(found.items(), key=lambda kv: -kv[1] / len(kv[0]) ** alpha)[:4]
        np.testing.assert_allclose(out.score[0], [lp / len(s) ** alpha for s, lp in ranked],
                                   rtol=1e-4, atol=1e-4)
        for tokens, kept, stopped, (seq, _) in zip(out.tokens[0], out.lengths[0],
                                                    out.stopped[0], ranked, strict=True):
            text = vocab.decode(seq)
            cut = stops.find(list(seq))
            assert stopped == (cut is not None)
            assert vocab.decode(tokens[:kept]) == (text[:cut[0] - cut[1]] if cut else text)


def inclusion_probabilities(p: np.ndarray, k: int) -> np.ndarray:
    """P(item i is among k draws without replacement, each proportional to p)."""
    inc = np.zeros(len(p))
    for order in itertools.permutations(range(len(p)), k):
        prob, left = 1.0, 1.0
        for i in order:
            prob *= p[i] / left
            left -= p[i]
        inc[list(order)] += prob
    return inc


def test_stochastic_beams_sample_without_replacement():
    rng = np.random.default_rng(7)
    TOY.table.assign(rng.normal(0, 1.0, (V, V, V)).astype(np.float32))
    rows, k, length = 3000, 3, 2
    out = decoder(k, k, stochastic=True)(np.zeros((rows, 1), np.int32), np.arange(rows), length)
    seqs = list(itertools.product(range(V), repeat=length))
    p = np.exp([TOY.sequences([0], length)[s] for s in seqs])
    index = {s: i for i, s in enumerate(seqs)}
    drawn = [[index[tuple(s)] for s in row] for row in out.tokens]
    assert all(len(set(row)) == k for row in drawn)  # distinct within a row
    counts = np.bincount(np.ravel(drawn), minlength=len(seqs)) / rows
    expected = inclusion_probabilities(p, k)
    sigma = np.sqrt(expected * (1 - expected) / rows)
    assert (np.abs(counts - expected) < 4.5 * sigma + 1e-3).all(), (counts, expected)
    first = np.bincount([row[0] for row in drawn], minlength=len(seqs)) / rows
    assert (np.abs(first - p) < 4.5 * np.sqrt(p * (1 - p) / rows) + 1e-3).all()
    # Scores are the perturbed values, best first; log-probs are the sequences' own.
    assert (np.diff(out.score, axis=1) <= 0).all()
    np.testing.assert_allclose(out.logprob, np.log(p[np.array(drawn)]), rtol=1e-4, atol=1e-4)


def test_stochastic_beams_depend_on_the_row_seed_only():
    TOY.table.assign(np.random.default_rng(1).normal(0, 1, (V, V, V)).astype(np.float32))
    dec = decoder(2, 2, stochastic=True)
    a = dec(np.zeros((8, 1), np.int32), np.arange(8), 3)
    b = dec(np.zeros((8, 1), np.int32), np.arange(8)[::-1], 3)
    np.testing.assert_array_equal(a.tokens, b.tokens[::-1])


@settings(max_examples=150, deadline=None)
@given(st.floats(-20, 20), st.lists(st.floats(-20, 20), min_size=2, max_size=6))
def test_conditioned_gumbels_have_the_parents_maximum(parent, children):
    out = conditioned_gumbel(tf.constant([parent]), tf.constant([children])).numpy()[0]
    assert math.isclose(out.max(), parent, rel_tol=1e-5, abs_tol=1e-4)
    order = np.argsort(children, kind="stable")
    assert (np.diff(out[order]) >= -1e-5).all()  # a monotone transform of the children


def test_n_best_cannot_exceed_the_width():
    with pytest.raises(ValueError, match="n_best"):
        decoder(2, 3)
