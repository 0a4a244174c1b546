"""Stages whose parameters name characters (``logit_bias: {bias: {"e": -2}}``) need the model's
vocabulary to turn them into ids. The generation code calls ``bind(vocab)`` on every stage
before decoding (as for the regex stage); call it yourself when you drive a ``Decoder``.
"""

from __future__ import annotations

from collections.abc import Sequence

from textgen.errors import TextgenError
from textgen.samplers.base import Sampler


class VocabularyError(TextgenError, ValueError):
    """A stage's parameters name characters the model's vocabulary lacks, or it was not bound."""


class NeedsVocabulary(Sampler):
    """A stage that maps characters to ids; ``chars`` is the vocabulary once bound."""

    chars: tuple[str, ...] | None = None

    def bind(self, vocab: Sequence[str]) -> None:
        """Remember the vocabulary (``vocab[i]`` is id ``i``; a ``CharVocab`` works too) and
        check the parameters against it."""
        self.chars = tuple(getattr(vocab, "chars", vocab))
        self.check_vocabulary()

    def check_vocabulary(self) -> None:
        """Raise ``VocabularyError`` for parameters the vocabulary cannot serve."""

    def ids(self) -> dict[str, int]:
        """Character -> id; a clear error if ``bind`` was never called."""
        if self.chars is None:
            raise VocabularyError(
                f"{self.stage_name} names characters, so it needs the model's vocabulary: call "
                "stage.bind(vocab) before decoding (textgen's generate does)")
        return {c: i for i, c in enumerate(self.chars)}

    def check_size(self, vocab_size: int) -> None:
        """The logits must be the bound vocabulary's: a clear error otherwise."""
        known = self.ids()
        if vocab_size != len(known):
            raise VocabularyError(f"{self.stage_name} was bound to {len(known)} characters but "
                                  f"the logits have {vocab_size}")

    def missing(self, text: str) -> list[str]:
        """The characters of ``text`` the vocabulary lacks, in order, without repeats."""
        known = self.ids()
        return list(dict.fromkeys(c for c in text if c not in known))
