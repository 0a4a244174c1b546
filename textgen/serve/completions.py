"""From a request body to jobs, and from decoded rows to OpenAI-shaped choices.

Plain functions on NumPy results: the HTTP layer (app.py) calls them, the batcher runs the jobs.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from textgen.samplers.base import SamplerChain
from textgen.serve.schemas import Choice, Logprobs, SamplerSetting


class ApiError(Exception):
    """A request the server refuses, with the HTTP status and the field to change."""

    def __init__(self, status: int, message: str, param: str | None = None,
                 kind: str = "invalid_request_error", code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param = status, message, param
        self.kind, self.code, self.headers = kind, code, headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param,
                          "code": self.code}}


def setting_for(samplers: SamplerSetting | None, temperature: float | None,
                top_p: float | None) -> tuple[SamplerSetting, str]:
    """The chain a request asks for, in spec syntax, and the field it came from.

    ``samplers`` is taken as given; otherwise OpenAI's knobs become a chain: temperature (0 is
    greedy, default 1), then top_p below 1 (the textgen-truncation plugin's stage).
    """
    if samplers is not None:
        if temperature is not None or top_p is not None:
            raise ApiError(400, "give either samplers or temperature/top_p, not both: put the "
                                "temperature in the chain, e.g. \"samplers\": [{\"top_p\": 0.9}, "
                                "{\"temperature\": 0.7}]", "samplers")
        return samplers, "samplers"
    t = 1.0 if temperature is None else temperature
    if t == 0:
        return ["greedy"], "temperature"
    setting: list[str | dict[str, Any]] = [{"temperature": t}]
    if top_p is not None and top_p < 1:
        setting.append({"top_p": top_p})
    return setting, "top_p" if top_p is not None else "temperature"


def build(setting: SamplerSetting, param: str) -> tuple[SamplerChain, str]:
    """A chain of registered stages (plugins included) and the key of its compiled program."""
    from textgen.api import as_chain
    from textgen.errors import TextgenError

    try:
        chain = as_chain(setting)
    except (TextgenError, ValueError, TypeError) as exc:
        hint = ("; GET /v1/samplers lists the registered stages" if "unknown" in str(exc)
                or "Registered" in str(exc) else "")
        raise ApiError(400, f"{param}: {exc}{hint}", param) from None
    return chain, json.dumps(chain.get_config(), sort_keys=True, default=str)


def cut_at_stop(text: str, stops: list[str]) -> tuple[str, str]:
    """``text`` up to the first stop sequence, and the finish reason."""
    ends = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return (text[:min(ends)], "stop") if ends else (text, "length")


def _log(p: float) -> float:
    return math.log(p) if p > 0 else -9999.0  # JSON has no -inf; OpenAI's floor


def logprobs(chars: list[str], tokens: np.ndarray, probs: np.ndarray, top: int,
             vocab: tuple[str, ...]) -> Logprobs:
    """OpenAI's completion logprobs for one choice: ``probs`` is ``[steps, vocab]``."""
    chosen = probs[np.arange(len(tokens)), tokens]
    tops = None
    if top > 0:
        order = np.argsort(-probs, axis=-1, kind="stable")[:, :top]
        tops = [{vocab[i]: _log(float(row[i])) for i in idx if row[i] > 0}
                for idx, row in zip(order, probs, strict=True)]
    return Logprobs(tokens=chars, token_logprobs=[_log(float(p)) for p in chosen],
                    top_logprobs=tops, text_offset=list(range(len(chars))))


def choice(index: int, seed: int, result: dict[str, np.ndarray], row: int,
           vocab: tuple[str, ...], stops: list[str], top: int | None,
           source: str) -> Choice:
    """One decoded row as an OpenAI choice, cut at a stop sequence, with logprobs if asked."""
    tokens = result["tokens"][row]
    text, reason = cut_at_stop("".join(vocab[i] for i in tokens), stops)
    tokens = tokens[:len(text)]
    lp = None
    if top is not None:
        probs = result["model_probs"] if source == "model" else result["stage_probs"][:, :, -1]
        lp = logprobs(list(text), tokens, probs[row, :len(text)], top, vocab)
    return Choice(index=index, text=text, logprobs=lp, finish_reason=reason, seed=seed)


def round_floats(data: Any, digits: int = 6) -> Any:
    """Probabilities to ``digits`` decimals: the inspection JSON is mostly floats."""
    if isinstance(data, float):
        return round(data, digits)
    if isinstance(data, list):
        return [round_floats(x, digits) for x in data]
    if isinstance(data, dict):
        return {k: round_floats(v, digits) for k, v in data.items()}
    return data
