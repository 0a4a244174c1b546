"""What the metrics set every sample against, built from the training text once per run."""

from __future__ import annotations

from dataclasses import dataclass

from textgen.baselines.ngram import KneserNey
from textgen.metrics.copying import DEFAULT_WINDOW, CopyIndex
from textgen.metrics.judge import DEFAULT_ORDER, fit_judge
from textgen.metrics.selfbleu import MAX_SAMPLES
from textgen.metrics.text import word_vocabulary


@dataclass(frozen=True)
class TrainingIndex:
    """The training text's word vocabulary (realism), window index (copy rate) and n-gram
    judge (judge bpc); a metric whose part is missing is NaN."""

    vocabulary: frozenset[str] | None = None
    copies: CopyIndex | None = None
    judge: KneserNey | None = None
    self_bleu_samples: int = MAX_SAMPLES

    @classmethod
    def build(cls, train_text: str, copy_window: int = DEFAULT_WINDOW,
              judge_order: int = DEFAULT_ORDER, alphabet: str = "",
              self_bleu_samples: int = MAX_SAMPLES) -> TrainingIndex:
        """Index ``train_text`` for every metric; ``alphabet`` adds characters the judge must
        know though the text lacks them (the model's vocabulary)."""
        return cls(word_vocabulary(train_text), CopyIndex(train_text, copy_window),
                   fit_judge(train_text, judge_order, alphabet), self_bleu_samples)


def as_index(reference: TrainingIndex | frozenset[str] | None) -> TrainingIndex:
    """A ``TrainingIndex`` from what a caller has: the index, a bare vocabulary, or nothing."""
    if isinstance(reference, TrainingIndex):
        return reference
    return TrainingIndex(vocabulary=reference)
