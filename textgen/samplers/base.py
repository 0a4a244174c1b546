"""The Sampler interface: a stage maps logits to logits; a chain of stages is one setting.

Every stage works in log space on a ``[batch, vocab]`` float32 tensor and leaves removed symbols
at ``-inf``. The generation engine draws the next character from the last stage's output with
the Gumbel-max trick (``argmax(logits + gumbel_noise)``), so a stage never draws by itself, and
greedy is simply "keep only the argmax". Stages written with ``keras.ops`` (or the lazy
``textgen.samplers.ops``) run inside the compiled decoding loop and also on their own, on NumPy.

The contract (docs/plugins.md has it in full):

- ``initial_state(batch_size, vocab_size)`` -> a tuple of ``[batch, ...]`` tensors (``()`` for
  stateless stages), sized from the arguments; shapes and dtypes stay fixed across steps.
- ``warp(logits, state, *, noise=None)`` -> ``(logits, state)``. ``noise`` is a ``[batch, k]``
  float32 tensor of uniforms in (0, 1) when the class sets ``noise_draws = k``, else None.
- ``update(state, token, warped)`` -> state, after the draw: ``token`` is the ``[batch]`` int32
  id just drawn, ``warped`` this stage's own output at that step. Prompt characters never
  reach ``update``.
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from textgen.errors import PluginError, TextgenError
from textgen.samplers.ops import ops

State = tuple[Any, ...]
Noise = Callable[[int, int], Any]  # (position in the chain, draws) -> [batch, draws] uniforms
NEG_INF = float("-inf")
FLOAT32_TINY = 1.1754943508222875e-38  # smaller magnitudes are flushed to zero by XLA on CPU


class NoParams(BaseModel):
    """Parameters of a stage that takes none."""

    model_config = ConfigDict(extra="forbid")


def float32_problems(params: BaseModel) -> list[str]:
    """Float parameters that the float32 decoding loop cannot hold: ``["temperature: ..."]``.

    ``1e308`` passes pydantic's ``allow_inf_nan=False`` but is ``inf`` in float32 and would
    silently sample garbage. (Tiny values round to 0, which is a limit only some stages mind:
    temperature checks its own.)
    """
    problems = []

    def check(where: str, value: Any) -> None:
        if isinstance(value, float) and math.isfinite(value):
            if math.isinf(struct.unpack("f", struct.pack("f", value))[0]):
                problems.append(f"{where}: {value:g} is too large for float32, which the "
                                "decoding loop computes in (|x| < 3.4e38)")
        elif isinstance(value, list | tuple):
            for item in value:
                check(where, item)

    for key in type(params).model_fields:
        check(key, getattr(params, key))
    return problems


class StageParamsError(TextgenError, ValueError):
    """A stage's parameters passed its ``Params`` model but cannot be used in float32."""


class StageFailure(PluginError):
    """A stage broke the contract while decoding (an exception, a wrong shape or dtype, NaN,
    or a row left with nothing to draw); the message names the stage and its plugin."""


class Sampler:
    """One stage of a sampling chain. Subclasses set ``Params`` and override ``transform``
    (stateless) or ``initial_state``/``warp``/``update`` (stateful).

    ``Params`` (a pydantic model, unknown keys forbidden) validates the constructor arguments;
    ``primary`` names the parameter that a scalar in the spec sets (``{temperature: 0.5}``).
    ``name`` is set by registration to the name the stage is registered under.
    """

    name: ClassVar[str] = ""
    plugin: ClassVar[str] = ""  # set by registration: "truncation (textgen-truncation 0.1.0)"
    primary: ClassVar[str | None] = None
    Params: ClassVar[type[BaseModel]] = NoParams
    noise_draws: ClassVar[int] = 0

    def __init__(self, **params: Any) -> None:
        self.params: Any = self.Params(**params)  # each stage reads its own Params fields
        problems = float32_problems(self.params)
        if problems:
            raise StageParamsError("; ".join(problems))

    # --- serialization (constructor arguments == config keys) --------------------------------
    def get_config(self) -> dict[str, Any]:
        """The parameters, as ``Params`` dumps them: ``cls.from_config(config)`` rebuilds."""
        return self.params.model_dump()

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sampler:
        return cls(**config)

    @property
    def stage_name(self) -> str:
        """The registered name, or the class name for a stage nobody registered (a subclass
        of a registered stage does not inherit its name)."""
        return type(self).__dict__.get("name") or type(self).__name__

    def label(self) -> str:
        """A short human label, e.g. ``temperature(0.5)``."""
        values = ", ".join(f"{v:g}" if isinstance(v, float) else str(v)
                           for v in self.get_config().values())
        return f"{self.stage_name}({values})" if values else self.stage_name

    # --- the stage ---------------------------------------------------------------------------
    def transform(self, logits: Any) -> Any:
        """Stateless stages: reshape ``[batch, vocab]`` logits. Identity by default."""
        return logits

    def initial_state(self, batch_size: Any, vocab_size: int) -> State:
        """State carried across steps, one row per sample. Stateless stages have none."""
        return ()

    def warp(self, logits: Any, state: State, *, noise: Any = None) -> tuple[Any, State]:
        """One step: new logits and the state to use for the draw."""
        return self.transform(logits), state

    def update(self, state: State, token: Any, warped: Any) -> State:
        """After the draw: fold the drawn ``token`` ([batch] int32 ids) into the state."""
        return state

    def bind(self, vocab: Any) -> None:
        """Before decoding, the model's characters (a ``CharVocab``, or a sequence where
        ``vocab[i]`` is id ``i``): stages whose parameters name characters (logit_bias, dry,
        regex) map them to ids here. No-op by default."""

    def finished(self, state: State) -> Any:
        """``[batch]`` bool: rows this stage declares complete (the regex stage's full match),
        checked after each step; None (the default) when the stage never ends a row."""
        return None

    def __call__(self, logits: Any, *, seed: int = 0) -> Any:
        """Apply the stage once, from its initial state, to a ``[batch, vocab]`` array.

        NumPy in, NumPy out; a tensor in, a tensor out. A stage that draws noise gets the
        coins of row seed ``seed`` at step 0.
        """
        return SamplerChain([self])(logits, seed=seed)

    def __repr__(self) -> str:
        return self.label()

    def describe(self) -> str:
        """``stage 'top_k(20)' (plugin truncation, textgen-truncation 0.1.0)``, for errors."""
        origin = (type(self).__dict__.get("plugin")
                  or f"class {type(self).__module__}.{type(self).__qualname__}")
        return f"stage {self.label()!r} (plugin {origin})"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"[:400]


