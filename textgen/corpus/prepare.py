"""A spec's corpus made ready for a run: read, split, encoded, and prompts drawn from it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from textgen.corpus.dataset import split, with_context
from textgen.corpus.manifest import load_manifest
from textgen.corpus.resolve import load_text
from textgen.corpus.vocab import CharVocab
from textgen.errors import CorpusError
from textgen.spec.schema import Spec


@dataclass
class Corpus:
    """The prepared text: vocabulary from the training split, ids for training and scoring."""

    text: str
    train_text: str
    val_text: str
    vocab: CharVocab
    train_ids: np.ndarray
    scoring_ids: np.ndarray


def prepare_corpus(spec: Spec) -> Corpus:
    """Read the spec's corpus and check it is long enough for its windows and held-out part."""
    c = spec.corpus
    text = load_text(c.name, c.path, c.lowercase, c.fold_newlines)
    if c.max_chars:
        text = text[:c.max_chars]
    try:
        train_text, val_text = split(text, c.val_fraction)
    except ValueError as err:
        raise CorpusError(f"the corpus {c.path or c.name}: {err}") from None
    need = max(spec.training.seq_len, spec.evaluation.context) + 1
    if len(train_text) < need:
        raise CorpusError(f"the corpus {c.path or c.name} is too short: its training part has "
                          f"{len(train_text)} characters, but windows of "
                          f"seq_len={spec.training.seq_len} need at least {need}. Use a longer "
                          "text or a smaller training.seq_len.")
    vocab = CharVocab.from_text(train_text)
    train_ids = vocab.encode(train_text)
    val_ids = vocab.encode(val_text, unknown="skip")  # unseen chars cannot be scored
    if len(val_ids) == 0:
        raise CorpusError("the held-out part of the corpus is empty; raise corpus.val_fraction")
    scoring = with_context(train_ids, val_ids, spec.evaluation.context)
    return Corpus(text, train_text, val_text, vocab, train_ids, scoring)


def prepare_prompt(spec: Spec, prompt: str) -> str:
    """A user's prompt as the corpus was prepared: lowercased when the training text was."""
    lowercase = spec.corpus.lowercase
    if lowercase is None and spec.corpus.name and not spec.corpus.path:
        try:
            lowercase = load_manifest(spec.corpus.name).preprocess.lowercase
        except CorpusError:
            lowercase = False  # the manifest is gone; the vocabulary check still guards
    return prompt.lower() if lowercase else prompt


def draw_prompts(text: str, count: int, length: int, seed: int) -> list[str]:
    """``count`` prompts of ``length`` chars from ``text``, each starting at a word."""
    rng = np.random.default_rng(seed)
    starts = [i + 1 for i in range(len(text) - length - 1) if text[i] in " \n"] or [0]
    return [text[s:s + length] for s in rng.choice(starts, size=count)]
