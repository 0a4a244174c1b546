"""Epsilon, eta, top-H and top-n-sigma: truncations whose cut follows one rule of the source.

Each stage keeps some logits unchanged and sets the rest to ``-inf``; ``-inf`` entries from an
earlier stage count as probability 0 (llama.cpp drops them from its candidate list; here they
stay in place at ``-inf``). Where a source leaves the order of equal logits to its sort, these
stages take the stable order: the lower id ranks first. Everything is ``keras.ops`` with a static
vocabulary size, so the stages compile into the decoding loop (XLA or not).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from textgen.samplers.base import Sampler, keep_mask, likely_rank
from textgen.samplers.ops import ops

MIN_KEEP = Field(1, ge=1, description="always keep at least this many of the most likely symbols")
TOP_H_CANDIDATES = 100  # TopHLogitsWarper's fixed head: only the 100 most likely can be kept


def _entropy_nats(logits: Any) -> Any:
    """``[batch, 1]`` entropy of ``softmax(logits)`` in nats; ``-inf`` entries add nothing."""
    logp = ops.log_softmax(logits, axis=-1)
    p = ops.exp(logp)
    return -ops.sum(ops.where(p > 0, p * logp, ops.zeros_like(p)), axis=-1, keepdims=True)


def _keep_top(logits: Any, keep: Any, min_keep: int) -> Any:
    """``keep``, plus every symbol whose logit is at least the ``min_keep``-th largest (HF's
    ``indices_to_remove & (scores < topk(scores, min_keep)[-1])``)."""
    kth = ops.top_k(logits, min(min_keep, int(logits.shape[-1])))[0][:, -1:]
    return keep | (logits >= kth)


class _Cutoff(Sampler):
    """Labels as ``eta(0.0009)``, naming ``min_keep`` only when it is not the default 1."""

    def label(self) -> str:
        extra = ""
        if getattr(self.params, "min_keep", 1) != 1:
            extra = f", min_keep={self.params.min_keep}"
        return f"{self.stage_name}({getattr(self.params, self.primary or ''):g}{extra})"


class EpsilonParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    epsilon: float = Field(gt=0, lt=1, allow_inf_nan=False,
                           description="drop symbols whose probability is below this")
    min_keep: int = MIN_KEEP


class EpsilonSampler(_Cutoff):
    """Epsilon sampling (Hewitt et al. 2022), as transformers' ``EpsilonLogitsWarper.__call__``
    (src/transformers/generation/logits_process.py): drop every symbol with ``p < epsilon``,
    but never the ``min_keep`` most likely. Transformers is the only source that ships it."""

    primary: ClassVar[str | None] = "epsilon"
    Params = EpsilonParams

    def transform(self, logits: Any) -> Any:
        keep = ops.softmax(logits, axis=-1) >= self.params.epsilon
        return keep_mask(logits, _keep_top(logits, keep, self.params.min_keep))


class EtaParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    epsilon: float = Field(gt=0, lt=1, allow_inf_nan=False,
                           description="the cutoff's ceiling; the paper suggests 3e-4 to 4e-3")
    min_keep: int = MIN_KEEP


class EtaSampler(_Cutoff):
    """Eta sampling (Hewitt et al. 2022), as transformers' ``EtaLogitsWarper.__call__``: drop
    symbols with ``p < eta``, ``eta = min(epsilon, sqrt(epsilon) * exp(-H))`` (H the entropy in
    nats), never the ``min_keep`` most likely. The code's ``sqrt(epsilon) * exp(-H)`` is
    followed, not its docstring's ``sqrt(epsilon * exp(-H))``."""

    primary: ClassVar[str | None] = "epsilon"
    Params = EtaParams

    def transform(self, logits: Any) -> Any:
        epsilon = self.params.epsilon
        eta = ops.minimum(epsilon, epsilon ** 0.5 * ops.exp(-_entropy_nats(logits)))
        keep = ops.softmax(logits, axis=-1) >= eta
        return keep_mask(logits, _keep_top(logits, keep, self.params.min_keep))


class TopHParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    top_h: float = Field(gt=0, le=1, allow_inf_nan=False,
                         description="keep the likely head while its entropy is at most "
                                     "top_h times the whole distribution's")


class TopHSampler(_Cutoff):
    """Top-H (Baghaei Potraghloo et al. 2025), as transformers' ``TopHLogitsWarper.__call__``:
    take the 100 most likely symbols, renormalise them, and keep them in order while the running
    sum of ``-p log p`` stays at most ``top_h`` times their entropy; the most likely always
    stays. The source has no ``min_keep``. A symbol of probability 0 in that head gives
    ``0 * log 0 = NaN`` in the running sum there, so it and everything after it go, as in torch.
    """

    primary: ClassVar[str | None] = "top_h"
    Params = TopHParams

    def transform(self, logits: Any) -> Any:
        n = min(TOP_H_CANDIDATES, int(logits.shape[-1]))
        head = ops.top_k(logits, n)[0]  # sorted, ties in id order (tf.math.top_k is stable)
        logp = ops.log_softmax(head, axis=-1)
        p = ops.exp(logp)
        tau = _entropy_nats(head) * self.params.top_h
        running = ops.cumsum(-p * logp, axis=-1)  # NaN from the first p == 0 on
        first = ops.arange(n) == 0
        kept = ops.sum(ops.cast((running <= tau) | first, "int32"), axis=-1, keepdims=True)
        return keep_mask(logits, likely_rank(logits) < kept)


class TopNSigmaParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: float = Field(gt=0, allow_inf_nan=False,
                     description="keep logits within n standard deviations of the largest")


class TopNSigmaSampler(_Cutoff):
    """Top-n-sigma (Tang et al. 2024), as llama.cpp's ``llama_sampler_top_n_sigma_apply``
    (src/llama-sampling.cpp): over the finite logits, drop every logit below
    ``max - n * std`` (the population standard deviation), computed in float32 as there.
    llama.cpp is the source because the paper's own code is not a maintained library, and it
    works on logits (temperature-free), which is the paper's point. ``n <= 0`` (a no-op in
    llama.cpp) is refused here. The source has no ``min_keep``: the largest logit always stays.
    """

    primary: ClassVar[str | None] = "n"
    Params = TopNSigmaParams

    def transform(self, logits: Any) -> Any:
        if int(logits.shape[-1]) <= 1:
            return logits
        finite = logits > float("-inf")
        count = ops.sum(ops.cast(finite, "float32"), axis=-1, keepdims=True)
        values = ops.where(finite, logits, ops.zeros_like(logits))
        some = count > 0
        mean = ops.where(some, ops.sum(values, axis=-1, keepdims=True) / ops.maximum(count, 1),
                         0.0)
        spread = ops.where(finite, ops.square(logits - mean), ops.zeros_like(logits))
        std = ops.where(some, ops.sqrt(ops.sum(spread, axis=-1, keepdims=True)
                                       / ops.maximum(count, 1)), 0.0)
        top = ops.max(logits, axis=-1, keepdims=True)
        return keep_mask(logits, ~(logits < top - self.params.n * std))
