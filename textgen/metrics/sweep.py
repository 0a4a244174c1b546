"""A sampler sweep's metrics, as metrics.json stores them: one summary per setting, the held-out
text's row computed the same way, and paired differences between coupled settings.

Each sample's metrics are computed once; the summaries and the paired differences both read
those rows, so comparing settings costs no metric twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from textgen.metrics.index import TrainingIndex
from textgen.metrics.paired import paired_differences
from textgen.metrics.summary import SAMPLE_KEYS, MetricFn, aggregate, setting_rows
from textgen.metrics.text import complete_words, invented_words
from textgen.records import Sample

REFERENCE_LABEL = "held-out text"
EXAMPLES = 12  # invented words kept per setting


def _listed(intervals: Mapping[str, Sequence[float]]) -> dict[str, list[float]]:
    return {name: list(v) for name, v in intervals.items()}


def _invented(samples: list[Sample], index: TrainingIndex, examples: int) -> list[str]:
    if index.vocabulary is None:
        return []
    vocab = index.vocabulary
    found = dict.fromkeys(w for s in samples
                          for w in invented_words(complete_words(s.text, s.prompt), vocab))
    return list(found)[:examples]


def summarize_sweep(samples: Sequence[Sample], settings: Sequence[tuple[str, Any]],
                    index: TrainingIndex, *, reference: Sequence[Sample] = (),
                    compare: Sequence[tuple[int, int]] = (),
                    extra: Mapping[str, MetricFn] | None = None,
                    confidence: float = 0.95, examples: int = EXAMPLES) -> dict[str, Any]:
    """metrics.json's ``settings``, ``reference`` and ``comparisons`` entries.

    ``settings`` holds (label, sampler_config) per setting, in the order of ``Sample.setting``;
    ``reference`` is real held-out text as samples (``reference`` is None without it);
    ``compare`` lists (setting, baseline) index pairs, each giving ``setting - baseline``
    per metric over the samples both have with the same prompt and seed.
    """
    keys = [*SAMPLE_KEYS, *(extra or {})]
    every = setting_rows(samples, index, extra, groups=[s.setting for s in samples])
    rows: list[dict[tuple[str, int], dict[str, float]]] = []
    summaries = []
    for k, (label, config) in enumerate(settings):
        own = [s for s in samples if s.setting == k]
        own_rows = [r for s, r in zip(samples, every, strict=True) if s.setting == k]
        rows.append({(s.prompt, s.seed): r for s, r in zip(own, own_rows, strict=True)})
        summaries.append({"sampler": label, "sampler_config": config, "samples": len(own),
                          "metrics": _listed(aggregate(own_rows, [s.text for s in own], keys,
                                                       confidence)),
                          "invented_examples": _invented(own, index, examples)})
    out: dict[str, Any] = {"settings": summaries, "reference": None, "comparisons": []}
    if reference:
        ref = list(reference)
        ref_rows = setting_rows(ref, index, extra)
        out["reference"] = {
            "sampler": REFERENCE_LABEL, "samples": len(ref),
            "length": max(len(s.text) for s in ref),
            "metrics": _listed(aggregate(ref_rows, [s.text for s in ref], keys, confidence)),
            "invented_examples": _invented(ref, index, examples)}
    for k, base in compare:
        diff = paired_differences(rows[k], rows[base], keys, confidence)
        out["comparisons"].append({
            "setting": settings[k][0], "baseline": settings[base][0],
            "setting_index": k, "baseline_index": base,
            "pairs": max((d["pairs"] for d in diff.values()), default=0),
            "difference": {key: list(d["paired"]) for key, d in diff.items()},
            "unpaired": {key: list(d["unpaired"]) for key, d in diff.items()}})
    return out
