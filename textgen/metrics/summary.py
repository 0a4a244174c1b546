"""Per-sample and per-setting metric tables: what a report shows for each sampler setting.

``sample_metrics`` flattens one generated ``Sample`` into named numbers and ``setting_metrics``
aggregates them into (mean, low, high) intervals.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping

from textgen.metrics.stats import mean_ci
from textgen.metrics.text import (
    char_ngram_entropy,
    complete_words,
    compression_ratio,
    distinct_n,
    invented_words,
    real_word_share,
    repetition,
)
from textgen.records import Sample

Interval = tuple[float, float, float]
MetricFn = Callable[[Sample], float]


METRIC_INFO: dict[str, str] = {
    "model_entropy": "entropy of the model's next-char distribution at T=1, mean (bits)",
    "sampling_entropy": "entropy of the distribution actually sampled from, mean (bits)",
    "sample_nll_bpc": "negative log-likelihood of the sample under the model (bits/char)",
    **{f"distinct_{n}": f"distinct char {n}-grams / char {n}-grams (share)" for n in (1, 2, 3, 4)},
    "distinct_word_1": "distinct words / all words (share)",
    "distinct_word_2": "distinct word bigrams / all word bigrams (share)",
    "repetition_4": "word 4-grams repeating an earlier one in the sample (share)",
    "compression_ratio": "zlib level-9 size / UTF-8 size; lower = more repetitive (ratio)",
    "real_word_share": "words of the sample found in the training text (share)",
    "invented_words": "distinct words not in the training text (count)",
    **{f"char_entropy_{n}": f"entropy of the char {n}-gram frequencies (bits)" for n in (1, 2, 3)},
    **{
        f"pooled_distinct_{n}": f"distinct char {n}-grams across all samples of a setting (share)"
        for n in (1, 2, 3, 4)
    },
}

SAMPLE_KEYS: tuple[str, ...] = tuple(k for k in METRIC_INFO if not k.startswith("pooled_"))


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values) if len(values) else math.nan


def sample_metrics(
    sample: Sample,
    vocabulary: frozenset[str] | None,
    extra: Mapping[str, MetricFn] | None = None,
) -> dict[str, float]:
    """The built-in metrics of one sample (keys as in ``METRIC_INFO``), plus ``extra`` ones.

    Realism metrics read words whole across the prompt boundary (see ``complete_words``) and
    are NaN without a ``vocabulary``; means over empty per-step lists are NaN.
    """
    text = sample.text
    out: dict[str, float] = {
        "model_entropy": _mean(sample.model_entropy),
        "sampling_entropy": _mean(sample.sampling_entropy),
        "sample_nll_bpc": -_mean(sample.token_logprob) / math.log(2),
    }
    for n in (1, 2, 3, 4):
        out[f"distinct_{n}"] = distinct_n(text, n, "char")
    out["distinct_word_1"] = distinct_n(text, 1, "word")
    out["distinct_word_2"] = distinct_n(text, 2, "word")
    out["repetition_4"] = repetition(text, 4)
    out["compression_ratio"] = compression_ratio(text)
    if vocabulary is None:
        out["real_word_share"] = out["invented_words"] = math.nan
    else:
        found = complete_words(text, sample.prompt)
        out["real_word_share"] = real_word_share(found, vocabulary)
        out["invented_words"] = float(len(invented_words(found, vocabulary)))
    out.update(corpus_char_entropy(text))
    for name, fn in (extra or {}).items():
        if name in out:
            raise ValueError(f"extra metric {name!r} clashes with a built-in metric")
        out[name] = float(fn(sample))
    return out


def setting_metrics(
    samples: Iterable[Sample],
    vocabulary: frozenset[str] | None,
    extra: Mapping[str, MetricFn] | None = None,
    confidence: float = 0.95,
) -> dict[str, Interval]:
    """Per-metric (mean, low, high) over the samples of one setting, by ``mean_ci``.

    Adds ``pooled_distinct_1..4``: distinct char n-grams pooled across all samples, as (v, v, v).
    """
    samples = list(samples)
    rows = [sample_metrics(s, vocabulary, extra) for s in samples]
    keys = [*SAMPLE_KEYS, *(extra or {})]
    out = {k: mean_ci([r[k] for r in rows], confidence) for k in keys}
    texts = [s.text for s in samples]
    for n in (1, 2, 3, 4):
        v = distinct_n(texts, n, "char")
        out[f"pooled_distinct_{n}"] = (v, v, v)
    return out


def corpus_char_entropy(text: str) -> dict[str, float]:
    """``char_entropy_1..3`` of a text (the corpus, for comparison with the samples)."""
    return {f"char_entropy_{n}": char_ngram_entropy(text, n) for n in (1, 2, 3)}
