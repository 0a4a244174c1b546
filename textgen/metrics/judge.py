"""Judge bpc: each sample's bits per character under a model that is not the generator.

The judge is the interpolated Kneser-Ney character n-gram (``textgen.baselines.ngram``), fitted
once per run on the training text. Real held-out text scores about its held-out bpc; a sample
the judge finds much easier than that is degenerate (loops, stock phrases), much harder is noise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from textgen.baselines.ngram import KneserNey

DEFAULT_ORDER = 7  # the order Kneser-Ney does best with on Nietzsche (issue 15)


def fit_judge(train_text: str, order: int = DEFAULT_ORDER,
              alphabet: str | Sequence[str] = "") -> KneserNey:
    """The judge: a Kneser-Ney n-gram of ``order`` characters counted on ``train_text``."""
    return KneserNey.fit(train_text, order, alphabet)


def judge_bpc(judge: KneserNey, texts: Sequence[str], contexts: Sequence[str]) -> list[float]:
    """Mean bits per character of each text after its context (its prompt); NaN for "".

    Texts whose context fills the judge's window are scored in one vectorised call over the
    concatenation (the window never reaches into the text before); the others one by one.
    Context characters outside the judge's alphabet are dropped (a user's prompt with
    ``unknown_chars: skip``); a text holding one scores NaN (samples never do).
    """
    known = set(judge.chars)
    out = [math.nan] * len(texts)
    joined, spans = [], []
    at = 0
    for k, (text, context) in enumerate(zip(texts, contexts, strict=True)):
        if not text or not known.issuperset(text):
            continue
        if not known.issuperset(context):
            context = "".join(c for c in context if c in known)
        if len(context) >= judge.order - 1:
            joined.append(context + text)
            spans.append((k, at + len(context), at + len(context) + len(text)))
            at += len(context) + len(text)
        else:
            out[k] = judge.bpc(text, context)
    if joined:
        bits = judge.bits("".join(joined))
        for k, start, end in spans:
            out[k] = float(np.mean(bits[start:end]))
    return out
