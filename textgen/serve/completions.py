"""From a request body to jobs, and from decoded rows to OpenAI-shaped choices.

Plain functions on NumPy results: the HTTP layer (app.py) calls them, the batcher runs the jobs.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
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


def build(setting: SamplerSetting, param: str, vocab: Any) -> tuple[SamplerChain, str]:
    """A chain of registered stages (plugins included), bound to the model's characters where
    a stage names some, and the key of its compiled program."""
    from textgen.api import as_chain
    from textgen.errors import TextgenError
    from textgen.generation.sampling import bind_vocabulary

    try:
        chain = as_chain(setting)
        bind_vocabulary([chain], vocab)
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


def logprobs(chars: list[str], arrays: dict[str, np.ndarray], row: int, start: int,
             emit: Emit) -> Logprobs:
    """OpenAI's completion logprobs for ``chars``, the steps from ``start`` of one row.

    The drawn character's own log-probability under the model comes with plain decoding
    (``token_logprob``); alternatives, or the sampler's distribution, need the recorded
    probabilities (``model_probs``, ``stage_probs``).
    """
    end = start + len(chars)
    tokens = arrays["tokens"][row, start:end]
    tops = None
    if emit.source == "model" and not emit.top and "token_logprob" in arrays:
        chosen = [float(x) for x in arrays["token_logprob"][row, start:end]]
    else:
        probs = emit.probs(arrays)[row, start:end]
        chosen = [_log(float(p)) for p in probs[np.arange(len(tokens)), tokens]]
        if emit.top:
            order = np.argsort(-probs, axis=-1, kind="stable")[:, :emit.top]
            tops = [{emit.vocab[i]: _log(float(p[i])) for i in idx if p[i] > 0}
                    for idx, p in zip(order, probs, strict=True)]
    return Logprobs(tokens=chars, token_logprobs=chosen, top_logprobs=tops,
                    text_offset=list(range(start, end)))


@dataclass(frozen=True)
class Emit:
    """How a request wants its choices: the vocabulary, stop sequences, logprobs and source."""

    vocab: tuple[str, ...]
    stops: list[str]
    top: int | None
    source: str

    def probs(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        """``[rows, steps, vocab]``: the model's, or the chain's last stage's, probabilities."""
        return arrays["model_probs"] if self.source == "model" else arrays["stage_probs"][:, :, -1]


def choice(index: int, seed: int, result: dict[str, np.ndarray], row: int, emit: Emit) -> Choice:
    """One decoded row as an OpenAI choice, cut at a stop sequence, with logprobs if asked."""
    tokens = result["tokens"][row][:accepted(result, row)]
    text, reason = cut_at_stop("".join(emit.vocab[i] for i in tokens), emit.stops)
    if len(tokens) < result["tokens"].shape[1]:
        reason = "stop"  # a stage accepted the text (regex's full match): the rest is padding
    lp = None
    if emit.top is not None:
        lp = logprobs(list(text), result, row, 0, emit)
    return Choice(index=index, text=text, logprobs=lp, finish_reason=reason, seed=seed)


def accepted(arrays: dict[str, np.ndarray], row: int) -> int | None:
    """How many steps of ``row`` to keep: up to the one where a stage accepted the text
    (``Decoded.finish``; later ids are padding), or all (None)."""
    finish = arrays.get("finish")
    if finish is None:
        return None
    at = np.flatnonzero(finish[row])
    return int(at[0]) + 1 if at.size else None