def _dtype_name(x: Any) -> str:
    dtype = getattr(x, "dtype", None)
    return str(getattr(dtype, "name", dtype))


def _signature(state: Any) -> list[tuple[Any, str]]:
    """(static shape, dtype) of every tensor of a state, to compare across steps."""
    import tensorflow as tf

    return [(tuple(tf.TensorShape(getattr(x, "shape", ())).as_list()), _dtype_name(x))
            for x in tf.nest.flatten(state)]


def _called(stage: Sampler, method: str, call: Callable[[], Any]) -> Any:
    """Run ``stage.<method>``; any exception comes back as a StageFailure naming the stage."""
    try:
        return call()
    except StageFailure:
        raise
    except Exception as exc:  # noqa: BLE001 - a plugin's error, named and passed on
        raise StageFailure(f"{stage.describe()} failed in {method}: {_first_line(exc)}. "
                           "Check it with textgen.testing.check_stage (docs/plugins.md)."
                           ) from exc


def _same_state(stage: Sampler, method: str, before: Any, after: Any) -> None:
    if _signature(before) != _signature(after):
        raise StageFailure(
            f"{stage.describe()}: {method} changed the state from {_signature(before)} to "
            f"{_signature(after)} (shape, dtype); a state must keep its structure, shapes and "
            "dtypes across steps (size it in initial_state)")


