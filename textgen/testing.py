"""A conformance kit for sampler stages: call it from a plugin's own tests.

    from textgen.testing import check_stage

    def test_my_stage_follows_the_contract():
        check_stage(TopASampler, {"a": 0.2})

``check_stage`` runs the stage the way the decoding loop does (from ``initial_state``, a few
steps of ``warp``, a Gumbel draw and ``update``), eagerly and inside a compiled
``tf.while_loop`` with a dynamic batch, on random logits and on adversarial ones: ties, ``-inf``
entries, a single finite entry, a vocabulary of one, huge magnitudes. It fails with an
``AssertionError`` that lists every broken rule, each naming the case and the step:

- the output keeps the ``[batch, vocab]`` shape and float32 dtype, holds no NaN and no ``+inf``,
  and leaves at least one finite logit in every row (but rows the stage's ``finished`` ended);
- the state keeps its structure, shapes and dtypes across steps;
- the compiled loop gives the same logits and state as the eager one (``rtol``/``atol``);
- the same seed gives the same result twice; ``stage(numpy_array)`` returns NumPy;
- ``get_config()`` is plain JSON data and ``from_config`` rebuilds an equal stage.

A stage whose parameters name characters is checked bound to a vocabulary:
``check_stage(LogitBiasSampler, {"bias": {"e": -2}}, vocab="abcdef")`` binds it and uses that
width for every case.

For property tests against a reference implementation, ``logit_arrays()`` is a hypothesis
strategy of the same kind of logits (hypothesis is imported when it is called).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from textgen.samplers.base import Sampler, SamplerChain

INF = float("inf")
SPECIAL_LOGITS = (-INF, 0.0, 1.0, -1.0, 30.0, 1e30, -1e30)  # ties, removed, huge magnitudes


def normal_float32(x: float) -> np.float32:
    """``x`` in float32, with what would be a float32 subnormal made 0: XLA on CPU flushes
    subnormals to zero, so a property test that kept them would test the flush."""
    v = np.float32(x)
    return v if abs(v) >= np.finfo(np.float32).tiny else np.float32(0)


def logit_arrays(batch: int | tuple[int, int] = (1, 3),
                 vocab: int | tuple[int, int] = (1, 12)) -> Any:
    """A hypothesis strategy of ``[batch, vocab]`` float32 logits with ties, ``-inf``, huge
    magnitudes and no subnormals; ``batch`` and ``vocab`` are sizes or ``(low, high)`` ranges
    (the default vocabulary may be one symbol)."""
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    def size(n: int | tuple[int, int]) -> Any:
        return st.just(n) if isinstance(n, int) else st.integers(*n)

    element = st.one_of(st.floats(-30, 30, width=32, allow_subnormal=False),
                        st.sampled_from(SPECIAL_LOGITS),
                        st.floats(-1e30, 1e30, allow_subnormal=False).map(normal_float32))
    return st.tuples(size(batch), size(vocab)).flatmap(
        lambda shape: hnp.arrays(np.float32, shape, elements=element))


def _cases(vocab: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Named ``[batch, vocab]`` float32 logits that stages must survive."""
    normal = rng.normal(0, 3, size=(4, vocab))
    ties = np.round(rng.normal(0, 1, size=(3, vocab)))
    ties[0] = 0.0
    ties[1, : max(vocab // 2, 1)] = ties[1].max()
    minus_inf = rng.normal(0, 2, size=(3, vocab))
    minus_inf[rng.random(minus_inf.shape) < 0.4] = -INF
    minus_inf[:, rng.integers(vocab)] = 1.0  # every row keeps one finite entry
    single = np.full((2, vocab), -INF)
    single[0, 0] = 0.0
    single[1, vocab - 1] = -50.0
    huge = rng.choice([-1e30, -1e4, 0.0, 1e4, 1e30], size=(3, vocab))
    huge[:, 0] = 1e30
    return {"random": normal, "ties": ties, "-inf entries": minus_inf,
            "one finite entry": single, "huge magnitudes": huge,
            "vocabulary of one": rng.normal(size=(2, 1))} if vocab > 1 else {"random": normal}


def _draw(logits: Any, seeds: Any, step: int) -> Any:
    """The engine's Gumbel-max draw: ``[batch]`` int32 tokens."""
    import tensorflow as tf

    from textgen.generation.noise import gumbel

    vocab = int(logits.shape[-1])
    return tf.argmax(logits + gumbel(seeds, step, vocab), axis=-1, output_type=tf.int32)


def _coins(stage: Sampler, seeds: Any, step: Any) -> Any:
    from textgen.samplers.noise import stage_uniform

    return stage_uniform(seeds, step, 0, stage.noise_draws) if stage.noise_draws else None


def _eager(stage: Sampler, logits: np.ndarray, seeds: np.ndarray, steps: int
           ) -> tuple[list[np.ndarray], list[np.ndarray], list[Any], list[np.ndarray]]:
    """``steps`` steps on the same logits: each step's output, drawn tokens and state, and
    the rows the stage had declared complete (``finished``) before each step."""
    import tensorflow as tf

    x = tf.constant(logits, tf.float32)
    s = tf.constant(seeds)
    state = stage.initial_state(len(logits), logits.shape[1])
    outs, tokens, states = [], [], [tf.nest.map_structure(np.asarray, state)]
    done = np.zeros(len(logits), bool)
    ended = []
    for t in range(steps):
        ended.append(done.copy())
        warped, state = stage.warp(x, state, noise=_coins(stage, s, t))
        token = _draw(tf.convert_to_tensor(warped), s, t)
        state = stage.update(state, token, warped)
        outs.append(np.asarray(warped))
        tokens.append(np.asarray(token))
        states.append(tf.nest.map_structure(np.asarray, state))
        ends = stage.finished(state)
        if ends is not None:  # the engine stops such rows: later outputs are not drawn from
            done |= np.asarray(ends, bool)
    return outs, tokens, states, ended


def _compiled(stage: Sampler, logits: np.ndarray, seeds: np.ndarray, tokens: list[np.ndarray],
              steps: int, jit: bool) -> tuple[np.ndarray, Any]:
    """The same steps in one ``tf.while_loop`` with a dynamic batch, fed the eager tokens."""
    import tensorflow as tf

    vocab = logits.shape[1]

    @tf.function(jit_compile=jit, input_signature=[
        tf.TensorSpec([None, vocab], tf.float32), tf.TensorSpec([None], tf.int64),
        tf.TensorSpec([steps, None], tf.int32)])
    def run(x, s, drawn):
        def body(t, state, outs):
            warped, state = stage.warp(x, state, noise=_coins(stage, s, t))
            state = stage.update(state, drawn[t], warped)
            return t + 1, state, outs.write(t, warped)

        init = (tf.constant(0), stage.initial_state(tf.shape(x)[0], vocab),
                tf.TensorArray(tf.float32, size=steps))
        _, state, outs = tf.while_loop(lambda t, *_: t < steps, body, init)
        return outs.stack(), state

    outs, state = run(tf.constant(logits, tf.float32), tf.constant(seeds),
                      tf.constant(np.stack(tokens), tf.int32))
    return np.asarray(outs), tf.nest.map_structure(np.asarray, state)


def _same(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> bool:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape == b.shape and bool(np.all(
        (a == b) | np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=False)))


def _check_output(out: np.ndarray, shape: tuple[int, ...], where: str,
                  ended: np.ndarray) -> list[str]:
    """Shape and dtype of the whole output; NaN, ``+inf`` and dead rows among the rows that
    have not ended (``ended`` rows are masked as if clean)."""
    if out.shape != shape:
        return [f"{where}: output shape {out.shape}, expected {shape} (the input's)"]
    problems = []
    if out.dtype != np.float32:
        problems.append(f"{where}: output dtype {out.dtype}, expected float32")
    out = np.where(ended[:, None], np.float32(0), out)
    if np.isnan(out).any():
        problems.append(f"{where}: NaN in the output (rows {np.flatnonzero(np.isnan(out).any(1))})")
    if np.isposinf(out).any():
        problems.append(f"{where}: +inf in the output (probabilities become NaN)")
    dead = np.flatnonzero(~np.isfinite(out).any(axis=1))
    if len(dead):
        problems.append(f"{where}: no finite logit left in rows {dead.tolist()} "
                        "(nothing can be drawn)")
    return problems


def _check_states(states: list[Any], where: str) -> list[str]:
    import tensorflow as tf

    first = states[0]
    for t, state in enumerate(states[1:], 1):
        try:
            tf.nest.assert_same_structure(first, state)
        except (ValueError, TypeError) as exc:
            return [f"{where}: the state changed structure at step {t}: {exc}"]
        for a, b in zip(tf.nest.flatten(first), tf.nest.flatten(state), strict=True):
            if a.shape != b.shape or a.dtype != b.dtype:
                return [f"{where}: a state tensor changed from {a.shape} {a.dtype} to "
                        f"{b.shape} {b.dtype} at step {t}; states must keep fixed shapes"]
    return []


def _check_group(stage: Sampler, cases: dict[str, np.ndarray], steps: int, seed: int,
                 jit: bool, rtol: float, atol: float) -> list[str]:
    """Run the cases of one vocabulary size as one batch (rows never interact), eagerly and
    compiled, and report problems by case."""
    import tensorflow as tf

    names = list(cases)
    logits = np.concatenate([np.asarray(cases[n], np.float32) for n in names])
    bounds = np.cumsum([0] + [len(cases[n]) for n in names])
    rows = {n: slice(bounds[i], bounds[i + 1]) for i, n in enumerate(names)}
    seeds = np.arange(seed, seed + len(logits), dtype=np.int64)
    everything = ", ".join(names)
    try:
        outs, tokens, states, ended = _eager(stage, logits, seeds, steps)
    except Exception as exc:  # noqa: BLE001 - reported as a problem of the stage
        return [f"{everything}: eager steps raised {type(exc).__name__}: {exc}"]
    problems = _check_states(states, everything)
    for t, out in enumerate(outs):
        for n in names:
            problems += _check_output(out[rows[n]], cases[n].shape, f"{n}, step {t}",
                                      ended[t][rows[n]])
    again, _, _, _ = _eager(stage, logits, seeds, steps)
    for n in names:
        if not all(np.array_equal(a[rows[n]], b[rows[n]], equal_nan=True)
                   for a, b in zip(outs, again, strict=True)):
            problems.append(f"{n}: two eager runs with the same seed differ")
    try:
        compiled, state = _compiled(stage, logits, seeds, tokens, steps, jit)
    except Exception as exc:  # noqa: BLE001
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return problems + [f"{everything}: the compiled loop (jit_compile={jit}) raised "
                           f"{type(exc).__name__}: {first}"]
    for n in names:
        for t, out in enumerate(outs):
            a, b = out[rows[n]], compiled[t][rows[n]]
            if not _same(a, b, rtol, atol):
                bad = np.argwhere(~((a == b) | np.isclose(a, b, rtol=rtol, atol=atol)))[0]
                problems.append(f"{n}, step {t}: the compiled loop gives {b[tuple(bad)]!r} "
                                f"where the eager one gives {a[tuple(bad)]!r} (row {bad[0]}, "
                                f"symbol {bad[1]})")
                break
    flat = zip(tf.nest.flatten(states[-1]), tf.nest.flatten(state), strict=False)
    if not all(_same(a, b, rtol, atol) for a, b in flat):
        problems.append(f"{everything}: the compiled loop's final state differs from the "
                        "eager one")
    return problems


def check_stage(stage: type[Sampler] | Sampler, params: Mapping[str, Any] | None = None, *,
                vocab_sizes: tuple[int, ...] = (7, 33), steps: int = 3, seed: int = 0,
                jit: bool = True, rtol: float = 1e-5, atol: float = 1e-5,
                cases: Mapping[str, np.ndarray] | None = None,
                vocab: Sequence[str] | None = None) -> None:
    """Check a stage class (built with ``params``) or instance against textgen's stage contract.

    ``cases`` adds ``{name: [batch, vocab] logits}`` of your own to the built-in ones.
    ``vocab`` (the model's characters, ``vocab[i]`` is id ``i``) binds the stage to them
    (``stage.bind(vocab)``, as ``generate`` does) and checks it at that width only: cases of
    another width, such as the vocabulary of one, are skipped. Raises AssertionError listing
    every problem found; returns None when the stage conforms.
    """

    if isinstance(stage, type):
        if not issubclass(stage, Sampler):
            raise AssertionError(f"{stage!r} is not a textgen.samplers.Sampler subclass")
        stage = stage(**dict(params or {}))
    elif params:
        raise TypeError("give params with a stage class, not with an instance")
    if not isinstance(stage, Sampler):
        raise AssertionError(f"{stage!r} is not a textgen.samplers.Sampler")
    width = None
    if vocab is not None:
        stage.bind(vocab)
        width = len(tuple(getattr(vocab, "chars", vocab)))  # a CharVocab works too
        vocab_sizes = (width,)
    label = f"stage {type(stage).__name__} ({stage.label()})"
    problems: list[str] = []

    config = stage.get_config()
    try:
        if json.loads(json.dumps(config)) != config:
            problems.append(f"get_config() {config!r} does not survive JSON")
        if type(stage).from_config(config).get_config() != config:
            problems.append("from_config(get_config()) builds a stage with another config")
    except (TypeError, ValueError) as exc:
        problems.append(f"get_config()/from_config round trip failed: {exc}")

    rng = np.random.default_rng(seed)
    groups: dict[int, dict[str, np.ndarray]] = {}  # by vocabulary size: one compile each
    named = {f"{name}, vocab {v}": x for v in vocab_sizes for name, x in _cases(v, rng).items()}
    for name, raw in {**named, **(cases or {})}.items():
        x = np.asarray(raw, np.float32)
        if width is None or x.shape[-1] == width:
            groups.setdefault(x.shape[-1], {})[name] = x
    with warnings.catch_warnings():  # keras warns about a softmax over a vocabulary of one
        warnings.filterwarnings("ignore", message="You are using a softmax over axis")
        for group in groups.values():
            problems += _check_group(stage, group, steps, seed, jit, rtol, atol)

    try:
        out = SamplerChain([stage])(np.zeros((2, width or 5), np.float32), seed=seed)
    except Exception as exc:  # noqa: BLE001 - reported as a problem of the stage
        problems.append(f"stage(numpy_array) raised {type(exc).__name__}: {exc}")
    else:
        if not isinstance(out, np.ndarray):
            problems.append(f"stage(numpy_array) returned {type(out).__name__}, not a NumPy "
                            "array")
    if problems:
        listed = "\n".join(f"- {p}" for p in dict.fromkeys(problems))
        raise AssertionError(f"{label} breaks the stage contract:\n{listed}")
