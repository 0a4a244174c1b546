"""The character model: ids -> embedding (or one-hot) -> backbone -> logits over the vocabulary.

One functional Keras model serves training, scoring and saving; generation reuses its layers
one step at a time through :func:`step_logits`.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from textgen.backbones.base import Backbone, Cache


@keras.saving.register_keras_serializable(package="textgen")
class OneHot(keras.layers.Layer):
    """Integer ids ``[batch, time]`` -> one-hot ``[batch, time, depth]`` (the seed's input)."""

    def __init__(self, depth: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.depth = depth

    def call(self, ids: Any) -> Any:
        return ops.one_hot(ops.cast(ids, "int32"), self.depth)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return (*tuple(input_shape), self.depth)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "depth": self.depth}


@keras.saving.register_keras_serializable(package="textgen")
class TakeLast(keras.layers.Layer):
    """Keep only the last time step: trains the seed's one-target-per-window recipe."""

    def call(self, x: Any) -> Any:
        return x[:, -1]

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return (input_shape[0], *tuple(input_shape)[2:])


def build_model(vocab_size: int, backbone: Backbone, embedding_dim: int | None) -> keras.Model:
    """The full model; ``embedding_dim=None`` feeds one-hot vectors as the seed does."""
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    if embedding_dim is None:
        x = OneHot(vocab_size, name="embed")(ids)
    else:
        x = keras.layers.Embedding(vocab_size, embedding_dim, name="embed")(ids)
    x = backbone(x)
    logits = keras.layers.Dense(vocab_size, name="head", dtype="float32")(x)
    return keras.Model(ids, logits, name="char_model")


def training_model(model: keras.Model, target: str) -> keras.Model:
    """``target='all'`` trains every position; ``'last'`` only the window's last (the seed)."""
    if target == "all":
        return model
    return keras.Model(model.input, TakeLast(name="last")(model.output), name="char_model_last")


def parts(model: keras.Model) -> tuple[keras.layers.Layer, Backbone, keras.layers.Layer]:
    """The embedding, backbone and head layers of a model made by :func:`build_model`."""
    backbone = next(layer for layer in model.layers if isinstance(layer, Backbone))
    return model.get_layer("embed"), backbone, model.get_layer("head")


def step_logits(model: keras.Model, ids: Any, cache: Cache) -> tuple[Any, Cache]:
    """Next-character logits ``[batch, vocab]`` after feeding ``ids`` ``[batch]``."""
    embed, backbone, head = parts(model)
    x = embed(ops.expand_dims(ids, 1))[:, 0]
    features, cache = backbone.step(x, cache)
    return head(features), cache
