"""From prompts and sampler settings to decoded samples: plans rows, seeds and batches.

Each sample's randomness comes from its own seed (see ``noise.py``), so a sample is reproduced by
the same model, prompt, setting and seed whatever else was generated beside it. Rows are padded
to a multiple of ``PAD`` so that small requests share one compiled program and one kernel shape.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import keras
import numpy as np

from textgen.corpus.vocab import CharVocab
from textgen.errors import PromptError, UsageError
from textgen.generation.engine import Decoder
from textgen.records import Sample
from textgen.samplers.base import SamplerChain

PAD = 8
SETTING_SEED_STRIDE = 1_000_003  # settings draw from disjoint seed ranges unless coupled


@dataclass(frozen=True)
class Row:
    prompt: str
    setting: int
    seed: int


def plan_rows(prompts: Sequence[str], n_settings: int, num_samples: int, seed: int,
              coupled: bool) -> list[Row]:
    """Every (setting, prompt, sample) with its seed; coupled settings share seeds."""
    rows = []
    for k in range(n_settings):
        base = seed if coupled else seed + k * SETTING_SEED_STRIDE
        for j, prompt in enumerate(prompts):
            rows.extend(Row(prompt, k, base + j * num_samples + i) for i in range(num_samples))
    return rows


def generate(model: keras.Model, vocab: CharVocab, chains: Sequence[SamplerChain],
             rows: Sequence[Row], length: int, batch_size: int = 64,
             unknown: str = "error", decoder: Decoder | None = None,
             on_batch: Callable[[list[Sample]], None] | None = None) -> list[Sample]:
    """Decode every row; ``on_batch`` sees each finished batch (progress, streaming)."""
    if length < 1:
        raise UsageError(f"length must be at least 1, got {length}")
    decoder = decoder or Decoder(model, chains)
    configs = [chain.get_config() for chain in chains]
    encoded = {p: vocab.encode(p, unknown=unknown) for p in {r.prompt for r in rows}}
    for prompt, ids in encoded.items():
        if len(ids) == 0:
            raise PromptError(f"the prompt {prompt!r} has no characters the model knows")
    samples: list[Sample] = []
    by_length: dict[int, list[Row]] = {}
    for row in rows:
        by_length.setdefault(len(encoded[row.prompt]), []).append(row)
    for group in by_length.values():
        for start in range(0, len(group), batch_size):
            chunk = group[start:start + batch_size]
            padded = chunk + [chunk[-1]] * (-len(chunk) % PAD)
            out = decoder(np.stack([encoded[r.prompt] for r in padded]),
                          np.array([r.setting for r in padded]),
                          np.array([r.seed for r in padded]), length)
            batch = [Sample(prompt=r.prompt, text=vocab.decode(out.tokens[i]),
                            sampler=chains[r.setting].label(), seed=r.seed, setting=r.setting,
                            sampler_config=configs[r.setting],
                            model_entropy=np.maximum(out.model_entropy[i], 0).tolist(),
                            sampling_entropy=np.maximum(out.sampling_entropy[i], 0).tolist(),
                            token_logprob=out.token_logprob[i].tolist())
                     for i, r in enumerate(chunk)]
            samples.extend(batch)
            if on_batch:
                on_batch(batch)
    return samples
