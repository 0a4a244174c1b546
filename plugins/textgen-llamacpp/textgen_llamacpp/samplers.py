"""XTC and dynamic temperature, as llama.cpp defines them (src/llama-sampling.cpp).

llama.cpp is their reference: XTC was written for text-generation-webui and ported there, and
dynamic temperature ("temp_ext") exists nowhere else in a maintained library. llama.cpp keeps a
list of candidates that earlier samplers shrink; here earlier stages leave ``-inf`` in place, so
"the candidates" are the finite logits. Where llama.cpp sorts, equal logits take the stable
order (the lower id first).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from textgen.samplers.base import Sampler, State, keep_mask
from textgen.samplers.ops import ops

NEG_INF = float("-inf")


def _finite_count(logits: Any) -> Any:
    """``[batch, 1]`` int32: how many candidates (finite logits) each row has."""
    return ops.sum(ops.cast(logits > NEG_INF, "int32"), axis=-1, keepdims=True)


def _first_argmax(logits: Any) -> Any:
    """``[batch, vocab]`` bool: the first largest logit of each row. (Found by comparison:
    TensorFlow's argmax can rank 0.0 above an earlier -0.0.)"""
    ids = ops.arange(int(logits.shape[-1]))[None, :]
    top = ops.max(logits, axis=-1, keepdims=True)
    first = ops.min(ops.where(logits == top, ids, int(logits.shape[-1])), axis=-1, keepdims=True)
    return ids == first


def _first_argmax_only(logits: Any) -> Any:
    """``llama_sampler_temp_impl`` at temperature <= 0: the first largest logit, rest ``-inf``."""
    return keep_mask(logits, _first_argmax(logits))


def _entropy(logits: Any) -> Any:
    """``[batch, 1]``: the entropy (nats) of ``softmax(logits)``, accurate in float32 when one
    candidate holds nearly all the mass: the normaliser is ``log1p`` of the others' share. (A
    float32 ``log(1.0000003)`` is off by 20%, and at a small entropy raised to a small exponent
    that moved the temperature by 0.5%, away from the formula llama.cpp's code states.)"""
    shifted = logits - ops.max(logits, axis=-1, keepdims=True)
    rest = ops.sum(ops.where(_first_argmax(logits), ops.zeros_like(shifted), ops.exp(shifted)),
                   axis=-1, keepdims=True)
    logp = shifted - ops.log1p(rest)
    p = ops.exp(logp)
    return -ops.sum(ops.where(p > 0, p * logp, ops.zeros_like(p)), axis=-1, keepdims=True)


class XTCParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    probability: float = Field(0.5, ge=0, le=1, allow_inf_nan=False,
                               description="chance, per step, that the top choices are excluded")
    threshold: float = Field(0.1, ge=0, le=0.5, allow_inf_nan=False,
                             description="symbols at least this likely count as top choices")
    min_keep: int = Field(1, ge=1, description="never leave fewer candidates than this")


class XTCSampler(Sampler):
    """Exclude Top Choices, as llama.cpp's ``llama_sample_xtc_apply``.

    With chance ``probability`` per step, every candidate whose probability is at least
    ``threshold`` is removed except the least likely of them, provided at least two reach the
    threshold and ``min_keep`` candidates remain. The coin is this stage's own counter-based
    uniform (``noise_draws = 1``): a row's coins depend on its seed, step and place in the
    chain only, so coupled rows see the same coins. llama.cpp's ``threshold > 0.5`` (a no-op
    there) is refused here: at most one symbol can be more likely than 0.5.
    """

    primary: ClassVar[str | None] = "probability"
    Params = XTCParams
    noise_draws: ClassVar[int] = 1

    def warp(self, logits: Any, state: State, *, noise: Any = None) -> tuple[Any, State]:
        if self.params.probability <= 0:
            return logits, state
        if noise is None:
            raise ValueError("xtc draws a coin per step: call it with noise=[batch, 1] uniforms "
                             "(the decoding loop and stage(logits, seed=...) do)")
        p = ops.softmax(logits, axis=-1)
        finite = logits > NEG_INF
        size = _finite_count(logits)
        above = finite & (p >= self.params.threshold)  # a prefix of the most-likely-first order
        count = ops.sum(ops.cast(above, "int32"), axis=-1, keepdims=True)
        last = ops.maximum(count - 1, 0)  # llama.cpp's pos_last: the last top choice's place
        fires = ((noise[:, :1] <= self.params.probability) & (size >= 2) & (last > 0)
                 & (size - last >= self.params.min_keep))
        # The top choice that stays is the last of them in that order: the smallest logit among
        # them, the highest id among equal ones. O(vocab), no sort.
        lowest = ops.min(ops.where(above, logits, float("inf")), axis=-1, keepdims=True)
        ids = ops.arange(int(logits.shape[-1]))[None, :]
        stays = ops.max(ops.where(above & (logits == lowest), ids, -1), axis=-1, keepdims=True)
        return keep_mask(logits, ~(fires & above & (ids != stays))), state


class DynatempParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    temperature: float = Field(1.0, ge=0, allow_inf_nan=False,
                               description="the base temperature; 0 is greedy")
    range: float = Field(0.0, ge=0, allow_inf_nan=False,
                         description="temperatures span temperature +- range (0: plain "
                                     "temperature)")
    exponent: float = Field(1.0, gt=0, allow_inf_nan=False,
                            description="the normalised entropy is raised to this power")


class DynatempSampler(Sampler):
    """Dynamic (entropy-scaled) temperature, as llama.cpp's ``llama_sampler_temp_ext_apply``.

    With ``range > 0`` and at least two candidates: ``T = lo + (hi - lo) * (H / ln n)^exponent``
    where ``lo = max(0, temperature - range)``, ``hi = temperature + range``, H is the entropy
    (nats) of the candidates and n their number; logits are divided by T, or at ``T <= 0`` only
    the most likely stays (the lowest id on ties). A row with one candidate is left as it is.
    With ``range == 0`` it is plain temperature (again ``temperature: 0`` keeps the argmax).
    """

    primary: ClassVar[str | None] = "range"
    Params = DynatempParams

    def temperature_of(self, logits: Any) -> Any:
        """``[batch, 1]`` float32: the temperature this step uses for each row."""
        temp, delta = self.params.temperature, self.params.range
        low, high = max(0.0, temp - delta), temp + delta
        n = ops.cast(_finite_count(logits), "float32")
        normalised = _entropy(logits) / ops.log(ops.maximum(n, 2.0))
        return low + (high - low) * ops.power(normalised, self.params.exponent)

    def warp(self, logits: Any, state: State, *, noise: Any = None) -> tuple[Any, State]:
        if self.params.range <= 0:
            if self.params.temperature <= 0:
                return _first_argmax_only(logits), state
            return logits / self.params.temperature, state
        temp = self.temperature_of(logits)
        safe = ops.where(temp > 0, temp, ops.ones_like(temp))
        scaled = ops.where(temp > 0, logits / safe, _first_argmax_only(logits))
        return ops.where(_finite_count(logits) <= 1, logits, scaled), state
