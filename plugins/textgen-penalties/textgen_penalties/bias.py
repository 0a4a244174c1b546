"""Logit bias and banned strings: fixed preferences given as characters.

``logit_bias`` is llama.cpp's ``llama_sampler_logit_bias_apply`` (src/llama-sampling.cpp) and the
OpenAI API's ``logit_bias``: add a constant to chosen logits; the OpenAI API's range [-100, 100]
bounds it. ``banned_strings`` is transformers' ``NoBadWordsLogitsProcessor``
(src/transformers/generation/logits_process.py; its ``SequenceBiasLogitsProcessor.__call__`` with
a bias of ``-inf``) with the banned token sequences written as strings of characters.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from textgen.samplers.base import State
from textgen.samplers.ops import ops
from textgen_penalties.history import ban, empty_window, push
from textgen_penalties.vocabulary import NeedsVocabulary, VocabularyError


class LogitBiasParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bias: dict[str, float] = Field(description="character -> amount added to its logit, in "
                                               "[-100, 100]")

    @field_validator("bias")
    @classmethod
    def _entries(cls, value: dict[str, float]) -> dict[str, float]:
        if not value:
            raise ValueError("give at least one character and its bias, e.g. {'e': -2.0}")
        for char, amount in value.items():
            if len(char) != 1:
                raise ValueError(f"keys are single characters, got {char!r}")
            if not -100 <= amount <= 100:
                raise ValueError(f"the bias of {char!r} must be in [-100, 100], got {amount}")
        return value


class LogitBiasSampler(NeedsVocabulary):
    """Add ``bias[c]`` to the logit of each character ``c`` (llama.cpp's logit-bias sampler;
    the OpenAI API's ``logit_bias`` with characters for token ids). A character the model never
    saw is an error when the stage is bound to the model's vocabulary."""

    primary: ClassVar[str | None] = "bias"
    Params = LogitBiasParams

    def label(self) -> str:
        pairs = ", ".join(f"{c!r}: {b:g}" for c, b in self.params.bias.items())
        return f"{self.stage_name}({pairs})"

    def check_vocabulary(self) -> None:
        missing = self.missing("".join(self.params.bias))
        if missing:
            raise VocabularyError(f"logit_bias names characters the model never saw: "
                                  f"{', '.join(map(repr, missing))}")

    def transform(self, logits: Any) -> Any:
        self.check_size(int(logits.shape[-1]))
        ids = self.ids()
        vector = [0.0] * int(logits.shape[-1])
        for char, amount in self.params.bias.items():
            vector[ids[char]] += amount
        return logits + ops.convert_to_tensor(vector, "float32")[None, :]


class BannedStringsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    strings: list[str] = Field(min_length=1, description="strings that must never appear in the "
                                                         "generated text")

    @field_validator("strings")
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        if any(s == "" for s in value):
            raise ValueError("a banned string must be a non-empty string")
        if max(len(s) for s in value) > 1_000:
            raise ValueError("banned strings are at most 1000 characters long")
        return value


class BannedStringsSampler(NeedsVocabulary):
    """Never complete a banned string (transformers' ``bad_words_ids``, one id per character):
    a one-character string is always ``-inf``; a longer one bans its last character whenever
    the text ends with the rest of it and, as in the source, the text is at least as long as
    the string (``len(sequence_ids) > input_ids.shape[1]`` is skipped there). Only generated
    characters count (transformers also looks at the prompt). A string with a character the
    model never saw can never appear and is ignored; banning every character of the vocabulary
    outright is refused when bound, and where the strings together would ban every character
    at some step (transformers then fails) the most likely one stays. State: the window of the
    last (longest string) ids.
    """

    primary: ClassVar[str | None] = "strings"
    Params = BannedStringsParams

    def label(self) -> str:
        return f"{self.stage_name}({', '.join(map(repr, self.params.strings))})"

    def check_vocabulary(self) -> None:
        singles = {s for s in self.params.strings if len(s) == 1}
        if self.chars is not None and set(self.chars) <= singles:
            raise VocabularyError("banned_strings bans every character of the model's "
                                  "vocabulary: nothing could be generated")

    def usable(self) -> list[list[int]]:
        """The banned strings as id lists, those the vocabulary can spell."""
        ids = self.ids()
        return [[ids[c] for c in s] for s in self.params.strings if not self.missing(s)]

    def initial_state(self, batch_size: Any, vocab_size: int) -> State:
        """``(window,)``: the last (longest string) generated ids, newest first."""
        return (empty_window(batch_size, max(len(s) for s in self.params.strings)),)

    def warp(self, logits: Any, state: State, *, noise: Any = None) -> tuple[Any, State]:
        (window,) = state
        vocab = int(logits.shape[-1])
        self.check_size(vocab)
        banned = ops.zeros_like(logits) > 1  # all False, [batch, vocab]
        for seq in self.usable():
            match = ops.ones_like(window[:, :1]) > 0  # one character: always banned
            if len(seq) > 1:  # the text is at least as long as the string
                match = window[:, len(seq) - 1:len(seq)] >= 0
            for back, tid in enumerate(reversed(seq[:-1])):
                match = match & (window[:, back:back + 1] == tid)
            banned = banned | (match & (ops.one_hot(seq[-1], vocab)[None, :] > 0))
        return ban(logits, banned), state

    def update(self, state: State, token: Any, warped: Any) -> State:
        (window,) = state
        return (push(window, token),)
