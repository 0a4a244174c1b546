"""The character model: ids -> embedding (or one-hot) -> backbone -> logits over the vocabulary,
optionally interpolated with a Kneser-Ney n-gram of the training text (``NgramMix``).

One functional Keras model serves scoring and saving; training fits the network alone (its
``head``); generation reuses the layers one step at a time through :func:`step_logits`.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from textgen.backbones.base import Backbone, Cache
from textgen.baselines.mixture import NgramMix


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


def build_model(vocab_size: int, backbone: Backbone, embedding_dim: int | None,
                mixture: NgramMix | None = None) -> keras.Model:
    """The full model; ``embedding_dim=None`` feeds one-hot vectors as the seed does, and a
    ``mixture`` interpolates the network's output with an n-gram's."""
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    if embedding_dim is None:
        x = OneHot(vocab_size, name="embed")(ids)
    else:
        x = keras.layers.Embedding(vocab_size, embedding_dim, name="embed")(ids)
    x = backbone(x)
    logits = keras.layers.Dense(vocab_size, name="head", dtype="float32")(x)
    if mixture is not None:
        logits = mixture(logits, ids)
    return keras.Model(ids, logits, name="char_model")


def with_mixture(network: keras.Model, mixture: NgramMix) -> keras.Model:
    """``network`` (ids -> logits) with ``mixture`` on its output, sharing its layers."""
    return keras.Model(network.input, mixture(network.output, network.input), name="char_model")


def network(model: keras.Model) -> keras.Model:
    """The model without its n-gram mixture (itself if it has none): what training fits."""
    if mixture_of(model) is None:
        return model
    net = getattr(model, "_textgen_network", None)
    if net is None:  # one per model: a scorer traced for it is kept on it
        net = keras.Model(model.input, model.get_layer("head").output, name="char_network")
        model._textgen_network = net
    return net


def training_model(model: keras.Model, target: str) -> keras.Model:
    """``target='all'`` trains every position; ``'last'`` only the window's last (the seed)."""
    net = network(model)
    if target == "all":
        return net
    return keras.Model(net.input, TakeLast(name="last")(net.output), name="char_model_last")


def parts(model: keras.Model) -> tuple[keras.layers.Layer, Backbone, keras.layers.Layer]:
    """The embedding, backbone and head layers of a model made by :func:`build_model`."""
    backbone = next(layer for layer in model.layers if isinstance(layer, Backbone))
    return model.get_layer("embed"), backbone, model.get_layer("head")


def mixture_of(model: keras.Model) -> NgramMix | None:
    """The model's n-gram mixture layer, if it has one."""
    return next((layer for layer in model.layers if isinstance(layer, NgramMix)), None)


def initial_cache(model: keras.Model, batch_size: Any) -> Cache:
    """What :func:`step_logits` starts from: the backbone's cache, then (with a mixture) the
    n-gram's history of ids, -1 before the first."""
    cache = parts(model)[1].initial_cache(batch_size)
    mixture = mixture_of(model)
    if mixture is None:
        return cache
    return (*cache, ops.full((batch_size, mixture.order - 1), -1, dtype="int32"))


def step_logits(model: keras.Model, ids: Any, cache: Cache) -> tuple[Any, Cache]:
    """Next-character logits ``[batch, vocab]`` after feeding ``ids`` ``[batch]``."""
    embed, backbone, head = parts(model)
    mixture = mixture_of(model)
    own = cache if mixture is None else cache[:-1]
    x = embed(ops.expand_dims(ids, 1))[:, 0]
    features, own = backbone.step(x, own)
    logits = head(features)
    if mixture is None:
        return logits, own
    history = ops.concatenate([cache[-1][:, 1:], ops.expand_dims(ops.cast(ids, "int32"), 1)],
                              axis=1)
    return mixture.mix(logits, history), (*own, history)
