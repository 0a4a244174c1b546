"""Per-sample and per-setting metric tables: what a report shows for each sampler setting.

``sample_metrics`` flattens one generated ``Sample`` into named numbers, ``setting_rows`` does
it for all the samples of a setting at once (self-BLEU needs them all, the judge scores them in
one call), and ``setting_metrics`` aggregates the rows into (mean, low, high) intervals.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence

from textgen.metrics.index import TrainingIndex, as_index
from textgen.metrics.judge import judge_bpc
from textgen.metrics.selfbleu import self_bleu
from textgen.metrics.stats import mean_ci
from textgen.metrics.text import (
    char_ngram_entropy,
    char_ngram_profile,
    complete_words,
    compression_ratio,
    distinct_n,
    distinct_share,
    invented_words,
    real_word_share,
    repetition,
    words,
)
from textgen.metrics.zipf import zipf_slope
from textgen.records import Sample

Interval = tuple[float, float, float]
MetricFn = Callable[[Sample], float]
Reference = TrainingIndex | frozenset[str] | None  # an index, a bare word vocabulary, nothing


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
    "copy_rate": "char windows (16 by default) found verbatim in the training text (share)",
    "longest_copy": "longest span found verbatim in the training text, 0 if < window (chars)",
    "zipf_slope": "slope of log word count against log rank, least squares",
    "self_bleu": "BLEU-4 against the other samples of the setting (at most 50) (share)",
    "judge_bpc": "bits per char under the Kneser-Ney n-gram of the training text (bits/char)",
    **{
        f"pooled_distinct_{n}": f"distinct char {n}-grams across all samples of a setting (share)"
        for n in (1, 2, 3, 4)
    },
}

SAMPLE_KEYS: tuple[str, ...] = tuple(k for k in METRIC_INFO if not k.startswith("pooled_"))


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values) if len(values) else math.nan


def _own_metrics(sample: Sample, index: TrainingIndex) -> dict[str, float]:
    """The built-in metrics computed one sample at a time (all but the copy index's, the
    judge's and self-BLEU, which ``setting_rows`` computes for many samples at once)."""
    text = sample.text
    out: dict[str, float] = {
        "model_entropy": _mean(sample.model_entropy),
        "sampling_entropy": _mean(sample.sampling_entropy),
        "sample_nll_bpc": -_mean(sample.token_logprob) / math.log(2),
    }
    for n in (1, 2, 3, 4):  # one count per n for both distinct-n and n-gram entropy
        out[f"distinct_{n}"], entropy = char_ngram_profile(text, n)
        if n <= 3:
            out[f"char_entropy_{n}"] = entropy
    text_words = words(text)
    out["distinct_word_1"] = distinct_share(text_words, 1)
    out["distinct_word_2"] = distinct_share(text_words, 2)
    out["repetition_4"] = repetition(text_words, 4)
    out["compression_ratio"] = compression_ratio(text)
    if index.vocabulary is None:
        out["real_word_share"] = out["invented_words"] = math.nan
    else:
        found = complete_words(text, sample.prompt)
        out["real_word_share"] = real_word_share(found, index.vocabulary)
        out["invented_words"] = float(len(invented_words(found, index.vocabulary)))
    out["copy_rate"] = out["longest_copy"] = math.nan  # filled in by the copy index
    out["zipf_slope"] = zipf_slope(text_words)
    return out


def _add_extra(out: dict[str, float], sample: Sample, extra: Mapping[str, MetricFn] | None) -> None:
    for name, fn in (extra or {}).items():
        if name in out:
            raise ValueError(f"extra metric {name!r} clashes with a built-in metric")
        out[name] = float(fn(sample))


def sample_metrics(
    sample: Sample,
    reference: Reference,
    extra: Mapping[str, MetricFn] | None = None,
) -> dict[str, float]:
    """The built-in metrics of one sample (keys as in ``SAMPLE_KEYS``), plus ``extra`` ones.

    ``reference`` is the training text's ``TrainingIndex`` (or just its word vocabulary):
    metrics whose part of it is missing are NaN. Realism metrics read words whole across the
    prompt boundary (see ``complete_words``); means over empty per-step lists are NaN;
    ``self_bleu`` needs the other samples of the setting, so it is NaN here (``setting_rows``).
    """
    out = setting_rows([sample], reference, extra)[0]  # alone in its setting: no self-BLEU
    return out


def setting_rows(
    samples: Iterable[Sample],
    reference: Reference,
    extra: Mapping[str, MetricFn] | None = None,
    groups: Sequence[Hashable] | None = None,
) -> list[dict[str, float]]:
    """``sample_metrics`` of many samples at once: the copy index and the judge see them all
    in one call each, and self-BLEU compares each sample with the others of its group (the
    first ``self_bleu_samples`` of it). ``groups`` gives each sample's group (its setting);
    by default all the samples are one setting."""
    samples = list(samples)
    index = as_index(reference)
    rows = [_own_metrics(s, index) for s in samples]
    texts = [s.text for s in samples]
    if index.copies is not None:
        for row, (rate, longest) in zip(rows, index.copies.copy_stats_many(texts), strict=True):
            row["copy_rate"], row["longest_copy"] = rate, float(longest)
    keys = list(groups) if groups is not None else [0] * len(samples)
    if len(keys) != len(samples):
        raise ValueError(f"{len(keys)} groups for {len(samples)} samples")
    members: dict[Hashable, list[int]] = {}
    for i, key in enumerate(keys):
        members.setdefault(key, []).append(i)
    for own in members.values():
        bleu = self_bleu([texts[i] for i in own], index.self_bleu_samples)
        for i, b in zip(own, bleu, strict=True):
            rows[i]["self_bleu"] = b
    judged = (judge_bpc(index.judge, texts, [s.prompt for s in samples])
              if index.judge is not None else [math.nan] * len(samples))
    for row, sample, j in zip(rows, samples, judged, strict=True):
        row["judge_bpc"] = j
        _add_extra(row, sample, extra)
    return rows


def aggregate(rows: list[dict[str, float]], texts: list[str], keys: Iterable[str],
              confidence: float = 0.95) -> dict[str, Interval]:
    """(mean, low, high) of each key over the rows, by ``mean_ci``, and
    ``pooled_distinct_1..4``: distinct char n-grams pooled across all ``texts``, as (v, v, v)."""
    out = {k: mean_ci([r[k] for r in rows], confidence) for k in keys}
    for n in (1, 2, 3, 4):
        v = distinct_n(texts, n, "char")
        out[f"pooled_distinct_{n}"] = (v, v, v)
    return out


def setting_metrics(
    samples: Iterable[Sample],
    reference: Reference,
    extra: Mapping[str, MetricFn] | None = None,
    confidence: float = 0.95,
) -> dict[str, Interval]:
    """Per-metric (mean, low, high) over the samples of one setting: ``setting_rows``, then
    ``aggregate`` (which adds the pooled distinct-n)."""
    samples = list(samples)
    rows = setting_rows(samples, reference, extra)
    return aggregate(rows, [s.text for s in samples], [*SAMPLE_KEYS, *(extra or {})], confidence)


def corpus_char_entropy(text: str) -> dict[str, float]:
    """``char_entropy_1..3`` of a text (the corpus, for comparison with the samples)."""
    return {f"char_entropy_{n}": char_ngram_entropy(text, n) for n in (1, 2, 3)}
