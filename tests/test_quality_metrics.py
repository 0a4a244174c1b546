"""Copy rate, word Zipf slope, self-BLEU, judge bpc and paired differences (issue 19)."""

import math
import random

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from textgen.baselines.ngram import KneserNey
from textgen.metrics import (
    SAMPLE_KEYS,
    CopyIndex,
    Sample,
    TrainingIndex,
    bleu,
    excludes_zero,
    paired_differences,
    sample_metrics,
    self_bleu,
    setting_metrics,
    setting_rows,
    welch_ci,
    words,
    zipf_slope,
)
from textgen.metrics.judge import judge_bpc
from textgen.report.reference import held_out_pieces

TRAIN = ("the will to power is the will to truth, and the truth of the will is power. "
         "what is good? all that heightens the feeling of power in man. ") * 3
INDEX = CopyIndex(TRAIN, window=8)
small_text = st.text(alphabet="ab c", min_size=0, max_size=60)


def _brute_longest(text: str, train: str, window: int) -> int:
    best = 0
    for i in range(len(text)):
        while i + best < len(text) and text[i:i + best + 1] in train:
            best += 1
    return best if best >= window else 0


@given(st.integers(0, len(TRAIN) - 8), st.integers(8, 120))
def test_copy_rate_of_a_training_substring_is_one(start, length):
    piece = TRAIN[start:start + length]
    assume(len(piece) >= 8)
    assert INDEX.copy_rate(piece) == 1.0
    assert INDEX.longest_copy(piece) == len(piece)


@given(st.text(alphabet="the wilopr", min_size=0, max_size=40), st.sampled_from("§X7\n"))
def test_windows_with_a_char_outside_the_training_text_are_never_copied(text, foreign):
    spaced = foreign.join(text[i:i + 6] for i in range(0, max(len(text), 1), 6)) + foreign
    assert set(spaced) - set(TRAIN)
    copied = INDEX.copied_windows(spaced)
    assert not copied.any()
    assert INDEX.copy_rate(spaced) in (0.0,) or math.isnan(INDEX.copy_rate(spaced))
    assert INDEX.longest_copy(spaced) == 0


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="abc ", min_size=20, max_size=200), small_text, st.integers(2, 6))
def test_longest_copy_is_the_longest_verbatim_substring(train, text, window):
    index = CopyIndex(train, window)
    assert index.longest_copy(text) == _brute_longest(text, train, window)
    windows = [text[i:i + window] for i in range(len(text) - window + 1)]
    assert index.copied_windows(text).tolist() == [w in train for w in windows]


@settings(max_examples=40, deadline=None)
@given(st.lists(small_text, max_size=6))
def test_copy_stats_of_many_texts_are_each_texts_own(texts):
    index = CopyIndex("ab cab cba abc " * 3, 4)
    alone = [index.copy_stats(t) for t in texts]
    together = index.copy_stats_many(texts)
    flat = [v for pair in together for v in pair]
    assert flat == pytest.approx([v for pair in alone for v in pair], nan_ok=True)
    for text, (rate, _) in zip(texts, together, strict=True):
        copied = index.copied_windows(text)
        assert math.isnan(rate) if len(copied) == 0 else rate == copied.mean()


def test_copy_rate_edge_cases():
    assert math.isnan(INDEX.copy_rate("short"))
    assert INDEX.longest_copy("") == 0
    assert CopyIndex("abc", 8).copy_rate("abcabcabc") == 0.0
    with pytest.raises(ValueError, match="window"):
        CopyIndex("abc", 0)


