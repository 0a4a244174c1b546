"""Mirostat v1: a top-k cut whose k comes from a Zipf fit of the head and a surprise target.

Follows llama.cpp's ``llama_sampler_mirostat_apply`` (src/llama-sampling.cpp), chosen because
it is the implementation people run (``--mirostat 1``) and the one the v2 stage beside it
follows; Basu et al.'s reference code differs (it measures surprise on the uncut distribution).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from textgen.samplers.base import Sampler, State, keep_mask, likely_rank
from textgen.samplers.ops import ops

LN2 = math.log(2.0)
INT_LIMIT = 2.0 ** 31  # a k this large does not fit llama.cpp's int: read as "keep everything"


class MirostatV1Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tau: float = Field(3.0, gt=0, allow_inf_nan=False,
                       description="target surprise per symbol, in bits")
    eta: float = Field(0.1, gt=0, allow_inf_nan=False,
                       description="learning rate of the surprise threshold mu")
    m: int = Field(100, ge=2, le=100_000,
                   description="how many of the most likely symbols the Zipf exponent is fitted "
                               "on (llama.cpp uses 100)")


class MirostatV1Sampler(Sampler):
    """Mirostat v1 (Basu et al. 2021) as llama.cpp's ``llama_sampler_mirostat_apply``.

    Each step, over the finite logits sorted most likely first (ties: lower id first):
    ``s = sum(t_i b_i) / sum(t_i^2)`` with ``t_i = ln((i+2)/(i+1))``, ``b_i = ln(p_i/p_{i+1})``
    for ``i < min(m, n) - 1``; ``k = (e 2^mu / (1 - V^-e))^(1/s)`` with ``e = s - 1`` and V the
    vocabulary size; keep the ``max(int(k), 1)`` most likely. Computed in float32 as there. A
    NaN k (a single candidate gives ``s = 0/0``) keeps one symbol, as the C cast does on x86; a k
    beyond the int range keeps every candidate (the C cast is undefined there). After the draw
    ``mu -= eta * (s_obs - tau)``, ``s_obs = -log2 p(token)`` under the renormalised cut. State:
    ``mu`` per row, starting at ``2 * tau``.
    """

    primary: ClassVar[str | None] = "tau"
    Params = MirostatV1Params

    def initial_state(self, batch_size: Any, vocab_size: int) -> State:
        """``(mu,)``: one float32 threshold per row, starting at ``2 * tau``."""
        return (ops.full((batch_size,), 2.0 * self.params.tau, dtype="float32"),)

    def cut_size(self, logits: Any, mu: Any) -> Any:
        """``[batch]`` int32: how many of the most likely symbols to keep this step."""
        vocab = int(logits.shape[-1])
        pairs = min(self.params.m, vocab) - 1
        finite = ops.sum(ops.cast(logits > float("-inf"), "int32"), axis=-1)
        if pairs < 1:
            return ops.minimum(ops.ones_like(finite), finite)
        p = -ops.sort(-ops.softmax(logits, axis=-1), axis=-1)[:, :pairs + 1]  # most likely first
        i = ops.arange(pairs, dtype="float32")
        t = ops.log((i + 2.0) / (i + 1.0))
        b = ops.log(p[:, :-1] / p[:, 1:])
        valid = ops.arange(pairs)[None, :] < (finite[:, None] - 1)
        num = ops.sum(ops.where(valid, t * b, ops.zeros_like(b)), axis=-1)
        den = ops.sum(ops.where(valid, t * t, ops.zeros_like(b)), axis=-1)
        s_hat = num / den
        e_hat = s_hat - 1.0
        k = ops.power((e_hat * ops.power(2.0, mu)) / (1.0 - ops.power(float(vocab), -e_hat)),
                      1.0 / s_hat)
        whole = ops.cast(ops.floor(ops.where(ops.abs(k) < INT_LIMIT, k, 0.0)), "int32")
        k_int = ops.where(ops.isnan(k) | (k < 1.0), 1, whole)
        k_int = ops.where(k >= INT_LIMIT, finite, k_int)
        return ops.maximum(ops.minimum(k_int, finite), ops.minimum(1, finite))

    def warp(self, logits: Any, state: State, *, noise: Any = None) -> tuple[Any, State]:
        (mu,) = state
        k = self.cut_size(logits, mu)
        return keep_mask(logits, likely_rank(logits) < k[:, None]), state

    def update(self, state: State, token: Any, warped: Any) -> State:
        """``mu -= eta * (surprise of the drawn token under the renormalised cut - tau)``;
        a token outside the cut (a row drawn from another setting) leaves mu as is."""
        (mu,) = state
        index = ops.expand_dims(ops.cast(token, "int32"), -1)
        surprise = -ops.log_softmax(warped, axis=-1) / LN2
        observed = ops.take_along_axis(surprise, index, axis=-1)[:, 0]
        stepped = mu - self.params.eta * (observed - self.params.tau)
        return (ops.where(ops.isfinite(observed), stepped, mu),)
