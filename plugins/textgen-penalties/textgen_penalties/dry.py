"""DRY ("don't repeat yourself"): penalise the character that would extend a repeat of the
text's own ending, more the longer the repeat, as llama.cpp's ``llama_sampler_dry_apply``
(src/llama-sampling.cpp, ported from koboldcpp; the original is text-generation-webui's).

llama.cpp is the source: it is the maintained implementation with every parameter named in the
request (multiplier, base, allowed_length, penalty_last_n, sequence breakers). Its tokens are
characters here, so a sequence breaker ``s`` is the head ``s[0]`` with the tail ``s[1:21]``
(llama.cpp's tokenisation of a breaker, with its 20-token tail limit, for one-character tokens).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from textgen.samplers.base import State
from textgen.samplers.ops import ops
from textgen_penalties.history import empty_window, max_per_symbol, push_with_matches
from textgen_penalties.vocabulary import NeedsVocabulary

FLOAT_MAX_LOG = 88.7228391  # llama.cpp's clamp: base ** exponent stays below float32's max
MAX_TAIL = 20
NO_MATCH = 1 << 30


class DRYParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    multiplier: float = Field(gt=0, allow_inf_nan=False,
                              description="penalty of a repeat one longer than allowed_length")
    base: float = Field(1.75, ge=1, allow_inf_nan=False,
                        description="the penalty grows as base ** (length - allowed_length)")
    allowed_length: int = Field(2, ge=1, le=10_000,
                                description="repeats up to this long go unpenalised")
    last_n: int = Field(1024, ge=1, le=65_536,
                        description="look for repeats in the last n generated characters")
    sequence_breakers: list[str] = Field(["\n", ":", '"', "*"],
                                         description="a repeat never extends across these")

    @field_validator("sequence_breakers")
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        if any(s == "" for s in value):
            raise ValueError("a sequence breaker must be a non-empty string")
        return value


class DRYSampler(NeedsVocabulary):
    """DRY as llama.cpp applies it, over the last ``last_n`` generated characters.

    For each earlier place where the text's ending also occurs (the longest such suffix, up to
    the last sequence breaker: a repeat never reaches back past the most recent breaker), the
    character that followed it would extend the repeat; if that repeat is at least
    ``allowed_length`` long, that character's logit loses ``multiplier * base ** (length -
    allowed_length)`` (the exponent clamped to ``88.72 / ln base`` as there), the largest such
    length per character. A character that is itself a one-character breaker is never
    penalised. Breakers with a character the model never saw can never match and are dropped.
    Only generated characters count (the prompt never reaches a stage's update).

    State: the window of the last ``last_n`` ids and, per shift k, the suffix-match length
    (``textgen_penalties.history``), so a step costs O(last_n), not llama.cpp's O(last_n)
    Z-algorithm pass over the whole window per token.
    """

    primary: ClassVar[str | None] = "multiplier"
    Params = DRYParams

    def label(self) -> str:
        p = self.params
        return (f"{self.stage_name}({p.multiplier:g}, base={p.base:g}, "
                f"allowed_length={p.allowed_length})")

    def breakers(self) -> list[tuple[int, list[int]]]:
        """``(head id, tail ids)`` per usable breaker, duplicates dropped."""
        ids = self.ids()
        found: list[tuple[int, list[int]]] = []
        for s in self.params.sequence_breakers:
            head, tail = s[0], s[1:1 + MAX_TAIL]
            if head in ids and all(c in ids for c in tail):
                entry = (ids[head], [ids[c] for c in tail])
                if entry not in found:
                    found.append(entry)
        return found

    def initial_state(self, batch_size: Any, vocab_size: int) -> State:
        """``(window, matches)``: ``[batch, last_n]`` int32 each (see ``history``)."""
        window = empty_window(batch_size, self.params.last_n)
        return window, ops.zeros_like(window)

    def repeat_limit(self, window: Any) -> Any:
        """``[batch, 1]``: how far back a repeat may reach, llama.cpp's ``rep_limit``: the
        characters after the breaker whose head is nearest the end. With no breaker in the
        window there is no limit (a repeat is bounded by the window anyway)."""
        n = int(window.shape[-1])
        place = ops.arange(n, dtype="int32")[None, :]
        breakers = self.breakers()
        singles = [head for head, tail in breakers if not tail]
        longer = [(head, tail) for head, tail in breakers if tail]
        is_single = ops.zeros_like(window) > 0
        for head in singles:
            is_single = is_single | (window == head)
        first = ops.min(ops.where(is_single, place, NO_MATCH), axis=-1, keepdims=True)
        if not longer:
            return first  # a one-character breaker's tail is empty: rep_limit = its place
        limit = first
        matched = []
        for head, tail in longer:
            match = (window == head) & (place >= len(tail))
            for offset, tid in enumerate(tail):  # the tail follows the head in the text
                later = ops.concatenate([ops.full_like(window[:, :offset + 1], -1),
                                         window[:, :n - offset - 1]], axis=-1)
                match = match & (later == tid)
            matched.append((match, len(tail)))
            first = ops.minimum(first, ops.min(ops.where(match, place, NO_MATCH), axis=-1,
                                               keepdims=True))
        limit = ops.where(limit == first, first, NO_MATCH)  # a single breaker at the head
        for match, length in matched:
            at_first = match & (place == first)
            limit = ops.minimum(limit, ops.min(ops.where(at_first, place - length, NO_MATCH),
                                               axis=-1, keepdims=True))
        return limit

    def penalty(self, logits: Any, state: State) -> Any:
        """``[batch, vocab]`` float32: what each logit loses this step (0 for most). Steps where
        no repeat reaches ``allowed_length`` (most of them) skip the work."""
        window, matches = state
        vocab = int(logits.shape[-1])
        self.check_size(vocab)
        p = self.params

        def work() -> Any:
            lengths = ops.minimum(matches, self.repeat_limit(window))
            lengths = ops.where(lengths >= p.allowed_length, lengths, -1)
            longest = max_per_symbol(lengths, window, vocab)
            exponent = longest - p.allowed_length
            if p.base > 1.000001:
                exponent = ops.minimum(exponent, int(FLOAT_MAX_LOG / math.log(p.base)))
            amount = p.multiplier * ops.power(p.base,
                                              ops.cast(ops.maximum(exponent, 0), "float32"))
            hit = longest >= p.allowed_length
            single = [head for head, tail in self.breakers() if not tail]
            if single:
                exempt = ops.sum(ops.one_hot(ops.convert_to_tensor(single, "int32"), vocab),
                                 axis=0)
                hit = hit & (exempt[None, :] == 0)
            return ops.where(hit, amount, ops.zeros_like(amount))

        return ops.cond(ops.any(matches >= p.allowed_length), work,
                        lambda: ops.zeros_like(logits))

    def warp(self, logits: Any, state: State, *, noise: Any = None) -> tuple[Any, State]:
        return logits - self.penalty(logits, state), state

    def update(self, state: State, token: Any, warped: Any) -> State:
        window, matches = state
        return push_with_matches(window, matches, token)
