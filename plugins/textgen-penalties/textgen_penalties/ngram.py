"""No-repeat n-gram: never complete an n-gram the text already holds, as transformers'
``NoRepeatNGramLogitsProcessor.__call__`` with ``_calc_banned_ngram_tokens``
(src/transformers/generation/logits_process.py, from fairseq); only transformers ships it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from textgen.samplers.base import Sampler, State
from textgen.samplers.ops import ops
from textgen_penalties.history import ban, empty_window, max_per_symbol, push_with_matches


class NoRepeatNGramParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int = Field(ge=1, le=1_000, description="every n-gram of this many characters may "
                                                 "occur once")
    last_n: int = Field(2048, ge=1, le=65_536,
                        description="the n-grams looked at are those of the last n generated "
                                    "characters")


class NoRepeatNGramSampler(Sampler):
    """Ban every character that would complete an n-gram (``size`` characters) already in the
    text: wherever the last ``size - 1`` characters occurred before, the character that followed
    them is set to ``-inf``. Before ``size - 1`` characters exist nothing is banned.

    Two differences from transformers, both from textgen's stage contract: only generated
    characters count (transformers' ``input_ids`` include the prompt), and the text looked at
    is the last ``last_n`` generated characters (exact for samples up to that long), because a
    stage's state has a fixed size. Where every character would be banned (transformers then
    fails in ``torch.multinomial``) the most likely one stays, so a row is never left empty.
    """

    primary: ClassVar[str | None] = "size"
    Params = NoRepeatNGramParams

    def label(self) -> str:
        return f"{self.stage_name}({self.params.size})"

    def initial_state(self, batch_size: Any, vocab_size: int) -> State:
        """``(window, matches)``: ``[batch, last_n]`` int32 each (see ``history``)."""
        window = empty_window(batch_size, self.params.last_n)
        return window, ops.zeros_like(window)

    def banned(self, logits: Any, state: State) -> Any:
        """``[batch, vocab]`` bool: the characters that would repeat an n-gram."""
        window, matches = state
        hits = ops.where(matches >= self.params.size - 1, 1, -1)  # ids past the fill are -1
        return max_per_symbol(hits, window, int(logits.shape[-1])) > 0

    def warp(self, logits: Any, state: State, *, noise: Any = None) -> tuple[Any, State]:
        return ban(logits, self.banned(logits, state)), state

    def update(self, state: State, token: Any, warped: Any) -> State:
        window, matches = state
        return push_with_matches(window, matches, token)
