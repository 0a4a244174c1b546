"""Training on several devices or machines with TensorFlow's own tf.distribute.

``mirrored`` trains with Keras ``fit``. Keras 3's ``fit`` fails under
``MultiWorkerMirroredStrategy`` (keras-team/keras#20585), so ``multi_worker`` runs :func:`fit`
here: the same model, loss, optimizer and callbacks, one ``strategy.run`` step per batch.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import keras
import tensorflow as tf

from textgen.spec.schema import DistributeSpec

SUM = tf.distribute.ReduceOp.SUM
_strategies: dict[str, tf.distribute.Strategy] = {}


class DistributeError(RuntimeError):
    """The strategy cannot be set up (the message says why and what to do)."""


def cluster_config(spec: DistributeSpec) -> dict:
    """The TF_CONFIG for this worker, from the spec's ``workers`` and ``task_index``."""
    return {"cluster": {"worker": list(spec.workers or [])},
            "task": {"type": "worker", "index": spec.task_index}}


def make_strategy(spec: DistributeSpec) -> tf.distribute.Strategy:
    """The spec's strategy, made once per process (a multi-worker one must come before any op)."""
    if spec.strategy == "default":
        return tf.distribute.get_strategy()
    key = spec.model_dump_json()
    if key not in _strategies:
        _strategies[key] = _new_strategy(spec)
    return _strategies[key]


def _new_strategy(spec: DistributeSpec) -> tf.distribute.Strategy:
    if spec.strategy == "mirrored":
        return tf.distribute.MirroredStrategy(spec.devices)
    if spec.workers:
        os.environ["TF_CONFIG"] = json.dumps(cluster_config(spec))
    try:
        json.loads(os.environ.get("TF_CONFIG") or "{}")
    except json.JSONDecodeError as err:
        raise DistributeError(f"TF_CONFIG is not JSON ({err}); see docs/scaling.md") from None
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as err:
        raise DistributeError(f"training.distribute.strategy multi_worker: {err}. Start each "
                              "worker as its own `textgen run` process.") from err


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run: worker 0 (or the ``chief`` task), or no cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    cluster = resolver.cluster_spec().as_dict() if resolver is not None else {}
    if not cluster or resolver is None:
        return True
    if "chief" in cluster:
        return resolver.task_type == "chief"
    return resolver.task_type == "worker" and resolver.task_id == 0


def output_dir(run_dir: Path, strategy: tf.distribute.Strategy) -> Path:
    """Where this process writes checkpoints: the run on the chief, else a private temp dir."""
    if is_chief(strategy):
        return Path(run_dir)
    scratch = tempfile.mkdtemp(prefix="textgen-worker-")
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    return Path(scratch)


@contextlib.contextmanager
def precision(policy: str) -> Iterator[None]:
    """Build layers under the Keras dtype ``policy``, then restore the global one."""
    before = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(before)


def in_float32(model: keras.Model, build: Callable[[], keras.Model]) -> keras.Model:
    """``model`` itself, or if it computes in mixed precision a float32 copy (``build`` makes
    its architecture): what is saved and generated from, one dtype from end to end."""
    if model.dtype_policy.name == "float32":
        return model
    with precision("float32"):
        copy = build()
    copy.set_weights(model.get_weights())  # mixed-precision variables are float32 already
    return copy


def needs_own_loop(strategy: tf.distribute.Strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def fit(strategy: tf.distribute.Strategy, model: keras.Model, dataset: tf.data.Dataset,
        epochs: int, initial_epoch: int, steps: int,
        callbacks: list[keras.callbacks.Callback]) -> None:
    """``model.fit`` for a compiled ``model``: same callbacks, same logs, stopping together.

    ``dataset`` yields global batches; each worker trains on its share (DATA sharding).
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    shares = dataset.map(_with_shares(strategy.num_replicas_in_sync)).with_options(options)
    batches = iter(strategy.experimental_distribute_dataset(shares))
    with strategy.scope():
        model.optimizer.build(model.trainable_variables)  # its slots, before tracing
    step, agree = _train_step(strategy, model), _agree(strategy)
    hooks = keras.callbacks.CallbackList(callbacks, model=model, epochs=epochs, steps=steps)
    model.stop_training = False
    hooks.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        hooks.on_epoch_begin(epoch)
        nats = chars = 0.0
        logs: dict = {}
        for batch in range(steps):
            hooks.on_train_batch_begin(batch)
            batch_nats, batch_chars = step(batches)
            nats, chars = nats + float(batch_nats), chars + float(batch_chars)
            logs = {"loss": nats / max(chars, 1.0)}  # the epoch's running mean, as fit's
            hooks.on_train_batch_end(batch, logs)
            model.stop_training = agree(model.stop_training)  # one worker stops: all stop
            if model.stop_training:
                break
        hooks.on_epoch_end(epoch, dict(logs))
        if model.stop_training:
            break
    hooks.on_train_end()


def _with_shares(replicas: int):
    """``(x, y) -> (x, y, share)``: each window's share of its global batch's mean loss (1/b).

    A short last batch is padded with share-0 windows to a multiple of ``replicas``, so that
    no replica gets an empty batch (which the recurrent layers reject).
    """
    def pad(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        size = tf.shape(x)[0]
        extra = -size % replicas
        share = tf.pad(tf.fill([size], 1.0 / tf.cast(size, tf.float32)), [[0, extra]])
        return _pad_rows(x, extra), _pad_rows(y, extra), share
    return pad


def _pad_rows(t: tf.Tensor, extra: tf.Tensor) -> tf.Tensor:
    return tf.pad(t, [[0, extra]] + [[0, 0]] * (t.shape.rank - 1))


def _train_step(strategy: tf.distribute.Strategy, model: keras.Model):
    """One optimizer step on every replica; returns the summed nats and scored characters."""
    optimizer = model.optimizer

    def replica_step(x: tf.Tensor, y: tf.Tensor,
                     share: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            logits = tf.cast(model(x, training=True), tf.float32)
            nll = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
            nll = tf.reshape(nll, [tf.shape(x)[0], -1])  # [windows, scored chars per window]
            # This replica's part of the global batch's mean; the optimizer sums the gradients.
            loss = tf.reduce_sum(tf.reduce_mean(nll, axis=1) * share)
            scaled = optimizer.scale_loss(loss)  # loss scaling under mixed_float16
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        real = tf.cast(share > 0, tf.float32)[:, None] * tf.ones_like(nll)
        return tf.reduce_sum(nll * real), tf.reduce_sum(real)

    @tf.function
    def step(batches: Iterator) -> tuple[tf.Tensor, tf.Tensor]:
        nats, chars = strategy.run(replica_step, args=next(batches))
        return strategy.reduce(SUM, nats, axis=None), strategy.reduce(SUM, chars, axis=None)

    return step


def _agree(strategy: tf.distribute.Strategy):
    """``flag -> any worker's flag``: a callback's stop (a time budget) must stop every worker."""
    @tf.function
    def votes(flag: tf.Tensor) -> tf.Tensor:
        return strategy.reduce(SUM, strategy.run(tf.identity, args=(flag,)), axis=None)

    return lambda flag: bool(votes(tf.constant(float(flag))) > 0)


def describe_device() -> str:
    """The accelerators TensorFlow sees by name, else the CPU and its core count."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return ", ".join(tf.config.experimental.get_device_details(g).get("device_name", g.name)
                         for g in gpus)
    return f"CPU ({os.cpu_count()} cores)"
