"""From prompts and sampler settings to decoded samples: plans rows, seeds and batches.

Each sample's randomness comes from its own seed (see ``noise.py``), so a sample is reproduced by
the same model, prompt, setting and seed whatever else was generated beside it. Rows are padded
to a multiple of ``PAD`` so that small requests share one compiled program and one kernel shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import keras
import numpy as np

from textgen.corpus.vocab import CharVocab
from textgen.errors import LimitError, PromptError, UsageError
from textgen.generation.decoders import DecodingStrategy, strategy_samples
from textgen.generation.engine import ACCEPT, Decoded, Decoder
from textgen.generation.stops import StopAutomaton, stop_automaton
from textgen.records import Sample
from textgen.samplers.base import SamplerChain

PAD = 8
CHUNK = 2048                   # decoding steps per compiled call; longer samples carry state over
MAX_LENGTH = 10_000_000        # characters one sample may have when streamed as plain text
MAX_RECORD_LENGTH = 1_000_000  # ... when kept whole with its statistics (records, reports)
BATCH_CHARS = 2_000_000        # characters (with their statistics) one batch of records holds
SETTING_SEED_STRIDE = 1_000_003  # settings draw from disjoint seed ranges unless coupled


@dataclass(frozen=True)
class Row:
    prompt: str
    setting: int
    seed: int


def plan_rows(prompts: Sequence[str], n_settings: int, num_samples: int, seed: int,
              coupled: bool) -> list[Row]:
    """Every (setting, prompt, sample) with its seed; coupled settings share seeds."""
    rows: list[Row] = []
    for k in range(n_settings):
        base = seed if coupled else seed + k * SETTING_SEED_STRIDE
        for j, prompt in enumerate(prompts):
            rows.extend(Row(prompt, k, base + j * num_samples + i) for i in range(num_samples))
    return rows


def check_length(length: int, whole: bool = True, option: str = "length") -> None:
    """Refuse up front a length that cannot be generated: below 1, or above what a sample may
    hold (``MAX_RECORD_LENGTH`` when kept ``whole`` with its statistics, else ``MAX_LENGTH``)."""
    if length < 1:
        raise UsageError(f"{option} must be at least 1, got {length}")
    limit = MAX_RECORD_LENGTH if whole else MAX_LENGTH
    if length > limit:
        how = ("kept whole with its per-character statistics (--json, --output, --show "
               "surprise, a run's samples)" if whole else "streamed as plain text")
        raise LimitError(f"{option} {length:,} is more than one sample may have when {how}: "
                         f"at most {limit:,} characters. Ask for fewer characters, or several "
                         "samples (--num-samples) instead of one long one.")


def decode_rows(decoder: Decoder, prompt_ids: np.ndarray, setting: np.ndarray,
                seeds: np.ndarray, length: int, chunk: int = CHUNK,
                stops: StopAutomaton | None = None) -> Iterator[Decoded]:
    """The rows' ids in pieces: one piece when ``length <= chunk``, else pieces of ``chunk``
    steps that carry the decoder's state over (the same ids either way)."""
    if length <= chunk:
        yield decoder(prompt_ids, setting, seeds, length, stops=stops)
    else:
        yield from decoder.stream(prompt_ids, setting, seeds, length, chunk, stops=stops)


def bind_vocabulary(chains: Sequence[SamplerChain], vocab: CharVocab) -> None:
    """Give the model's characters to every stage (``Sampler.bind``): stages whose
    parameters name characters (logit_bias, dry, banned_strings, regex) map them to ids."""
    for stage in (s for chain in chains for s in chain.stages):
        stage.bind(vocab)


def stream_text(decoder: Decoder, vocab: CharVocab, prompt: str, setting: int, seed: int,
                length: int, unknown: Literal["error", "skip"] = "error",
                chunk: int = CHUNK) -> Iterator[str]:
    """One sample's text as it is decoded, a piece at a time; memory does not grow with length.

    The row is padded to ``PAD`` rows as ``generate`` pads it, so the text is the same.
    """
    check_length(length, whole=False)
    ids = vocab.encode(prompt, unknown=unknown)
    if len(ids) == 0:
        raise PromptError(f"the prompt {prompt!r} has no characters the model knows")
    bind_vocabulary(decoder.settings, vocab)
    for out in decode_rows(decoder, np.stack([ids] * PAD), np.full(PAD, setting),
                           np.full(PAD, seed), length, chunk):
        kept, end = ending(out.tokens[0], out.finish[0], None)
        yield vocab.decode(out.tokens[0, :kept])
        if end != "length":
            return  # a stage (regex) accepted the text