class SamplerChain:
    """An ordered list of stages: one sampler setting, e.g. ``top_k(20) -> temperature(0.7)``."""

    def __init__(self, stages: Sequence[Sampler]) -> None:
        if not stages:
            raise ValueError("a sampler chain needs at least one stage")
        self.stages = list(stages)

    def label(self) -> str:
        return " -> ".join(stage.label() for stage in self.stages)

    def get_config(self) -> list[dict[str, Any]]:
        return [{stage.stage_name: stage.get_config()} for stage in self.stages]

    def initial_state(self, batch_size: Any, vocab_size: int) -> tuple[State, ...]:
        return tuple(stage.initial_state(batch_size, vocab_size) for stage in self.stages)

    def warp(self, logits: Any, states: tuple[State, ...], noise: Noise | None = None
             ) -> tuple[Any, tuple[Any, ...], tuple[State, ...]]:
        """Run every stage; returns final logits, each stage's output, and the states.

        ``noise(position, k)`` gives the ``[batch, k]`` coins of the stage at ``position``.
        """
        outputs, new_states = [], []
        for position, (stage, state) in enumerate(zip(self.stages, states, strict=True)):
            coins = noise(position, stage.noise_draws) if noise and stage.noise_draws else None
            result = _called(stage, "warp",
                             functools.partial(stage.warp, logits, state, noise=coins))
            if not isinstance(result, tuple | list) or len(result) != 2:
                raise StageFailure(f"{stage.describe()}: warp returned {type(result).__name__}, "
                                   "not a (logits, state) pair: return `logits, state` (a "
                                   "stateless stage overrides transform instead)")
            out, new = result
            shape_in, shape_out = getattr(logits, "shape", None), getattr(out, "shape", None)
            if (shape_in is not None and shape_out is not None
                    and list(shape_in) != list(shape_out)) or _dtype_name(out) != "float32":
                raise StageFailure(
                    f"{stage.describe()}: warp returned logits of shape {shape_out} and dtype "
                    f"{_dtype_name(out)} for input of shape {shape_in} and dtype float32; a "
                    "stage keeps the [batch, vocab] shape and float32")
            _same_state(stage, "warp", state, new)
            logits = out
            outputs.append(logits)
            new_states.append(new)
        return logits, tuple(outputs), tuple(new_states)

    def health(self, logits: Any, outputs: tuple[Any, ...]) -> Any:
        """``[batch]`` int32, per row: 0 if every output is usable, else 1 when the model's own
        ``logits`` hold NaN, ``p + 2`` when stage ``p`` is the first to output a NaN or a row
        with no finite logit. A few reductions per stage: cheap inside the decoding loop."""
        import tensorflow as tf

        code = tf.zeros(tf.shape(logits)[:1], tf.int32)
        for p in reversed(range(len(outputs))):
            out = outputs[p]
            bad = (tf.reduce_any(tf.math.is_nan(out), axis=-1)
                   | ~tf.reduce_any(tf.math.is_finite(out), axis=-1))
            code = tf.where(bad, p + 2, code)
        return tf.where(tf.reduce_any(tf.math.is_nan(logits), axis=-1), 1, code)

    def failure(self, code: int, step: int) -> StageFailure:
        """The error for a ``health`` code seen at decoding ``step``."""
        if code == 1:
            return StageFailure(f"the model's logits held NaN at step {step} (before any "
                                "stage): the model has diverged; retrain it")
        stage = self.stages[code - 2]
        return StageFailure(
            f"{stage.describe()} output NaN or removed every symbol of a row at step {step} "
            f"(setting {self.label()}): nothing could be drawn, so decoding stopped. A stage "
            "must keep at least one finite logit per row and never output NaN; check it with "
            "textgen.testing.check_stage")

    def check(self, vocab_size: int, batch: int = 2) -> None:
        """One eager step (warp, a draw, update) on dummy logits, before any decoding: a stage
        that raises, changes shapes or returns NaN fails here, naming itself, not mid-sweep."""
        import numpy as np
        import tensorflow as tf

        from textgen.samplers.noise import stage_uniform

        rng = np.random.default_rng(0)
        x = tf.constant(rng.normal(0, 2, size=(batch, vocab_size)), tf.float32)
        seeds = tf.range(batch, dtype=tf.int64)
        states = self.initial_state(batch, vocab_size)
        final, outputs, states = self.warp(
            x, states, lambda position, k: stage_uniform(seeds, 0, position, k))
        code = self.health(x, outputs).numpy()
        if code.any():
            raise self.failure(int(code.max()), 0)
        self.update(states, tf.argmax(final, axis=-1, output_type=tf.int32), outputs)

    def update(self, states: tuple[State, ...], token: Any,
               outputs: tuple[Any, ...]) -> tuple[State, ...]:
        new_states = []
        for stage, state, out in zip(self.stages, states, outputs, strict=True):
            new = _called(stage, "update", functools.partial(stage.update, state, token, out))
            _same_state(stage, "update", state, new)
            new_states.append(new)
        return tuple(new_states)

    def __call__(self, logits: Any, *, seed: int = 0) -> Any:
        """Apply the whole chain once to a ``[batch, vocab]`` array (NumPy in, NumPy out)."""
        import numpy as np
        import tensorflow as tf

        from textgen.samplers.noise import stage_uniform

        as_numpy = not tf.is_tensor(logits)
        x = tf.convert_to_tensor(np.asarray(logits, np.float32) if as_numpy else logits,
                                 tf.float32)
        batch, vocab = int(x.shape[0]), int(x.shape[-1])
        seeds = tf.fill([batch], tf.constant(seed & 0xFFFFFFFF, tf.int64))
        final, _, _ = self.warp(x, self.initial_state(batch, vocab),
                                lambda position, k: stage_uniform(seeds, 0, position, k))
        return np.asarray(final) if as_numpy else final


def likely_rank(logits: Any) -> Any:
    """``[batch, vocab]`` int32: each symbol's place in the most-likely-first order, equal
    logits in id order (0 = the most likely); ``likely_rank(x) < k`` keeps the top ``k``. By
    pairwise comparison, O(vocab^2): exact, and the same eagerly and under XLA, whose sort is
    neither stable nor blind to the sign of zero."""
    ids = ops.arange(int(logits.shape[-1]))
    other, this = logits[:, None, :], logits[:, :, None]
    ahead = (other > this) | ((other == this) & (ids[None, None, :] < ids[None, :, None]))
    return ops.sum(ops.cast(ahead, "int32"), axis=-1)


def keep_mask(logits: Any, keep: Any) -> Any:
    """Logits where ``keep`` is true, ``-inf`` elsewhere."""
    return ops.where(keep, logits, ops.full_like(logits, NEG_INF))


def entropy_bits(logits: Any) -> Any:
    """Shannon entropy, in bits, of ``softmax(logits)`` along the last axis; ``-inf`` is p = 0."""
    logp = ops.log_softmax(logits, axis=-1)
    p = ops.exp(logp)
    terms = ops.where(p > 0, p * logp, ops.zeros_like(logp))
    return -ops.sum(terms, axis=-1) / math.log(2.0)
