"""Text metrics, intervals and per-setting summaries: hand-computed cases and properties."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textgen.metrics import (
    METRIC_INFO,
    SAMPLE_KEYS,
    Sample,
    char_ngram_entropy,
    complete_words,
    compression_ratio,
    corpus_char_entropy,
    distinct_n,
    invented_words,
    mean_ci,
    real_word_share,
    repetition,
    sample_metrics,
    setting_metrics,
    t_quantile,
    word_vocabulary,
    words,
)

VOCAB_TEXT = "Supposing that Truth is a woman--what then? Is there not ground for suspecting?"
VOCAB = word_vocabulary("The will to power. Truth is a woman -- what then? Don't ask.")
texts = st.text(max_size=60) | st.text("ab ", max_size=60) | st.sampled_from(["", "a", " "])


# --- hand-computed cases ----------------------------------------------------------------------
def test_words_case_folds_and_keeps_inner_apostrophes():
    assert words("Truth--what? Don't 'quote' x2y") == ["truth", "what", "don't", "quote", "x", "y"]


def test_distinct_n_of_known_strings():
    assert distinct_n("abab", 1) == 2 / 4
    assert distinct_n("abab", 2) == 2 / 3  # ab, ba, ab
    assert distinct_n("abcd", 4) == 1.0
    assert distinct_n("abc", 4) == 0.0
    assert distinct_n("the cat the cat", 1, "word") == 2 / 4
    assert distinct_n("the cat the cat", 2, "word") == 2 / 3


def test_distinct_n_pools_samples_without_crossing_them():
    assert distinct_n(["ab", "ab"], 2) == 1 / 2  # no "ba" across the boundary
    assert distinct_n(["ab", "cd"], 1) == 1.0
    assert distinct_n([], 1) == 0.0


def test_distinct_n_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n must be"):
        distinct_n("abc", 0)
    with pytest.raises(ValueError, match="unit"):
        distinct_n("abc", 1, "byte")


def test_repetition_of_a_repeated_string():
    assert repetition("a b c d a b c d") == 1 / 5  # 5 four-grams, the last repeats the first
    assert repetition("the " * 10) == 6 / 7
    assert repetition("one two three") == 0.0


def test_compression_ratio_is_lower_for_repetitive_text():
    assert compression_ratio("") == 0.0
    assert compression_ratio("ab" * 500) < compression_ratio(VOCAB_TEXT)



def test_entropy_of_uniform_ngrams_is_log2_k():
    assert char_ngram_entropy("abcd", 1) == pytest.approx(2.0)
    assert char_ngram_entropy("aabbccdd", 1) == pytest.approx(2.0)
    assert char_ngram_entropy("abcab", 3) == pytest.approx(math.log2(3))  # abc, bca, cab
    assert char_ngram_entropy("aaaa", 2) == 0.0
    assert char_ngram_entropy("a", 2) == 0.0


def test_real_word_share_of_a_known_text():
    assert real_word_share("The will to dance", VOCAB) == 3 / 4
    assert real_word_share("Truth truth zork", VOCAB) == 2 / 3
    assert math.isnan(real_word_share("... 42", VOCAB))
    assert invented_words("zork the blarg zork", VOCAB) == ["zork", "blarg"]


def test_complete_words_reads_words_whole_across_the_cut():
    assert complete_words("ophy of the philos", prompt="the philos") == ["philosophy", "of", "the"]
    assert complete_words("", prompt="abc") == []


def test_mean_ci_known_values():
    mean, low, high = mean_ci([1.0, 2.0, 3.0])
    half = 4.302652729749464 * 1.0 / math.sqrt(3)  # t(0.975, 2) * s / sqrt(n)
    assert (mean, low, high) == pytest.approx((2.0, 2.0 - half, 2.0 + half))
    assert mean_ci([5.0, math.nan]) == (5.0, 5.0, 5.0)
    assert all(math.isnan(v) for v in mean_ci([]))
    assert all(math.isnan(v) for v in mean_ci([math.nan]))
    assert t_quantile(0.95, 1) == pytest.approx(12.706204736)
    assert t_quantile(0.95, 30) == pytest.approx(2.042272456)
    assert t_quantile(0.95, 10**6) == pytest.approx(1.959966, abs=1e-6)
    with pytest.raises(ValueError, match="confidence"):
        mean_ci([1.0, 2.0], confidence=1.5)


def test_sample_metrics_keys_and_means():
    s = Sample("the will the will", "", "greedy", 0, [1.0, 3.0], [0.0, 0.0], [-math.log(2)] * 2)
    m = sample_metrics(s, VOCAB)
    assert set(m) == set(SAMPLE_KEYS) <= set(METRIC_INFO)
    assert m["model_entropy"] == 2.0 and m["sampling_entropy"] == 0.0
    assert m["sample_nll_bpc"] == pytest.approx(1.0)
    assert m["real_word_share"] == 1.0 and m["invented_words"] == 0.0  # trailing "will" dropped
    empty = sample_metrics(Sample(""), None)
    assert math.isnan(empty["model_entropy"]) and math.isnan(empty["real_word_share"])


def test_setting_metrics_intervals_pooled_and_extra():
    samples = [Sample("abab"), Sample("abab"), Sample("cdcd")]
    table = setting_metrics(samples, VOCAB, extra={"length": lambda s: len(s.text)})
    assert table["distinct_1"][0] == pytest.approx(0.5)
    assert table["pooled_distinct_1"] == (4 / 12, 4 / 12, 4 / 12)
    assert table["length"] == (4.0, 4.0, 4.0)
    assert set(table) == set(METRIC_INFO) | {"length"}
    with pytest.raises(ValueError, match="clashes"):
        setting_metrics(samples, None, extra={"distinct_1": len})


def test_corpus_char_entropy_keys():
    assert corpus_char_entropy("abcd") == pytest.approx(
        {"char_entropy_1": 2.0, "char_entropy_2": math.log2(3), "char_entropy_3": 1.0}
    )


# --- properties -------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(texts, st.integers(1, 4))
def test_every_text_metric_accepts_any_text_and_stays_in_range(text, n):
    for unit in ("char", "word"):
        assert 0.0 <= distinct_n(text, n, unit) <= 1.0
    assert 0.0 <= repetition(text, n) < 1.0
    assert compression_ratio(text) >= 0.0
    count = max(len(text) - n + 1, 1)
    assert 0.0 <= char_ngram_entropy(text, n) <= math.log2(count) + 1e-9
    share = real_word_share(text, VOCAB)
    assert math.isnan(share) or 0.0 <= share <= 1.0
    assert set(invented_words(text, VOCAB)).isdisjoint(VOCAB)
    assert all(w == w.casefold() for w in words(text))


@settings(max_examples=30, deadline=None)
@given(st.lists(texts, max_size=4), st.text(max_size=10))
def test_sample_and_setting_metrics_are_defined_for_any_texts(batch, prompt):
    samples = [Sample(t, prompt=prompt) for t in batch]
    for s in samples:
        m = sample_metrics(s, VOCAB)
        assert all(0.0 <= m[f"distinct_{n}"] <= 1.0 for n in (1, 2, 3, 4))
    table = setting_metrics(samples, VOCAB)
    for n in (1, 2, 3, 4):
        v = table[f"pooled_distinct_{n}"][0]
        assert 0.0 <= v <= 1.0


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6) | st.just(math.nan), max_size=40),
    st.floats(0.5, 0.999),
)
def test_mean_ci_brackets_the_mean(values, confidence):
    mean, low, high = mean_ci(values, confidence)
    if all(math.isnan(v) for v in values):
        assert math.isnan(mean)
    else:
        assert low <= mean <= high
