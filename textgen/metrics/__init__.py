"""Text metrics for generated samples: pure Python, no TensorFlow. See ``docs/metrics.md``."""

from textgen.metrics.copying import CopyIndex
from textgen.metrics.index import TrainingIndex
from textgen.metrics.paired import excludes_zero, paired_differences, welch_ci
from textgen.metrics.selfbleu import bleu, self_bleu
from textgen.metrics.stats import mean_ci, t_quantile
from textgen.metrics.summary import (
    METRIC_INFO,
    SAMPLE_KEYS,
    Sample,
    aggregate,
    corpus_char_entropy,
    sample_metrics,
    setting_metrics,
    setting_rows,
)
from textgen.metrics.text import (
    char_ngram_entropy,
    complete_words,
    compression_ratio,
    distinct_n,
    invented_words,
    real_word_share,
    repetition,
    word_vocabulary,
    words,
)
from textgen.metrics.zipf import zipf_slope

__all__ = [
    "METRIC_INFO",
    "SAMPLE_KEYS",
    "CopyIndex",
    "Sample",
    "TrainingIndex",
    "aggregate",
    "bleu",
    "excludes_zero",
    "paired_differences",
    "self_bleu",
    "setting_rows",
    "welch_ci",
    "zipf_slope",
    "char_ngram_entropy",
    "complete_words",
    "compression_ratio",
    "corpus_char_entropy",
    "distinct_n",
    "invented_words",
    "mean_ci",
    "real_word_share",
    "repetition",
    "sample_metrics",
    "setting_metrics",
    "t_quantile",
    "word_vocabulary",
    "words",
]