@given(st.integers(2, 10), st.integers(0, 2**32))
def test_zipf_slope_of_an_exact_zipf_sample_is_minus_one(ranks, seed):
    tokens = [f"w{chr(96 + r)}" for r in range(1, ranks + 1) for _ in range(2520 // r)]
    random.Random(seed).shuffle(tokens)
    assert zipf_slope(tokens) == pytest.approx(-1.0, abs=1e-9)
    assert zipf_slope(" ".join(tokens)) == pytest.approx(-1.0, abs=1e-9)


@given(st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f"]), max_size=80))
def test_zipf_slope_is_never_positive(tokens):
    slope = zipf_slope(tokens)
    assert math.isnan(slope) == (len(set(tokens)) < 2)
    assert math.isnan(slope) or slope <= 1e-12


def test_zipf_slope_of_distinct_words_is_flat():
    assert zipf_slope("one two three four") == 0.0
    assert math.isnan(zipf_slope("echo echo echo"))


sentences = st.lists(st.sampled_from(["the", "will", "to", "power", "is", "truth", "of"]),
                     min_size=0, max_size=25).map(" ".join)


@given(sentences, st.integers(2, 6))
def test_self_bleu_of_identical_samples_is_one(text, count):
    scores = self_bleu([text] * count)
    if words(text):
        assert scores == pytest.approx([1.0] * count)
    else:
        assert all(math.isnan(s) for s in scores)


@settings(max_examples=50, deadline=None)
@given(st.lists(sentences, min_size=2, max_size=7), st.integers(2, 7))
def test_self_bleu_is_bleu_against_the_other_samples(texts, limit):
    tokens = [words(t) for t in texts[:limit]]
    expected = [bleu(t, tokens[:i] + tokens[i + 1:]) for i, t in enumerate(tokens)]
    got = self_bleu(texts, limit)
    assert got[:len(tokens)] == pytest.approx(expected, nan_ok=True)
    assert all(math.isnan(g) for g in got[len(tokens):])
    assert all(math.isnan(g) or 0.0 <= g <= 1.0 + 1e-12 for g in got)


def test_bleu_brevity_penalty_and_no_overlap():
    ref = "a b c d e f g h".split()
    assert bleu(ref, [ref]) == 1.0
    assert bleu("x y z w".split(), [ref]) == 0.0
    short = bleu("a b c d".split(), [ref])
    assert short == pytest.approx(math.exp(1 - 8 / 4))  # all n-grams match: only the penalty
    assert math.isnan(self_bleu(["a b c"])[0])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.text(alphabet="ab c", max_size=8),
                          st.text(alphabet="ab c", max_size=30)), min_size=1, max_size=6))
def test_judge_scores_each_text_as_alone(pieces):
    judge = KneserNey.fit("abc cab ba " * 20, 4)
    texts, contexts = [t for _, t in pieces], [c for c, _ in pieces]
    got = judge_bpc(judge, texts, contexts)
    for text, context, value in zip(texts, contexts, got, strict=True):
        if text:
            assert value == pytest.approx(judge.bpc(text, context), rel=1e-12)
        else:
            assert math.isnan(value)


def test_judge_skips_unknown_prompt_chars_and_leaves_unknown_texts_unscored():
    judge = KneserNey.fit("abc cab ba " * 20, 3)
    assert judge_bpc(judge, ["abc"], ["§ab§"]) == [judge.bpc("abc", "ab")]
    assert math.isnan(judge_bpc(judge, ["ab§"], ["ab"])[0])


def test_judge_finds_real_text_easier_than_noise():
    index = TrainingIndex.build(TRAIN, copy_window=8, judge_order=4)
    real = Sample(text=TRAIN[10:90], prompt=TRAIN[:10])
    noise = Sample(text="wtoh rsi.,eplw hwtr ot?ag lheo wlp,ti" * 2, prompt=TRAIN[:10])
    assert sample_metrics(real, index)["judge_bpc"] < sample_metrics(noise, index)["judge_bpc"]


def test_self_bleu_compares_within_groups_only():
    index = TrainingIndex()
    samples = [Sample(text=t) for t in ("a b c d e", "a b c d e", "x y z w v", "x y z w v")]
    rows = setting_rows(samples, index, groups=[0, 1, 0, 1])
    assert [r["self_bleu"] for r in rows] == [0.0, 0.0, 0.0, 0.0]
    rows = setting_rows(samples, index, groups=[0, 0, 1, 1])
    assert [r["self_bleu"] for r in rows] == [1.0, 1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="groups"):
        setting_rows(samples, index, groups=[0])