class StopCut:
    """A streamed choice's text, released as it comes but held back just enough to cut it
    before a stop sequence that may still be completing."""

    def __init__(self, stops: list[str]) -> None:
        self.stops = [s for s in stops if s]
        self.hold = max((len(s) - 1 for s in self.stops), default=0)
        self.text, self.sent, self.stopped = "", 0, False

    def feed(self, piece: str, last: bool = False) -> tuple[int, int]:
        """Add decoded text; the span ``[start, end)`` of ``self.text`` that may now go out.
        ``last``: nothing follows (a stage accepted the text), so nothing is held back."""
        if self.stopped:
            return self.sent, self.sent
        self.text += piece
        cut, reason = cut_at_stop(self.text, self.stops)
        start = self.sent
        if reason == "stop" or last:
            self.stopped, self.sent = True, len(cut)
        else:
            self.sent = max(len(self.text) - self.hold, self.sent)
        return start, self.sent

    def finish(self) -> tuple[int, int]:
        start, self.sent = self.sent, len(self.text) if not self.stopped else self.sent
        return start, self.sent


async def events(head: dict[str, Any], jobs: list[list[Any]], n: int,
                 emit: Emit) -> AsyncIterator[str]:
    """Server-sent events: one chunk per character as the batcher hands out decoded pieces,
    a last chunk per choice with its finish reason, then ``data: [DONE]``."""
    try:
        for j, block in enumerate(jobs):
            first = j * n
            for job in block:
                cuts = [StopCut(emit.stops) for _ in job.seeds]
                arrays: dict[str, list[np.ndarray]] = {}
                async for piece in job.stream():
                    for k, v in piece.items():
                        arrays.setdefault(k, []).append(v)
                    whole = {k: np.concatenate(v, axis=1) for k, v in arrays.items()}
                    for r, cut in enumerate(cuts):
                        keep = accepted(piece, r)
                        text = "".join(emit.vocab[i] for i in piece["tokens"][r][:keep])
                        for chunk in _chunks(head, first + r, job.seeds[r], whole, r, cut,
                                             cut.feed(text, keep is not None), emit):
                            yield chunk
                for r, cut in enumerate(cuts):
                    for chunk in _chunks(head, first + r, job.seeds[r], whole, r, cut,
                                         cut.finish(), emit):
                        yield chunk
                    yield _sse({**head, "choices": [{
                        "index": first + r, "text": "", "logprobs": None,
                        "finish_reason": "stop" if cut.stopped else "length",
                        "seed": job.seeds[r]}]})
                first += len(job.seeds)
        yield "data: [DONE]\n\n"
    except Exception as exc:  # noqa: BLE001 - the status line is sent: say it in the stream
        from textgen.errors import TextgenError

        status, kind = (400, "invalid_request_error") if isinstance(exc, TextgenError) else (
            500, "server_error")
        yield _sse(ApiError(status, f"{type(exc).__name__}: {exc}", kind=kind).body())
        yield "data: [DONE]\n\n"
    finally:  # the client may have gone: jobs not yet decoded are dropped
        for block in jobs:
            for job in block:
                job.cancelled = True


def _chunks(head: dict[str, Any], index: int, seed: int, whole: dict[str, np.ndarray],
            row: int, cut: StopCut, span: tuple[int, int], emit: Emit) -> Iterator[str]:
    start, end = span
    if end <= start:
        return
    lp = None
    if emit.top is not None:
        lp = logprobs(list(cut.text[start:end]), whole, row, start, emit)
    for i in range(end - start):
        one = None if lp is None else {
            "tokens": [lp.tokens[i]], "token_logprobs": [lp.token_logprobs[i]],
            "top_logprobs": None if lp.top_logprobs is None else [lp.top_logprobs[i]],
            "text_offset": [lp.text_offset[i]]}
        yield _sse({**head, "choices": [{"index": index, "text": cut.text[start + i],
                                         "logprobs": one, "finish_reason": None,
                                         "seed": seed}]})


def _sse(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data)}\n\n"


def round_floats(data: Any, digits: int = 6) -> Any:
    """Probabilities to ``digits`` decimals: the inspection JSON is mostly floats."""
    if isinstance(data, float):
        return round(data, digits)
    if isinstance(data, list):
        return [round_floats(x, digits) for x in data]
    if isinstance(data, dict):
        return {k: round_floats(v, digits) for k, v in data.items()}
    return data
