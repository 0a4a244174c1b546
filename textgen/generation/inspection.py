"""Decoding that keeps every stage's distribution: what each stage of a chain did at each step.

The loop is the engine's own (``Decoder(..., record_stages=True)``: the same prefill, per-seed
Gumbel noise, per-stage coins and row endings), so the text is the one ``generate`` gives; besides
the drawn id it records the model's probabilities and the probabilities after each stage, so a
user (or the server's inspection view) can see how the chain reshaped the model's distribution
before the draw. Meant for one or a few rows, not bulk generation.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from textgen.generation.engine import Decoder
from textgen.samplers.base import SamplerChain


@dataclass
class Traced:
    """Per row and generated step: the id, the model's and each stage's probabilities."""

    tokens: np.ndarray            # [batch, steps] int32
    model_probs: np.ndarray       # [batch, steps, vocab]
    stage_probs: np.ndarray       # [batch, steps, stages, vocab]
    model_entropy: np.ndarray     # [batch, steps] bits
    sampling_entropy: np.ndarray  # [batch, steps] bits, of the last stage's distribution
    finish: np.ndarray            # [batch, steps] int32: nonzero where the row ended (Decoded)


class StageTracer:
    """The recording loop for one model and one chain, compiled once per shape."""

    def __init__(self, model: keras.Model, chain: SamplerChain, jit_compile: bool = True) -> None:
        self.model, self.chain = model, chain
        self.decoder = Decoder(model, [chain], jit_compile=jit_compile, record_stages=True)

    def __call__(self, prompt_ids: np.ndarray, seeds: np.ndarray, steps: int) -> Traced:
        seeds = np.asarray(seeds, np.int64)
        out = self.decoder(prompt_ids, np.zeros(len(seeds), np.int32), seeds, int(steps))
        assert out.model_probs is not None and out.stage_probs is not None
        return Traced(out.tokens, out.model_probs, out.stage_probs, out.model_entropy,
                      out.sampling_entropy, out.finish)
