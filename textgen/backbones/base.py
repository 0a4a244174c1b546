"""The Backbone interface: a causal Keras layer that also runs one character at a time.

``call(x)`` maps embedded characters ``[batch, time, dim]`` to features ``[batch, time, units]``
for training and scoring, and must be causal: the output at t sees inputs up to t only.
``step(x_t, cache)`` computes the same features for one new position from a cache of the past
(an LSTM's (h, c), a convolution's queues of past inputs), so generation costs one step per
character. ``initial_cache`` is the cache before any input. Backbones are registered Keras
layers: ``get_config`` returns the constructor arguments, so saved models load again.
"""

from __future__ import annotations

from typing import Any, ClassVar

import keras
from pydantic import BaseModel

Cache = tuple[Any, ...]


class Backbone(keras.layers.Layer):
    """Base class. Subclasses set ``Params`` (their spec fields, each default written there
    once) and define ``call``, ``step`` and ``initial_cache``; ``self.params`` holds the
    validated fields, and ``get_config`` is their dump plus the layer's own config."""

    Params: ClassVar[type[BaseModel]]
    carries_state: ClassVar[bool] = False  # True where ``run`` continues from a given state

    def __init__(self, **kwargs: Any) -> None:
        fields = {k: kwargs.pop(k) for k in list(kwargs) if k in self.Params.model_fields}
        super().__init__(**kwargs)
        self.params: Any = self.Params(**fields)  # each backbone reads its own Params fields

    @classmethod
    def from_params(cls, params: dict[str, Any], **kwargs: Any) -> Backbone:
        """Build the layer from spec fields (validated by ``Params``)."""
        return cls(**cls.Params(**params).model_dump(), **kwargs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **self.params.model_dump()}

    @property
    def receptive_field(self) -> int | None:
        """How many past characters can affect an output; None for recurrent (unbounded)."""
        return None

    def describe(self) -> str:
        """One line on what the backbone remembers, for reports."""
        rf = self.receptive_field
        return "recurrent state (unbounded context)" if rf is None else f"receptive field {rf}"

    def warn_if_short(self, seq_len: int) -> str | None:
        """A warning when training windows are shorter than the receptive field, else None."""
        rf = self.receptive_field
        if rf is None or seq_len >= rf:
            return None
        return (f"{type(self).__name__}: training seq_len {seq_len} is shorter than "
                f"the receptive field {rf}; the farthest inputs only ever see zero padding in "
                f"training, so generation with longer context may behave unlike training. Use "
                f"seq_len >= {rf}, or a smaller receptive field.")

    def initial_cache(self, batch_size: int) -> Cache:
        raise NotImplementedError

    def step(self, x: Any, cache: Cache) -> tuple[Any, Cache]:
        """Features ``[batch, units]`` for one new input ``[batch, dim]``, and the new cache."""
        raise NotImplementedError

    def run(self, x: Any, state: Cache, training: bool | None = None) -> tuple[Any, Cache]:
        """``call`` from ``state`` (a cache) instead of from nothing, returning the last state
        too: what training with ``carry_state`` needs. Only backbones with ``carries_state``."""
        raise NotImplementedError(f"{type(self).__name__} has no state to carry between windows")
