"""A generated sample: the plain record the engine returns and the metrics and reports read."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Sample:
    """One continuation with the per-character statistics of the compiled generation loop.

    ``text`` is the continuation only (without ``prompt``). The lists hold one value per
    generated character: ``model_entropy`` and ``sampling_entropy`` in bits, ``token_logprob``
    the natural-log probability of the drawn character under the model at temperature 1.
    """

    text: str
    prompt: str = ""
    sampler: str = ""   # the setting's label, e.g. "top_k(20) -> temperature(0.7)"
    seed: int = 0
    model_entropy: list[float] = field(default_factory=list)
    sampling_entropy: list[float] = field(default_factory=list)
    token_logprob: list[float] = field(default_factory=list)
    setting: int = 0    # index of the setting in its sweep

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Sample:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
