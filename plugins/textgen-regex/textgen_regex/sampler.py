"""The ``regex`` stage: every drawn character keeps the text a prefix of a full match.

Per row the state is the pattern's DFA state (one int32). Each step the stage gathers the row's
line of the ``[states, vocab]`` transition table and masks every character whose next state is
dead; after the draw it moves to the drawn character's state. The stage needs the model's
characters, so the generation code calls ``bind(vocab)`` before decoding (a pattern that cannot
match is refused there); ``finished(state)`` tells the engine a row is a complete match.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from textgen.samplers.base import NEG_INF, Sampler, State
from textgen.samplers.ops import tf
from textgen_regex.dfa import PatternError, TokenDFA, compile_fsm, token_dfa


class RegexParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pattern: str = Field(description="a Python regular expression the whole sample must match "
                                     "(no anchors or back-references: it becomes a DFA)")
    stop: Literal["end", "accept"] = Field(
        "end", description="end a row when the pattern cannot go on (end) or at its first full "
                           "match (accept)")
    max_chars: int | None = Field(
        None, ge=1, description="complete the match within this many characters (only the "
                                "characters that can still finish in time are allowed); set it "
                                "to generation.length and every sample is a full match")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        compile_fsm(value)  # PatternError is a ValueError: pydantic reports it on `pattern`
        return value


class RegexSampler(Sampler):
    """Constrain the sample to the language of ``pattern`` (full match, as ``re.fullmatch``)."""

    primary: ClassVar[str | None] = "pattern"
    Params = RegexParams

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.dfa: TokenDFA | None = None

    def bind(self, vocab: Sequence[str]) -> None:
        """Compile the pattern over the model's characters (``vocab[i]`` is id ``i``).

        Raises ``PatternError`` when no string of those characters matches the pattern.
        """
        chars = list(getattr(vocab, "chars", vocab))
        dfa = token_dfa(self.params.pattern, chars)
        pattern = self.params.pattern
        if dfa.closed[0]:
            raise PatternError(f"the pattern {pattern!r} matches only the empty string over "
                               "the model's characters: every sample would be empty")
        if self.params.stop == "accept" and dfa.accepting[0]:
            raise PatternError(f"the pattern {pattern!r} matches the empty string, so with "
                               "stop: accept every sample would end before its first "
                               "character; make it need one (+ instead of *)")
        most = self.params.max_chars
        if most is not None and dfa.distance[0] > most:
            raise PatternError(f"max_chars: the shortest match of {pattern!r} over the model's "
                               f"characters has {dfa.distance[0]} characters, more than {most}")
        self.dfa = dfa

    def label(self) -> str:
        """``regex('[a-z]+\\.', end)``, with ``max_chars`` when set."""
        p = self.params
        extra = f", max_chars={p.max_chars}" if p.max_chars is not None else ""
        return f"{self.stage_name}({p.pattern!r}, {p.stop}{extra})"

    def _tables(self, vocab_size: int) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
        if self.dfa is None:
            raise RuntimeError("the regex stage needs the model's characters: call "
                               "stage.bind(vocab) before decoding (textgen's generate does)")
        if self.dfa.table.shape[1] != vocab_size:
            raise ValueError(f"the regex stage was bound to {self.dfa.table.shape[1]} "
                             f"characters but the model has {vocab_size}")
        # New constants at every trace: a tensor kept from one trace (or thread) would belong
        # to another graph.
        dfa = self.dfa
        ends = dfa.accepting if self.params.stop == "accept" else dfa.closed
        return (tf.constant(dfa.table), tf.constant(ends), tf.constant(dfa.accepting),
                tf.constant(dfa.distance))

    def initial_state(self, batch_size: Any, vocab_size: int) -> State:
        """``(dfa_state, steps)``: int32 per row, at the start state 0 after 0 characters."""
        self._tables(vocab_size)
        return (tf.zeros([batch_size], tf.int32), tf.zeros([batch_size], tf.int32))

    def warp(self, logits: Any, state: State, *, noise: Any = None) -> tuple[Any, State]:
        table, _, _, distance = self._tables(int(logits.shape[-1]))
        current, steps = state
        after = tf.gather(table, current)  # [batch, vocab]: the state after each character
        allowed = after != self.dfa.dead  # type: ignore[union-attr]
        if self.params.max_chars is not None:  # a match must still fit in what is left
            left = self.params.max_chars - steps - 1
            allowed &= tf.gather(distance, after) <= left[:, None]
        return tf.where(allowed, logits, tf.constant(NEG_INF, logits.dtype)), state

    def update(self, state: State, token: Any, warped: Any) -> State:
        table, _, _, _ = self._tables(int(warped.shape[-1]))
        current, steps = state
        rows = tf.gather(table, current)
        return tf.gather(rows, tf.cast(token, tf.int32), batch_dims=1), steps + 1

    def finished(self, state: State) -> Any:
        """``[batch]`` bool: rows whose text is a full match that should end here (or a match
        that has used up ``max_chars``)."""
        _, ends, accepting, _ = self._tables(self.dfa.table.shape[1])  # type: ignore[union-attr]
        current, steps = state
        done = tf.gather(ends, current)
        if self.params.max_chars is not None:
            done |= (steps >= self.params.max_chars) & tf.gather(accepting, current)
        return done
