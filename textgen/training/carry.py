"""Training that carries a recurrent state from one window to the next (``carry_state``).

With windows cut from random places, every window starts from a zero state: its first
characters are predicted from almost nothing, and the model learns to use only as much context
as a window holds. Read as ``B`` streams in order (``corpus.dataset.stream_dataset``), row i of
a batch continues row i of the batch before, so its state can start where that one stopped:
truncated backpropagation through time, as char-rnn and AWD-LSTM train. Every position then
has the whole text before it, at no extra cost per step.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from textgen.model import parts


@keras.saving.register_keras_serializable(package="textgen")
class StateCarrier(keras.Model):
    """``network`` (ids -> logits) for training on streams: each call starts the backbone from
    the state the last call ended in (kept in non-trainable variables, no gradient through it).
    The weights are the network's own; :meth:`reset` zeroes the state, as each epoch begins."""

    def __init__(self, network: keras.Model, batch_size: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.network, self.batch_size = network, int(batch_size)
        self.embed, self.backbone, self.head = parts(network)
        if not self.backbone.carries_state:
            raise ValueError(f"{type(self.backbone).__name__} has no state to carry between "
                             f"training windows")
        self.state = [self.add_weight(shape=tuple(s.shape), initializer="zeros",
                                      trainable=False, name=f"state_{i}")
                      for i, s in enumerate(self.backbone.initial_cache(self.batch_size))]

    def call(self, ids: Any, training: bool | None = None) -> Any:
        features, last = self.backbone.run(self.embed(ids), tuple(self.state), training=training)
        for variable, value in zip(self.state, last, strict=True):
            variable.assign(ops.stop_gradient(value))
        return self.head(features)

    def reset(self) -> None:
        for variable in self.state:
            variable.assign(ops.zeros_like(variable))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "batch_size": self.batch_size,
                "network": keras.saving.serialize_keras_object(self.network)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> StateCarrier:
        network = keras.saving.deserialize_keras_object(config.pop("network"))
        return cls(network, **config)


class ResetState(keras.callbacks.Callback):
    """Zero the carried state as each epoch begins: its streams start at new places."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if isinstance(self.model, StateCarrier):
            self.model.reset()
