"""Metrics on generated strings: diversity, repetition, compressibility, realism, entropy.

Plain functions of text, pure Python; every one accepts ``""`` and one-character strings.
Definitions, units and edge cases are in ``docs/metrics.md``.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Literal

Unit = Literal["char", "word"]

# A word: a run of letters (any script), apostrophes allowed inside ("don't", "o'er").
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")


def _check_n(n: int, name: str = "n") -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")


def _ngrams(seq: Sequence, n: int) -> list[tuple]:
    return [tuple(seq[i : i + n]) for i in range(len(seq) - n + 1)]


def words(text: str) -> list[str]:
    """Case-folded words of ``text``: runs of letters, apostrophes allowed inside a word."""
    return _WORD.findall(text.casefold())


def complete_words(text: str, prompt: str = "") -> list[str]:
    """Words of a generated continuation ``text`` of ``prompt``, each read whole.

    A word begun in the prompt and finished in ``text`` is completed from the prompt; a word
    touching the end of ``text`` is dropped, as the length limit may have cut it off.
    """
    joined = (prompt + text).casefold()
    start, end = len(prompt), len(joined)
    return [m.group() for m in _WORD.finditer(joined) if start < m.end() < end]


def _as_words(text: str | Sequence[str]) -> list[str]:
    return words(text) if isinstance(text, str) else list(text)


def distinct_n(texts: str | Iterable[str], n: int, unit: Unit = "char") -> float:
    """Distinct n-grams / total n-grams, in [0, 1]; 0.0 when there are no n-grams.

    Given several texts, n-grams are taken within each one and pooled (none span two texts).
    """
    _check_n(n)
    if unit not in ("char", "word"):
        raise ValueError(f"unit must be 'char' or 'word', got {unit!r}")
    if isinstance(texts, str):
        texts = [texts]
    seen: set[tuple] = set()
    total = 0
    for text in texts:
        if not isinstance(text, str):
            raise TypeError(f"distinct_n expects strings, got {type(text).__name__}")
        grams = _ngrams(text if unit == "char" else words(text), n)
        seen.update(grams)
        total += len(grams)
    return len(seen) / total if total else 0.0


def repetition(text: str, n: int = 4) -> float:
    """Share of word n-grams equal to an earlier n-gram of the same text, in [0, 1).

    repeats / total, where an n-gram repeats if it already occurred; 0.0 when there are none.
    """
    _check_n(n)
    grams = _ngrams(words(text), n)
    return (len(grams) - len(set(grams))) / len(grams) if grams else 0.0


def compression_ratio(text: str) -> float:
    """len(zlib.compress(utf8, level 9)) / len(utf8); 0.0 for "". Lower = more repetitive.

    Short texts exceed 1 (zlib adds ~11 bytes of header and checksum).
    """
    data = text.encode("utf-8", "surrogatepass")
    return len(zlib.compress(data, 9)) / len(data) if data else 0.0


def word_vocabulary(corpus_text: str) -> frozenset[str]:
    """The set of (case-folded) words of a corpus, the reference for realism metrics."""
    return frozenset(words(corpus_text))


def real_word_share(text: str | Sequence[str], vocabulary: Iterable[str]) -> float:
    """Share of the words of ``text`` (or a list of words) found in ``vocabulary``, in [0, 1].

    Counts every occurrence; NaN when the text has no words (undefined, ignored by ``mean_ci``).
    """
    found = _as_words(text)
    vocab = vocabulary if isinstance(vocabulary, (set, frozenset)) else set(vocabulary)
    return sum(w in vocab for w in found) / len(found) if found else math.nan


def invented_words(text: str | Sequence[str], vocabulary: Iterable[str]) -> list[str]:
    """Distinct words of ``text`` (or a list of words) not in ``vocabulary``, first seen first."""
    vocab = vocabulary if isinstance(vocabulary, (set, frozenset)) else set(vocabulary)
    return list(dict.fromkeys(w for w in _as_words(text) if w not in vocab))


def char_ngram_entropy(text: str, n: int = 1) -> float:
    """Shannon entropy -sum p log2 p (bits) of the character n-gram frequencies of ``text``.

    In [0, log2(number of n-grams)]; 0.0 when the text has no n-grams.
    """
    _check_n(n)
    counts = Counter(text[i : i + n] for i in range(len(text) - n + 1))
    total = sum(counts.values())
    if total == 0:
        return 0.0
    h = -sum(c / total * math.log2(c / total) for c in counts.values())
    return max(h, 0.0)  # a single n-gram type gives -0.0
