"""Top-k, top-p, min-p and typical truncation, as Hugging Face transformers' logits warpers.

Each stage keeps some symbols' logits unchanged and sets the rest to ``-inf``; ``-inf`` entries
from an earlier stage count as probability 0. Where the warpers leave tie order to the sort,
these take the stable order: among equally likely symbols the lower id ranks first (is kept
first). Written with ``keras.ops`` so they compile into the decoding loop (vocab size static).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from textgen.samplers.base import Sampler, keep_mask
from textgen.samplers.ops import ops

MIN_KEEP = Field(1, ge=1, description="always keep at least this many of the most likely symbols")


def _positions(logits: Any) -> Any:
    """``[1, vocab]`` int32 positions 0..vocab-1, to compare sorted positions against."""
    return ops.expand_dims(ops.arange(ops.shape(logits)[-1], dtype="int32"), 0)


def _rank(order: Any) -> Any:
    """The inverse permutation: each symbol's position in ``order`` (``[batch, vocab]`` ids)."""
    return ops.cast(ops.argsort(order, axis=-1), "int32")


def _likely_first(logits: Any) -> Any:
    """Symbol ids from most to least likely; ties keep id order (a stable sort).

    ``keras.ops.argsort`` is not stable under XLA, and XLA's sort orders -0.0 before 0.0:
    ties came out in another order than eagerly (``textgen.testing.check_stage`` found it). So
    this asks TensorFlow for a stable sort of keys with the zero's sign dropped.
    """
    import tensorflow as tf

    return tf.argsort(_unsigned_zero(-logits), axis=-1, stable=True)


def _unsigned_zero(x: Any) -> Any:
    """``x`` with -0.0 replaced by 0.0 (XLA folds ``x + 0.0`` away, so select instead)."""
    return ops.where(x == 0, ops.zeros_like(x), x)


class _Truncation(Sampler):
    """Labels as ``top_p(0.9)``, naming ``min_keep`` only when it is not the default 1."""

    def label(self) -> str:
        extra = f", min_keep={self.params.min_keep}" if self.params.min_keep != 1 else ""
        return f"{self.stage_name}({getattr(self.params, str(self.primary)):g}{extra})"


class TopKParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    k: int = Field(ge=1, description="keep the k most likely symbols (and all tied with the k-th)")
    min_keep: int = MIN_KEEP


class TopKSampler(_Truncation):
    """Keep every symbol whose logit is at least the k-th largest (TopKLogitsWarper)."""

    primary: ClassVar[str | None] = "k"
    Params = TopKParams

    def transform(self, logits: Any) -> Any:
        k = min(max(self.params.k, self.params.min_keep), logits.shape[-1])
        kth = ops.top_k(logits, k)[0][:, -1:]
        return keep_mask(logits, logits >= kth)


class TopPParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    p: float = Field(ge=0, le=1, allow_inf_nan=False,
                     description="keep the smallest set of likely symbols holding mass p")
    min_keep: int = MIN_KEEP


class TopPSampler(_Truncation):
    """Nucleus sampling (TopPLogitsWarper): drop the unlikely tail holding at most 1 - p."""

    primary: ClassVar[str | None] = "p"
    Params = TopPParams

    def transform(self, logits: Any) -> Any:
        order = _likely_first(logits)
        probs = ops.softmax(ops.take_along_axis(logits, order, axis=-1), axis=-1)
        # Mass at and after each sorted position: HF's ascending cumulative sum, read backwards.
        tail = ops.flip(ops.cumsum(ops.flip(probs, axis=-1), axis=-1), axis=-1)
        keep = (tail > 1.0 - self.params.p) | (_positions(logits) < self.params.min_keep)
        return keep_mask(logits, ops.take_along_axis(keep, _rank(order), axis=-1))


class MinPParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    p: float = Field(ge=0, le=1, allow_inf_nan=False,
                     description="drop symbols less likely than p times the most likely one")
    min_keep: int = MIN_KEEP


class MinPSampler(_Truncation):
    """Min-p sampling (MinPLogitsWarper): the cut scales with the top symbol's probability."""

    primary: ClassVar[str | None] = "p"
    Params = MinPParams

    def transform(self, logits: Any) -> Any:
        probs = ops.softmax(logits, axis=-1)
        top = ops.max(probs, axis=-1, keepdims=True)
        keep = probs >= self.params.p * top
        if self.params.min_keep > 1:  # the most likely symbol always passes p * top
            keep = keep | (_rank(_likely_first(logits)) < self.params.min_keep)
        return keep_mask(logits, keep)


class TypicalParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mass: float = Field(gt=0, lt=1, allow_inf_nan=False,
                        description="probability mass of the most typical symbols to keep")
    min_keep: int = MIN_KEEP


class TypicalSampler(_Truncation):
    """Locally typical sampling (TypicalLogitsWarper): keep the symbols whose surprise is
    closest to the entropy until they hold ``mass``; the most likely symbol may go."""

    primary: ClassVar[str | None] = "mass"
    Params = TypicalParams

    def transform(self, logits: Any) -> Any:
        import tensorflow as tf

        logp = ops.log_softmax(logits, axis=-1)
        p = ops.exp(logp)
        entropy = -ops.sum(ops.where(p > 0, p * logp, ops.zeros_like(p)), axis=-1, keepdims=True)
        score = ops.abs(-logp - entropy)  # +inf for removed symbols, which sort last
        order = tf.argsort(_unsigned_zero(score), axis=-1, stable=True)  # see _likely_first
        cumulative = ops.cumsum(ops.take_along_axis(p, order, axis=-1), axis=-1)
        # The first sorted position where the running mass reaches ``mass``, and its score.
        last = ops.sum(ops.cast(cumulative < self.params.mass, "int32"), axis=-1, keepdims=True)
        last = ops.minimum(last, logits.shape[-1] - 1)
        boundary = ops.take_along_axis(ops.take_along_axis(score, order, axis=-1), last, axis=-1)
        keep = score <= boundary
        if self.params.min_keep > 1:
            keep = keep | (_rank(order) < self.params.min_keep)
        return keep_mask(logits, keep)
