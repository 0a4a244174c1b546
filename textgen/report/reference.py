"""The corpus's own numbers that a report sets the samples against, computed once per run.

Character n-gram entropy grows with the length of the text it is measured on, so besides the
whole training text we measure windows of the corpus exactly as long as the samples. The
held-out row of every table is real held-out text cut into pieces shaped like the samples
(a prompt, then a continuation of the same length), scored by the same metrics.
"""

from __future__ import annotations

from collections.abc import Container

from textgen.metrics import corpus_char_entropy, mean_ci

MAX_WINDOWS = 1000


def window_char_entropy(text: str, length: int, max_windows: int = MAX_WINDOWS) -> dict:
    """``char_entropy_1..3`` as (mean, low, high) over evenly spaced, non-overlapping windows
    of ``length`` chars; ``{}`` when the text is shorter than one window."""
    if length < 1:
        raise ValueError(f"window length must be at least 1, got {length}")
    count = min(len(text) // length, max_windows)
    if count == 0:
        return {}
    step = len(text) // count
    rows = [corpus_char_entropy(text[i * step:i * step + length]) for i in range(count)]
    out: dict = {"length": length, "windows": count}
    out.update({k: list(mean_ci([r[k] for r in rows])) for k in rows[0]})
    return out


def corpus_reference(train_text: str, sample_length: int) -> dict:
    """The entries a run adds to metrics.json: the whole text's and same-length windows'
    char n-gram entropy (``corpus_char_entropy``, ``corpus_window_char_entropy``)."""
    return {"corpus_char_entropy": corpus_char_entropy(train_text),
            "corpus_window_char_entropy": window_char_entropy(train_text, sample_length)}


def held_out_pieces(text: str, count: int, prompt_length: int, length: int,
                    alphabet: Container[str] | None = None) -> list[tuple[str, str]]:
    """Up to ``count`` (prompt, continuation) pairs of ``prompt_length`` and ``length`` chars,
    evenly spaced and non-overlapping in ``text``; characters outside ``alphabet`` (the
    model's vocabulary) are dropped first, as held-out scoring drops them."""
    if alphabet is not None:
        text = "".join(c for c in text if c in alphabet)
    size = prompt_length + length
    count = min(count, len(text) // size) if size > 0 else 0
    if count <= 0:
        return []
    step = len(text) // count
    return [(text[i * step:i * step + prompt_length],
             text[i * step + prompt_length:i * step + size]) for i in range(count)]
