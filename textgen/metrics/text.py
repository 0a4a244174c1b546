"""Metrics on generated strings: diversity, repetition, compressibility, realism, entropy.

Plain functions of text (Python and NumPy); every one accepts ``""`` and one-character strings.
Definitions, units and edge cases are in ``docs/metrics.md``.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np

Unit = Literal["char", "word"]

# A word: a run of letters (any script), apostrophes allowed inside ("don't", "o'er").
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")


def _check_n(n: int, name: str = "n") -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")


def _ngrams(seq: Sequence, n: int) -> list:
    """The n-grams of a string (as substrings, the fast way) or of a list (as tuples)."""
    if isinstance(seq, str):
        return [seq[i : i + n] for i in range(len(seq) - n + 1)]
    return list(zip(*(seq[k:] for k in range(n)), strict=False))


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
    seen: set = set()
    total = 0
    for text in texts:
        if not isinstance(text, str):
            raise TypeError(f"distinct_n expects strings, got {type(text).__name__}")
        grams = _ngrams(text if unit == "char" else words(text), n)
        seen.update(grams)
        total += len(grams)
    return len(seen) / total if total else 0.0


def distinct_share(units: str | Sequence[str], n: int) -> float:
    """Distinct n-grams / n-grams of one sequence: the chars of a string or a list of words
    (``distinct_n`` of one text, without reading its words again); 0.0 when there are none."""
    _check_n(n)
    grams = _ngrams(units, n)
    return len(set(grams)) / len(grams) if grams else 0.0


def repetition(text: str | Sequence[str], n: int = 4) -> float:
    """Share of word n-grams equal to an earlier n-gram of the same text, in [0, 1).

    repeats / total, where an n-gram repeats if it already occurred; 0.0 when there are none.
    Takes a text or its list of words.
    """
    _check_n(n)
    grams = _ngrams(_as_words(text), n)
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
    return char_ngram_profile(text, n)[1]


def char_ngram_profile(text: str, n: int) -> tuple[float, float]:
    """(distinct share, entropy in bits) of the char n-grams of ``text``, from one count:
    ``distinct_share(text, n)`` and ``char_ngram_entropy(text, n)``.

    Counted with NumPy (each n-gram one integer code): a few times faster than Python's
    ``Counter`` on a few hundred characters, which matters once per sample and n.
    """
    _check_n(n)
    total = len(text) - n + 1
    if total <= 0:
        return 0.0, 0.0
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    kinds, dense = np.unique(points, return_inverse=True)
    if n * math.log2(max(len(kinds), 2)) > 62:  # codes would overflow: count the slices
        counts = np.array(list(Counter(text[i : i + n] for i in range(total)).values()))
    else:
        codes = np.zeros(total, dtype=np.int64)
        for k in range(n):
            codes = codes * len(kinds) + dense[k : k + total]
        counts = np.unique(codes, return_counts=True)[1]
    p = counts / total
    h = float(-(p * np.log2(p)).sum())
    return len(counts) / total, max(h, 0.0)  # a single n-gram type gives -0.0
