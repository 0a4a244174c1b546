"""Text metrics for generated samples: pure Python, no TensorFlow. See ``docs/metrics.md``."""

from textgen.metrics.stats import mean_ci, t_quantile
from textgen.metrics.summary import (
    METRIC_INFO,
    SAMPLE_KEYS,
    Sample,
    corpus_char_entropy,
    sample_metrics,
    setting_metrics,
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

__all__ = [
    "METRIC_INFO",
    "SAMPLE_KEYS",
    "Sample",
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
