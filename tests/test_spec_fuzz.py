"""Fuzzing: any spec fails only with SpecError; built-in samplers stay valid on any logits."""

from __future__ import annotations

import math
import warnings

import keras
import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textgen import spec as specs
from textgen.backbones.lstm import LSTMBackbone
from textgen.generation.engine import Decoder
from textgen.model import build_model
from textgen.samplers.build import build_chain
from textgen.spec import SpecError

SECTIONS = {
    "corpus": ["name", "path", "lowercase", "fold_newlines", "val_fraction", "max_chars"],
    "backbone": ["type", "embedding", "units", "layers", "dropout", "filters", "kernel_size",
                 "dilations", "repeats", "activation"],
    "training": ["seq_len", "step", "target", "batch_size", "epochs", "max_seconds",
                 "optimizer", "jit_compile"],
    "evaluation": ["context", "stride", "batch_size"],
    "generation": ["length", "num_samples", "prompts", "prompt_length", "prompt",
                   "unknown_chars", "coupled", "batch_size", "samplers"],
    "report": ["excerpt_chars", "copy_window", "judge_order", "self_bleu_samples",
               "reference_pieces", "compare"],
}
TOP = ["name", "seed", "output_dir", *SECTIONS]
NAMES = ["lstm", "conv", "greedy", "temperature", "top_k", "top_p", "uniform", "multinomial",
         "adam", "sgd", "all", "last", "error", "skip", "onehot", "tiny", "p", "k", "baseline",
         "pairs"]

scalars = (st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.sampled_from(NAMES)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8))
values = st.recursive(
    scalars,
    lambda inner: (st.lists(inner, max_size=3)
                   | st.dictionaries(st.sampled_from(NAMES) | scalars, inner, max_size=3)),
    max_leaves=8)


@st.composite
def spec_trees(draw) -> dict:
    """A mapping with the real section and field names, holding random values."""
    tree = {}
    for key in draw(st.lists(st.sampled_from(TOP), unique=True, max_size=len(TOP))):
        if key in SECTIONS and draw(st.booleans()):
            fields = draw(st.lists(st.sampled_from(SECTIONS[key]), unique=True, max_size=4))
            tree[key] = {f: draw(values) for f in fields}
        else:
            tree[key] = draw(values)
    return tree


def _dump(tree) -> str:
    try:
        return yaml.safe_dump(tree, allow_unicode=True)
    except yaml.YAMLError:  # e.g. a key PyYAML cannot represent
        return yaml.safe_dump(str(tree))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec_trees())
def test_any_spec_loads_or_fails_with_spec_error(tree):
    try:
        specs.loads(_dump(tree))
    except SpecError:
        pass


SAMPLERS = ["greedy", "multinomial", "temperature", "uniform", "top_k", "top_p", "min_p"]
options = st.dictionaries(st.sampled_from(["temperature", "k", "p"]) | st.integers(), values,
                          max_size=2)
stages = st.one_of(
    st.sampled_from(SAMPLERS) | scalars,
    st.builds(lambda name, value: {name: value}, st.sampled_from(SAMPLERS), scalars | options),
    st.dictionaries(st.sampled_from(NAMES) | scalars, values, min_size=1, max_size=2))


@settings(max_examples=80, deadline=None)
@given(st.lists(stages | st.lists(stages, max_size=3), max_size=3))
def test_any_sampler_setting_loads_or_fails_with_spec_error(samplers):
    text = _dump({"name": "x", "corpus": {"name": "tiny"},
                  "generation": {"samplers": samplers}})
    try:
        specs.loads(text)
    except SpecError as err:
        assert "generation" in str(err) or "invalid YAML" in str(err)


# --- built-in samplers on any finite logits, through the compiled engine ----------------------

VOCAB = 6
SETTINGS = ["greedy", "multinomial", "uniform", {"temperature": 0.05}, {"temperature": 1.0},
            {"temperature": 7.5}]


@pytest.fixture(scope="module")
def engine():
    """A model whose next-character logits are its head's bias, whatever it has read."""
    keras.utils.set_random_seed(0)
    model = build_model(VOCAB, LSTMBackbone(units=4), embedding_dim=None)
    head = model.get_layer("head")
    head.kernel.assign(np.zeros(head.kernel.shape, np.float32))
    decoder = Decoder(model, [build_chain(s) for s in SETTINGS])

    def decode(logits: np.ndarray, length: int = 3):
        head.bias.assign(np.asarray(logits, np.float32))
        rows = len(SETTINGS)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return decoder(np.zeros((rows, 2), np.int32), np.arange(rows),
                           np.arange(rows) + 11, length)
    return decode


BIG = float(np.float32(1e30))
# No subnormal floats (|x| < 1.2e-38): XLA on a CPU flushes them to zero, so a logit of 1e-40
# ties with 0 there and greedy takes the first of the tie, where numpy's argmax would not.
finite32 = st.floats(width=32, allow_nan=False, allow_infinity=False, allow_subnormal=False)
logit_vectors = st.one_of(
    st.lists(finite32, min_size=VOCAB, max_size=VOCAB),
    st.lists(st.floats(-BIG, BIG, width=32, allow_subnormal=False), min_size=VOCAB,
             max_size=VOCAB),
    finite32.map(lambda v: [v] * VOCAB),  # all equal
)


def _check(out, logits: np.ndarray) -> None:
    allowed = np.isfinite(logits)
    assert out.tokens.min() >= 0 and out.tokens.max() < VOCAB
    assert allowed[out.tokens].all(), "drew a symbol whose probability is zero"
    assert np.isfinite(out.model_entropy).all() and np.isfinite(out.sampling_entropy).all()
    assert not np.isnan(out.token_logprob).any()
    greedy = int(np.argmax(np.where(allowed, logits, -np.inf)))
    assert (out.tokens[0] == greedy).all(), "greedy must draw the first argmax"


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logit_vectors)
def test_builtin_samplers_draw_valid_ids_on_any_finite_logits(engine, logits):
    logits = np.asarray(logits, np.float32)
    _check(engine(logits), logits)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.floats(-50, 50, width=32, allow_subnormal=False), min_size=VOCAB,
                max_size=VOCAB),
       st.sets(st.integers(0, VOCAB - 1), min_size=1, max_size=VOCAB - 1))
def test_zero_probabilities_are_never_drawn_and_warn_nothing(engine, logits, removed):
    logits = np.asarray(logits, np.float32)
    logits[sorted(removed)] = -np.inf
    _check(engine(logits), logits)
    for setting in SETTINGS:  # each stage on its own, outside the compiled loop, too
        with warnings.catch_warnings(), np.errstate(all="raise"):
            warnings.simplefilter("error")
            out = np.asarray(build_chain(setting)(logits[None]))
        assert not np.isnan(out).any()
        assert (out[0][~np.isfinite(logits)] == -math.inf).all()
