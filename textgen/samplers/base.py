"""The Sampler interface: a stage maps logits to logits; a chain of stages is one setting.

Every stage works in log space on a ``[batch, vocab]`` float tensor and leaves removed symbols at
``-inf``. The generation engine draws the next character from the last stage's output with the
Gumbel-max trick (``argmax(logits + gumbel_noise)``), so a stage never draws by itself, and greedy
is simply "keep only the argmax". Stages written with ``keras.ops`` run inside the compiled
decoding loop and also on their own, on NumPy arrays.

A stage with state across steps (mirostat, repetition penalties) overrides ``initial_state``,
``warp`` and ``update``; the state is a tuple of ``[batch, ...]`` tensors carried by the loop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

from keras import ops
from pydantic import BaseModel, ConfigDict

State = tuple[Any, ...]
NEG_INF = float("-inf")


class NoParams(BaseModel):
    """Parameters of a stage that takes none."""

    model_config = ConfigDict(extra="forbid")


class Sampler:
    """One stage of a sampling chain. Subclasses set ``Params`` and override ``transform``.

    ``Params`` (a pydantic model, unknown keys forbidden) validates the constructor arguments;
    ``primary`` names the parameter that a scalar in the spec sets (``{temperature: 0.5}``).
    """

    name: ClassVar[str] = ""
    primary: ClassVar[str | None] = None
    Params: ClassVar[type[BaseModel]] = NoParams

    def __init__(self, **params: Any) -> None:
        self.params = self.Params(**params)

    # --- serialization (constructor arguments == config keys) --------------------------------
    def get_config(self) -> dict[str, Any]:
        return self.params.model_dump()

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sampler:
        return cls(**config)

    def label(self) -> str:
        """A short human label, e.g. ``temperature(0.5)``."""
        values = ", ".join(f"{v:g}" if isinstance(v, float) else str(v)
                           for v in self.get_config().values())
        return f"{self.name}({values})" if values else self.name

    # --- the stage ---------------------------------------------------------------------------
    def transform(self, logits: Any) -> Any:
        """Stateless stages: reshape ``[batch, vocab]`` logits. Identity by default."""
        return logits

    def initial_state(self, batch_size: int) -> State:
        """State carried across steps, one row per sample. Stateless stages have none."""
        return ()

    def warp(self, logits: Any, state: State) -> tuple[Any, State]:
        """One step: new logits and the state to use for the draw."""
        return self.transform(logits), state

    def update(self, state: State, token: Any, warped: Any) -> State:
        """After the draw: fold the drawn ``token`` ([batch] ids) into the state."""
        return state

    def __call__(self, logits: Any) -> Any:
        """Apply the stage on its own to a ``[batch, vocab]`` array (stateless stages)."""
        logits = ops.convert_to_tensor(logits, dtype="float32")
        out, _ = self.warp(logits, self.initial_state(int(logits.shape[0])))
        return out

    def __repr__(self) -> str:
        return self.label()


class SamplerChain:
    """An ordered list of stages: one sampler setting, e.g. ``top_k(20) -> temperature(0.7)``."""

    def __init__(self, stages: Sequence[Sampler]) -> None:
        if not stages:
            raise ValueError("a sampler chain needs at least one stage")
        self.stages = list(stages)

    def label(self) -> str:
        return " -> ".join(stage.label() for stage in self.stages)

    def get_config(self) -> list[dict[str, Any]]:
        return [{stage.name: stage.get_config()} for stage in self.stages]

    def initial_state(self, batch_size: int) -> tuple[State, ...]:
        return tuple(stage.initial_state(batch_size) for stage in self.stages)

    def warp(self, logits: Any, states: tuple[State, ...]) -> tuple[Any, tuple[Any, ...],
                                                                     tuple[State, ...]]:
        """Run every stage; returns final logits, each stage's output, and the states."""
        outputs, new_states = [], []
        for stage, state in zip(self.stages, states, strict=True):
            logits, state = stage.warp(logits, state)
            outputs.append(logits)
            new_states.append(state)
        return logits, tuple(outputs), tuple(new_states)

    def update(self, states: tuple[State, ...], token: Any,
               outputs: tuple[Any, ...]) -> tuple[State, ...]:
        return tuple(stage.update(state, token, out)
                     for stage, state, out in zip(self.stages, states, outputs, strict=True))

    def __call__(self, logits: Any) -> Any:
        """Apply the whole chain once to a ``[batch, vocab]`` array."""
        logits = ops.convert_to_tensor(logits, dtype="float32")
        final, _, _ = self.warp(logits, self.initial_state(int(logits.shape[0])))
        return final


def keep_mask(logits: Any, keep: Any) -> Any:
    """Logits where ``keep`` is true, ``-inf`` elsewhere."""
    return ops.where(keep, logits, ops.full_like(logits, NEG_INF))


def entropy_bits(logits: Any) -> Any:
    """Shannon entropy, in bits, of ``softmax(logits)`` along the last axis; ``-inf`` is p = 0."""
    logp = ops.log_softmax(logits, axis=-1)
    p = ops.exp(logp)
    terms = ops.where(p > 0, p * logp, ops.zeros_like(logp))
    return -ops.sum(terms, axis=-1) / math.log(2.0)


