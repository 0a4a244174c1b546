"""Decoding strategies that are not one draw per step: beam search and stochastic beam search.

A strategy is a sampler *setting* of its own (``{beam: {width: 4}}`` in ``generation.samplers``,
``--decoder beam`` on the command line), registered through the ``register_decoders`` hook. It
sits in the same list as the stage chains and has their ``label`` and ``get_config``; to the
per-step engine it is an empty chain (the identity, never used), and ``generate`` hands its
rows to :meth:`DecodingStrategy.decode` instead. The ``num_samples`` rows of one prompt become
its ``n`` best (or, stochastic, ``n`` samples without replacement), ranked best first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from textgen.samplers.base import SamplerChain

if TYPE_CHECKING:  # TensorFlow and NumPy load when a strategy first decodes, not at start-up
    import keras
    import numpy as np

    from textgen.generation.beam import BeamDecoder, Beams
    from textgen.generation.stops import StopAutomaton


MAX_LENGTH = 4096  # characters per beam: each step copies the hypotheses' histories


class DecodingStrategy(SamplerChain):
    """Base class: subclasses set ``Params`` and implement :meth:`decode`.

    ``name`` is set by registration, as for stages; ``primary`` names the parameter a scalar
    sets (``{beam: 8}``).
    """

    name: ClassVar[str] = ""
    primary: ClassVar[str | None] = None
    Params: ClassVar[type[BaseModel]]

    def __init__(self, **params: Any) -> None:  # no stages: not a per-step chain
        self.params = self.Params(**params)
        self.stages = []

    @property
    def strategy_name(self) -> str:
        return type(self).name or type(self).__name__

    def label(self) -> str:
        values = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in self.params.model_dump().items())
        return f"{self.strategy_name}({values})"

    def get_config(self) -> list[dict[str, Any]]:
        return [{self.strategy_name: self.params.model_dump()}]

    def max_samples(self) -> int | None:
        """The most samples one prompt can get (``num_samples`` above it is refused)."""
        return None

    def decode(self, model: keras.Model, prompt_ids: np.ndarray, seeds: np.ndarray,
               length: int, n_best: int, stops: StopAutomaton | None) -> Beams:
        """The ``n_best`` results for each row of ``prompt_ids``, best first."""
        raise NotImplementedError


class BeamParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width: int = Field(4, ge=1, le=64, description="hypotheses kept per prompt")
    length_penalty: float = Field(
        1.0, ge=0, le=10, allow_inf_nan=False,
        description="rank finished hypotheses by log-prob / length ** length_penalty (only "
                    "matters when stop strings end some early)")


class BeamSearch(DecodingStrategy):
    """Beam search: the ``n`` most likely continuations the beam finds, best first."""

    primary: ClassVar[str | None] = "width"
    Params = BeamParams
    stochastic: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._compiled: dict[int, tuple[keras.Model, BeamDecoder]] = {}

    def max_samples(self) -> int | None:
        return int(self.params.width)  # type: ignore[attr-defined]

    def decode(self, model: keras.Model, prompt_ids: np.ndarray, seeds: np.ndarray,
               length: int, n_best: int, stops: StopAutomaton | None) -> Beams:
        from textgen.generation.beam import BeamDecoder

        cached = self._compiled.get(n_best)
        if cached is None or cached[0] is not model:
            p = self.params
            decoder = BeamDecoder.for_model(
                model, width=p.width, n_best=n_best,  # type: ignore[attr-defined]
                length_penalty=getattr(p, "length_penalty", 0.0),  # stochastic: ranked by G
                stochastic=self.stochastic)
            cached = self._compiled[n_best] = (model, decoder)
        return cached[1](prompt_ids, seeds, length, stops)


class StochasticBeamParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width: int = Field(4, ge=1, le=64, description="samples without replacement per prompt "
                                                   "at most")


class StochasticBeamSearch(BeamSearch):
    """Stochastic beam search (Kool et al. 2019): ``n`` distinct samples from the model's
    distribution over whole continuations, drawn without replacement."""

    Params = StochasticBeamParams  # type: ignore[assignment]  # its own fields, not a subclass
    stochastic: ClassVar[bool] = True


def strategy_samples(model: keras.Model, vocab: Any, chains: list[SamplerChain], rows: list[Any],
                     encoded: dict[str, np.ndarray], length: int, batch_size: int,
                     stops: StopAutomaton | None) -> list[Any]:
    """Samples for the rows whose setting is a decoding strategy, in the order of ``rows``.

    The rows of one (setting, prompt), in runs of at most the strategy's width, form a group:
    the group's first seed drives it, and its ``i``-th row gets the ``i``-th result. Groups of
    equal prompt length decode together.
    """
    import numpy as np

    from textgen.errors import LimitError
    from textgen.records import Sample

    if length > MAX_LENGTH:
        raise LimitError(f"length {length:,} is more than a beam decodes: at most "
                         f"{MAX_LENGTH:,} characters (each hypothesis carries its history "
                         "through the loop). Sample longer texts with the stages instead.")
    by_prompt: dict[tuple[int, str], list[Any]] = {}
    for row in rows:
        by_prompt.setdefault((row.setting, row.prompt), []).append(row)
    batches: dict[tuple[int, int], list[list[Any]]] = {}
    for (k, prompt), same in by_prompt.items():
        most = chains[k].max_samples() or len(same)  # type: ignore[attr-defined]
        for start in range(0, len(same), most):
            batches.setdefault((k, len(encoded[prompt])), []).append(same[start:start + most])
    made: dict[int, Any] = {}
    for (k, _), all_groups in batches.items():
        strategy = chains[k]
        assert isinstance(strategy, DecodingStrategy)
        per_call = max(1, batch_size // (strategy.max_samples() or 1))
        config = strategy.get_config()
        for start in range(0, len(all_groups), per_call):
            chunk = all_groups[start:start + per_call]
            n_best = max(len(g) for g in chunk)
            out = strategy.decode(model, np.stack([encoded[g[0].prompt] for g in chunk]),
                                  np.array([g[0].seed for g in chunk]), length, n_best, stops)
            for i, group in enumerate(chunk):
                for j, row in enumerate(group):
                    kept = int(out.lengths[i, j])
                    entropy = np.maximum(out.model_entropy[i, j, :kept], 0).tolist()
                    drawn = entropy if isinstance(strategy, StochasticBeamSearch) else (
                        [0.0] * kept)  # beam search is deterministic
                    made[id(row)] = Sample(
                        prompt=row.prompt, text=vocab.decode(out.tokens[i, j, :kept]),
                        sampler=strategy.label(), seed=row.seed, setting=row.setting,
                        sampler_config=config, model_entropy=entropy, sampling_entropy=drawn,
                        token_logprob=out.token_logprob[i, j, :kept].tolist(),
                        end="stop" if out.stopped[i, j] else "length",
                        score=float(out.score[i, j]) if np.isfinite(out.score[i, j]) else None)
    return [made[id(row)] for row in rows]
