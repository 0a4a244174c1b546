"""Repetition, frequency and presence penalties over the last n characters, as llama.cpp's
``llama_sampler_penalties_apply`` / ``_accept`` (src/llama-sampling.cpp).

llama.cpp is the source because it defines all three over one window of the last n tokens, with
the OpenAI API's additive frequency and presence terms (transformers has only the repetition
one, over the whole sequence: the ``repetition_penalty`` stage of textgen-mirostat).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from textgen.samplers.base import Sampler, State
from textgen.samplers.ops import ops
from textgen_penalties.history import empty_window, push

MAX_WINDOW = 65_536


class PenaltiesParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    last_n: int = Field(64, description="penalise what the last n generated characters hold; -1: "
                                        "everything generated (the OpenAI API's rule)")
    repeat: float = Field(1.0, gt=0, allow_inf_nan=False,
                          description="divide positive (multiply other) logits of repeated "
                                      "characters by this; 1 is off")
    frequency: float = Field(0.0, ge=-2, le=2, allow_inf_nan=False,
                             description="subtract this times the character's count")
    presence: float = Field(0.0, ge=-2, le=2, allow_inf_nan=False,
                            description="subtract this once from every character that occurs")

    @field_validator("last_n")
    @classmethod
    def _window(cls, value: int) -> int:
        if value != -1 and not 1 <= value <= MAX_WINDOW:
            raise ValueError(f"last_n must be -1 (everything generated) or in [1, {MAX_WINDOW}], "
                             f"got {value}")
        return value


class PenaltiesSampler(Sampler):
    """llama.cpp's penalties: for every character that occurs ``c > 0`` times among the last
    ``last_n`` generated ones, ``logit <= 0 ? logit * repeat : logit / repeat``, then
    ``logit -= c * frequency + presence``. Only generated characters count (the prompt never
    reaches a stage's update; llama.cpp's server feeds it the prompt too). Frequency and presence
    are bounded as the OpenAI API bounds them, [-2, 2]. State: the window ``[batch, last_n]``
    and the counts ``[batch, vocab]`` it holds, updated in O(vocab) per step.
    """

    primary: ClassVar[str | None] = None
    Params = PenaltiesParams

    def label(self) -> str:
        p = self.params
        parts = [f"{key}={getattr(p, key):g}" for key, off in
                 (("repeat", 1.0), ("frequency", 0.0), ("presence", 0.0))
                 if getattr(p, key) != off]
        return f"{self.stage_name}({', '.join(parts + [f'last_n={p.last_n}'])})"

    def initial_state(self, batch_size: Any, vocab_size: int) -> State:
        """``(window, counts)``: ids newest first (-1 empty), and counts per character."""
        return (empty_window(batch_size, max(self.params.last_n, 1)),
                ops.zeros((batch_size, vocab_size), dtype="float32"))

    def warp(self, logits: Any, state: State, *, noise: Any = None) -> tuple[Any, State]:
        _, counts = state
        p = self.params
        penalised = ops.where(logits <= 0, logits * p.repeat, logits / p.repeat)
        penalised = penalised - (counts * p.frequency + p.presence)
        return ops.where(counts > 0, penalised, logits), state

    def update(self, state: State, token: Any, warped: Any) -> State:
        window, counts = state
        vocab = int(counts.shape[-1])
        counts = counts + ops.one_hot(ops.cast(token, "int32"), vocab)
        if self.params.last_n == -1:
            return window, counts
        counts = counts - ops.one_hot(window[:, -1], vocab)  # -1 (not yet full) is all zeros
        return push(window, token), counts
