"""The Kneser-Ney n-gram baseline against a plain-Python reference of Chen & Goodman's formulas."""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textgen.baselines.ngram import KneserNey, adaptive_probability, choose_order, score_orders

TOY = "the cat sat on the mat. the cat ate the rat; a bat sat on a hat. " * 3 + "that mat!"


def reference_prob(text: str, order: int, vocab: list[str], context: str, w: str) -> float:
    """Interpolated modified Kneser-Ney, written from the paper with dicts, one query at a time."""
    grams = {k: Counter(text[i:i + k] for i in range(len(text) - k + 1))
             for k in range(1, order + 2)}
    counts: dict[int, dict[str, int]] = {order: dict(grams[order])}
    for k in range(1, order):
        left: dict[str, set[str]] = defaultdict(set)
        for g in grams[k + 1]:
            left[g[1:]].add(g[0])
        counts[k] = {g: len(s) for g, s in left.items()}

    def discounts(k: int) -> list[float]:
        n = [sum(1 for c in counts[k].values() if c == r) for r in (1, 2, 3, 4)]
        y = n[0] / (n[0] + 2 * n[1]) if n[0] + 2 * n[1] else 1.0
        d = [r - (r + 1) * y * (n[r] / n[r - 1] if n[r - 1] else 0.0) for r in (1, 2, 3)]
        return [0.0] + [min(max(x, 0.01), r) for r, x in enumerate(d, start=1)]

    p = 1.0 / len(vocab)
    for k in range(1, order + 1):
        if k - 1 > len(context):
            break
        h = context[len(context) - (k - 1):] if k > 1 else ""
        d = discounts(k)
        follow = {g: c for g, c in counts[k].items() if g[:-1] == h}
        total = sum(follow.values())
        if total == 0:
            continue
        backoff = sum(d[min(c, 3)] for c in follow.values())
        c = follow.get(h + w, 0)
        p = (max(c - d[min(c, 3)], 0.0) + backoff * p) / total
    return p


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_matches_reference(order: int) -> None:
    vocab = sorted(set(TOY) | {"z"})  # z is never seen: it lives on the uniform floor
    model = KneserNey.fit(TOY, order, vocab)
    text, context = "the bat ate a zat.", "on "
    expected = [-math.log2(reference_prob(TOY, order, vocab, (context + text)[:len(context) + i],
                                          ch)) for i, ch in enumerate(text)]
    np.testing.assert_allclose(model.bits(text, context), expected, rtol=1e-12)


contexts = st.text(alphabet=sorted(set(TOY)), max_size=12)


@settings(max_examples=60, deadline=None)
@given(context=contexts, order=st.integers(1, 7))
def test_probabilities_sum_to_one(context: str, order: int) -> None:
    model = KneserNey.fit(TOY, order, sorted(set(TOY) | {"q", "z"}))
    probs = model.probs(context)
    assert probs.shape == (model.vocab_size,)
    assert (probs > 0).all()
    assert probs.sum() == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(text=st.text(alphabet="abc \n", min_size=1, max_size=60), context=st.text("abc \n"))
def test_sums_to_one_on_any_text(text: str, context: str) -> None:
    model = KneserNey.fit(text, 4, "abc \n")
    assert model.probs(context).sum() == pytest.approx(1.0, abs=1e-12)


def test_bits_agree_with_probs() -> None:
    model = KneserNey.fit(TOY, 4)
    text, context = "the rat sat", "a "
    bits = model.bits(text, context)
    for i, ch in enumerate(text):
        p = model.probs(context + text[:i])[model.index[ch]]
        assert bits[i] == pytest.approx(-math.log2(p), rel=1e-12)


def test_higher_order_predicts_repeated_text_better() -> None:
    assert KneserNey.fit(TOY, 5).bpc("the cat sat on the mat.") < \
        KneserNey.fit(TOY, 1).bpc("the cat sat on the mat.")


def test_choose_order_tunes_on_the_training_text_only() -> None:
    scores = score_orders(TOY * 4, range(1, 6))
    assert set(scores) == {1, 2, 3, 4, 5}
    assert choose_order(TOY * 4, range(1, 6)) == min(scores, key=scores.__getitem__)
    assert scores[1] > scores[3]


def test_unknown_character_is_named() -> None:
    with pytest.raises(ValueError, match="'#'"):
        KneserNey.fit(TOY, 3).bits("a#")


def test_too_long_order_is_refused() -> None:
    with pytest.raises(ValueError, match="order"):
        KneserNey.fit("".join(chr(33 + i) for i in range(90)), 12)


@settings(max_examples=30, deadline=None)
@given(base=st.text(alphabet="abc ", min_size=1, max_size=40),
       read=st.text(alphabet="abc ", min_size=1, max_size=40),
       order=st.integers(2, 4), every=st.integers(1, 15))
def test_adaptive_counts_only_what_it_has_read(base: str, read: str, order: int,
                                               every: int) -> None:
    vocab = sorted("abc ")
    ids = np.array([vocab.index(c) for c in base + read])
    start = len(base)
    got = adaptive_probability(ids[:start], ids, start, len(vocab), order, every)
    for t in range(start, len(ids)):  # the model of t's block: base + what was read before it
        block = start + (t - start) // every * every
        fitted = KneserNey.fit((base + read)[:block], order, vocab)
        expected = fitted.probs((base + read)[:t])[ids[t]]
        assert got[t - start] == pytest.approx(expected, rel=1e-9)
    changed = ids.copy()  # no look-ahead: what follows t never changes t's probability
    cut = start + len(read) // 2
    changed[cut:] = (changed[cut:] + 1) % len(vocab)
    again = adaptive_probability(ids[:start], changed, start, len(vocab), order, every)
    np.testing.assert_array_equal(again[:cut - start], got[:cut - start])


def test_adaptive_counting_learns_a_text_unlike_its_base() -> None:
    vocab = sorted("abcd ")
    encode = lambda s: np.array([vocab.index(c) for c in s])  # noqa: E731
    base, new = encode("abc abc " * 30), encode("dab dab " * 30)
    ids = np.concatenate([base, new])
    static = adaptive_probability(base, ids, len(base), len(vocab), 4, len(new))
    adaptive = adaptive_probability(base, ids, len(base), len(vocab), 4, 16)
    assert -np.log2(adaptive).mean() < 0.5 * -np.log2(static).mean()
    with pytest.raises(ValueError, match="every >= 1"):
        adaptive_probability(base, ids, len(base), len(vocab), 4, 0)