def generate(model: keras.Model, vocab: CharVocab, chains: Sequence[SamplerChain],
             rows: Sequence[Row], length: int, batch_size: int = 64,
             unknown: Literal["error", "skip"] = "error", decoder: Decoder | None = None,
             on_batch: Callable[[list[Sample]], None] | None = None,
             steps: int = CHUNK, stop: Sequence[str] = ()) -> list[Sample]:
    """Decode every row; ``on_batch`` sees each finished batch (progress, streaming).

    Samples longer than ``steps`` decode in pieces that carry the state over, in batches small
    enough that a batch holds at most ``BATCH_CHARS`` characters with their statistics. A
    sample ends early at the first of the ``stop`` strings (cut before it). Stages that need
    the model's characters (``regex``) get them through ``bind(vocab)`` first; rows of a
    decoding strategy (``beam``) go to it.
    """
    check_length(length)
    stops = stop_automaton(stop, vocab) if stop else None
    if length > steps:
        batch_size = max(1, min(batch_size, BATCH_CHARS // length))
    bind_vocabulary(chains, vocab)
    decoder = decoder or Decoder(model, chains)
    configs = [chain.get_config() for chain in chains]
    encoded = {p: vocab.encode(p, unknown=unknown) for p in {r.prompt for r in rows}}
    for prompt, ids in encoded.items():
        if len(ids) == 0:
            raise PromptError(f"the prompt {prompt!r} has no characters the model knows")
    samples: list[Sample] = []
    by_length: dict[int, list[Row]] = {}
    strategy_rows = [r for r in rows if isinstance(chains[r.setting], DecodingStrategy)]
    for row in rows:
        if not isinstance(chains[row.setting], DecodingStrategy):
            by_length.setdefault(len(encoded[row.prompt]), []).append(row)
    for group in by_length.values():
        for start in range(0, len(group), batch_size):
            chunk = group[start:start + batch_size]
            padded = chunk + [chunk[-1]] * (-len(chunk) % PAD)
            pieces = list(decode_rows(decoder, np.stack([encoded[r.prompt] for r in padded]),
                                      np.array([r.setting for r in padded]),
                                      np.array([r.seed for r in padded]), length, steps,
                                      stops))
            out = Decoded.join(pieces, axis=1)
            batch = []
            for i, r in enumerate(chunk):
                kept, end = ending(out.tokens[i], out.finish[i], stops)
                batch.append(Sample(
                    prompt=r.prompt, text=vocab.decode(out.tokens[i, :kept]),
                    sampler=chains[r.setting].label(), seed=r.seed, setting=r.setting,
                    sampler_config=configs[r.setting],
                    model_entropy=np.maximum(out.model_entropy[i, :kept], 0).tolist(),
                    sampling_entropy=np.maximum(out.sampling_entropy[i, :kept], 0).tolist(),
                    token_logprob=out.token_logprob[i, :kept].tolist(), end=end))
            samples.extend(batch)
            if on_batch:
                on_batch(batch)
    if strategy_rows:
        batch = strategy_samples(model, vocab, list(chains), strategy_rows, encoded, length,
                                 batch_size, stops)
        samples.extend(batch)
        if on_batch:
            on_batch(batch)
    return samples


def ending(ids: np.ndarray, finish: np.ndarray, stops: StopAutomaton | None) -> tuple[int, str]:
    """How many of ``ids`` a sample keeps, and why it ended: before the stop string that ended
    it (``"stop"``), with the character a stage accepted (``"accept"``), or all (``"length"``)."""
    at = np.flatnonzero(finish)
    if not at.size:
        return len(ids), "length"
    t = int(at[0])
    if finish[t] == ACCEPT or stops is None:
        return t + 1, "accept"
    found = stops.find(ids[:t + 1].tolist())
    return t + 1 - (found[1] if found else 0), "stop"