def test_setting_rows_agree_with_sample_metrics_and_fill_self_bleu():
    index = TrainingIndex.build(TRAIN, copy_window=8, judge_order=3)
    samples = [Sample(text=TRAIN[i:i + 70], prompt=TRAIN[max(i - 20, 0):i], seed=i)
               for i in (0, 33, 71)]
    rows = setting_rows(samples, index)
    for sample, row in zip(samples, rows, strict=True):
        alone = sample_metrics(sample, index)
        assert set(row) == set(alone) == set(SAMPLE_KEYS)
        for key in SAMPLE_KEYS:
            if key != "self_bleu":
                assert row[key] == pytest.approx(alone[key], nan_ok=True)
        assert row["copy_rate"] == 1.0 and row["longest_copy"] == 70.0
        assert 0.0 < row["self_bleu"] <= 1.0
    table = setting_metrics(samples, index.vocabulary)  # a bare vocabulary: new columns NaN
    assert all(math.isnan(v) for v in table["copy_rate"] + table["judge_bpc"])


@given(st.lists(st.floats(-1e6, 1e6, allow_subnormal=False), min_size=1, max_size=30))
def test_paired_interval_of_identical_settings_is_zero(values):
    rows = {i: {"m": v} for i, v in enumerate(values)}
    diff = paired_differences(rows, dict(rows), ["m"])["m"]
    assert diff["paired"] == (0.0, 0.0, 0.0)
    assert diff["pairs"] == len(values)
    assert not excludes_zero(diff["paired"])


@given(st.lists(st.floats(-100, 100, allow_subnormal=False), min_size=2, max_size=30),
       st.floats(0.5, 10, allow_subnormal=False))
def test_a_constant_shift_is_exact_paired_but_blurred_unpaired(values, shift):
    assume(max(values) - min(values) > 1e-3)
    first = {i: {"m": v + shift} for i, v in enumerate(values)}
    second = {i: {"m": v} for i, v in enumerate(values)}
    diff = paired_differences(first, second, ["m"])["m"]
    mean, low, high = diff["paired"]
    assert mean == pytest.approx(shift) and high - low < 1e-6 * (1 + shift)
    assert excludes_zero(diff["paired"])
    u_mean, u_low, u_high = diff["unpaired"]
    assert u_mean == pytest.approx(shift) and u_high - u_low > high - low


def test_paired_differences_pair_by_key_and_skip_nan():
    first = {("p", 1): {"m": 3.0}, ("p", 2): {"m": 5.0}, ("q", 1): {"m": math.nan}}
    second = {("p", 2): {"m": 4.0}, ("p", 1): {"m": 1.0}, ("q", 1): {"m": 0.0}, ("r", 9): {}}
    diff = paired_differences(first, second, ["m"])["m"]
    assert diff["pairs"] == 2
    assert diff["paired"][0] == pytest.approx(1.5)  # (3 - 1) and (5 - 4)


def test_welch_interval_matches_a_hand_computation():
    mean, low, high = welch_ci([1.0, 2.0, 3.0], [2.0, 4.0, 6.0, 8.0])
    # var 1/3 and 20/3 / 4 = 5/3; df = 2^2 / ((1/3)^2 / 2 + (5/3)^2 / 3) = 4.03 -> 4
    assert mean == pytest.approx(-3.0)
    assert (high - low) / 2 == pytest.approx(2.7764451 * math.sqrt(2.0), rel=1e-6)


def test_held_out_pieces_are_even_non_overlapping_and_in_the_alphabet():
    text = "".join(chr(97 + i % 26) for i in range(1000)) + "§"
    pieces = held_out_pieces(text, 5, 10, 40, alphabet=set(text) - {"§"})
    assert len(pieces) == 5 and all(len(p) == 10 and len(t) == 40 for p, t in pieces)
    assert [p + t for p, t in pieces] == [text[i:i + 50] for i in (0, 200, 400, 600, 800)]
    assert held_out_pieces("abc", 5, 10, 40) == []
    assert len(held_out_pieces(text, 100, 10, 40)) == 20
