"""Coupled generation: settings that share seeds share their random stream (no training)."""

import keras
import numpy as np
import pytest

from textgen.backbones.lstm import LSTMBackbone
from textgen.corpus.vocab import CharVocab
from textgen.generation.engine import Decoder
from textgen.generation.sampling import generate, plan_rows
from textgen.model import build_model, parts
from textgen.samplers.build import build_chain

SETTINGS = ["greedy", {"temperature": 0.01}, "multinomial", {"temperature": 1.0}]
PROMPTS = ["the ", "a cat "]
LENGTH = 30


@pytest.fixture(scope="module")
def setup():
    """An untrained model and one compiled decoder for every setting."""
    keras.utils.set_random_seed(3)
    vocab = CharVocab.from_text("abcdefghijklmnopqrstuvwxyz .,")
    model = build_model(len(vocab), LSTMBackbone(units=16), embedding_dim=8)
    chains = [build_chain(s) for s in SETTINGS]
    return model, vocab, chains, Decoder(model, chains)


def _sharpen(model: keras.Model, factor: float) -> None:
    """Scale the head's kernel: an untrained model's logits are nearly flat, and only logits
    well apart (gap >> T) make temperature 0.01 pick the argmax. The compiled decoder reads
    the variables, so no recompiling."""
    _, _, head = parts(model)
    if not hasattr(head, "_original_kernel"):
        head._original_kernel = head.get_weights()[0]
    head.set_weights([head._original_kernel * factor, head.get_weights()[1]])


def _texts(setup, coupled: bool, sharpness: float = 40.0) -> dict[int, list[str]]:
    model, vocab, chains, decoder = setup
    _sharpen(model, sharpness)
    rows = plan_rows(PROMPTS, len(chains), num_samples=4, seed=11, coupled=coupled)
    samples = generate(model, vocab, chains, rows, LENGTH, batch_size=64, decoder=decoder)
    by_setting: dict[int, list[str]] = {}
    for s in samples:
        by_setting.setdefault(s.setting, []).append(s.text)
    return by_setting


def test_plan_rows_shares_seeds_only_when_coupled():
    coupled = plan_rows(PROMPTS, 3, 2, seed=5, coupled=True)
    apart = plan_rows(PROMPTS, 3, 2, seed=5, coupled=False)
    seeds = [[r.seed for r in rows if r.setting == k] for rows in (coupled, apart)
             for k in range(3)]
    assert seeds[0] == seeds[1] == seeds[2]
    assert len(set(seeds[3]) | set(seeds[4]) | set(seeds[5])) == 12  # disjoint per setting
    assert len(set(seeds[0])) == 4  # yet every sample of a setting has its own seed


def test_coupled_low_temperature_matches_greedy(setup):
    texts = _texts(setup, coupled=True, sharpness=1e4)
    assert texts[1] == texts[0]
    assert len(set(texts[0])) == len(PROMPTS)  # greedy: one continuation per prompt


def test_coupled_settings_share_noise(setup):
    texts = _texts(setup, coupled=True)
    assert texts[2] == texts[3]  # multinomial and T = 1 are one distribution: same draws
    assert len(set(texts[2])) > len(PROMPTS)  # and the samples themselves vary


def test_uncoupled_settings_draw_apart(setup):
    texts = _texts(setup, coupled=False)
    assert all(a != b for a, b in zip(texts[2], texts[3], strict=True))


def test_a_sample_does_not_depend_on_its_batch(setup):
    model, vocab, chains, decoder = setup
    _sharpen(model, 40.0)
    rows = plan_rows(PROMPTS, len(chains), 4, seed=11, coupled=True)
    shuffled = [r for r in rows if r.prompt == PROMPTS[1]][::-1]  # same batch shape, new order
    together = generate(model, vocab, chains, rows, LENGTH, decoder=decoder)
    alone = generate(model, vocab, chains, shuffled, LENGTH, decoder=decoder)
    key = {(s.setting, s.seed, s.prompt): s for s in together}
    for s in alone:
        twin = key[(s.setting, s.seed, s.prompt)]
        assert s.text == twin.text
        assert np.allclose(s.token_logprob, twin.token_logprob, atol=1e-5)
