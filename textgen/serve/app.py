"""The HTTP API (OpenAI's completions shape, plus inspection) and the web page, on Starlette.

Every refusal is a JSON body in OpenAI's error shape with a message saying what to change;
nothing a client sends can stop the server. Decoding runs in the batcher's worker thread, so
a long decode never blocks the event loop.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from textgen.errors import TextgenError
from textgen.serve.batching import MAX_ROWS, Batcher, Job, QueueFull
from textgen.serve.completions import (
    ApiError,
    Emit,
    build,
    choice,
    events,
    round_floats,
    setting_for,
)
from textgen.serve.schemas import Completion, CompletionRequest, InspectRequest, Usage, describe

STATIC = Path(__file__).parent / "static"
OPEN_PATHS = ("/health", "/")  # and the page's files under /static/: they hold no model data
log = logging.getLogger("textgen.serve")


@dataclass
class ServeConfig:
    """What a deployment may change; every limit is a cap on what one request can cost."""

    api_key: str | None = None
    max_tokens_cap: int = 1024
    queue_size: int = 128
    max_body_bytes: int = 64 * 1024
    max_prompt_chars: int = 4096
    max_choices: int = 64       # prompts x n in one request
    window_ms: float = 3.0      # the collector waits while requests arrive this often


class Auth:
    """With an API key, every path but /health and the page's files wants the bearer token."""

    def __init__(self, app: ASGIApp, key: str | None) -> None:
        self.app, self.key = app, key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (scope["type"] != "http" or self.key is None or path in OPEN_PATHS
                or path.startswith("/static/")):
            return await self.app(scope, receive, send)
        given = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        if not secrets.compare_digest(given, f"Bearer {self.key}"):
            error = ApiError(401, "this server wants an API key: send the header "
                                  "'Authorization: Bearer KEY' with the key it was started with",
                             kind="authentication_error", code="invalid_api_key")
            response = JSONResponse(error.body(), 401, {"WWW-Authenticate": "Bearer"})
            return await response(scope, receive, send)
        return await self.app(scope, receive, send)


def create_app(model: Any, config: ServeConfig | None = None) -> Starlette:
    """The ASGI app serving ``model`` (a :class:`textgen.api.TrainedModel`)."""
    config = config or ServeConfig()
    model_id = model.run_dir.resolve().name
    vocab: tuple[str, ...] = tuple(model.vocab.chars)
    state: dict[str, Batcher] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state["batcher"] = Batcher(model, config.queue_size, config.window_ms)
        state["batcher"].start()
        yield
        await state["batcher"].stop()

    async def read(request: Request, body: type[CompletionRequest | InspectRequest]) -> Any:
        size = request.headers.get("content-length", "")
        if size.isdigit() and int(size) > config.max_body_bytes:
            raise _too_large(config.max_body_bytes)
        raw = bytearray()
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > config.max_body_bytes:
                raise _too_large(config.max_body_bytes)
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ApiError(400, f"the body is not valid JSON ({exc.msg} at line {exc.lineno}, "
                                f"column {exc.colno}): send one JSON object") from None
        except UnicodeDecodeError:
            raise ApiError(400, "the body is not UTF-8 text: send one JSON object") from None
        if not isinstance(data, dict):
            raise ApiError(400, f"the body must be a JSON object, got {type(data).__name__}")
        try:
            parsed = body.model_validate(data)
        except ValidationError as exc:
            message, param = describe(exc, body)
            raise ApiError(400, message, param) from None
        if parsed.model not in (None, model_id):
            raise ApiError(404, f"model {parsed.model!r} is not served here: this server "
                                f"serves {model_id!r} (GET /v1/models)", "model",
                           code="model_not_found")
        if parsed.max_tokens > config.max_tokens_cap:
            raise ApiError(400, f"max_tokens {parsed.max_tokens} is above this server's cap of "
                                f"{config.max_tokens_cap} (--max-tokens-cap): ask for at most "
                                f"{config.max_tokens_cap}", "max_tokens")
        return parsed

    prepared: dict[str, np.ndarray] = {}  # prompt -> ids: preparing reads the corpus manifest

    def prepare(prompt: str, where: str) -> np.ndarray:
        if len(prompt) > config.max_prompt_chars:
            raise ApiError(400, f"{where} has {len(prompt)} characters; this server takes at "
                                f"most {config.max_prompt_chars}: send a shorter one", "prompt")
        if prompt not in prepared:
            try:
                ids = np.asarray(model._ids(model.prompt(prompt)), np.int32)
            except TextgenError as exc:
                raise ApiError(400, f"{where}: {exc}", "prompt") from None
            if len(prepared) >= 4096:
                prepared.pop(next(iter(prepared)))
            prepared[prompt] = ids
        return prepared[prompt]

    def submit(kind: Literal["decode", "trace"], chain: Any, key: str,
               rows: list[tuple[np.ndarray, list[int]]], length: int,
               streamed: bool = False) -> list[list[Job]]:
        """Queue every prompt's rows, in jobs of at most a batch; all of them or none."""
        step = MAX_ROWS[kind]
        jobs = [[Job(kind, chain, key, ids, seeds[i:i + step], length, streamed)
                 for i in range(0, len(seeds), step)] for ids, seeds in rows]
        try:
            state["batcher"].submit([job for block in jobs for job in block])
        except QueueFull as full:
            raise ApiError(429, f"the server's queue is full ({config.queue_size} requests): "
                                f"retry after {full.retry_after} s", kind="rate_limit_error",
                           code="queue_full",
                           headers={"Retry-After": str(full.retry_after)}) from None
        return jobs

    async def gather(jobs: list[list[Job]]) -> list[dict[str, np.ndarray]]:
        """Each prompt's rows, whole: its jobs' arrays joined."""
        try:
            parts = [[await job.result() for job in block] for block in jobs]
        except TextgenError as exc:
            raise ApiError(400, str(exc)) from None
        return [{k: np.concatenate([p[k] for p in block]) for k in block[0]} for block in parts]

    async def completions(request: Request) -> Response:
        body: CompletionRequest = await read(request, CompletionRequest)
        prompts = body.prompts()
        if not prompts:
            raise ApiError(400, "prompt is an empty list: give at least one prompt", "prompt")
        if len(prompts) * body.n > config.max_choices:
            raise ApiError(400, f"{len(prompts)} prompts x n={body.n} is {len(prompts) * body.n}"
                                f" choices; this server makes at most {config.max_choices} per "
                                "request: lower n or send fewer prompts", "n")
        if body.logprobs is not None and body.logprobs > len(vocab):
            raise ApiError(400, f"logprobs {body.logprobs} is more than the model's "
                                f"{len(vocab)} characters: ask for at most {len(vocab)}",
                           "logprobs")
        chain, key = build(*setting_for(body.samplers, body.temperature, body.top_p),
                           model.vocab)
        encoded = [prepare(p, "prompt" if len(prompts) == 1 else f"prompt[{j}]")
                   for j, p in enumerate(prompts)]
        seed = body.seed if body.seed is not None else secrets.randbelow(2**31)
        rows = [(ids, [seed + j * body.n + i for i in range(body.n)])
                for j, ids in enumerate(encoded)]
        # Recording every distribution is only needed for alternatives or the sampler's view:
        # the drawn character's log-probability under the model comes with plain decoding.
        traced = bool(body.logprobs) or (body.logprobs == 0 and body.logprobs_source != "model")
        kind: Literal["decode", "trace"] = "trace" if traced else "decode"
        jobs = submit(kind, chain, key, rows, body.max_tokens, body.stream)
        head = {"id": f"cmpl-{uuid.uuid4().hex[:24]}", "object": "text_completion",
                "created": int(time.time()), "model": model_id}
        spec = Emit(vocab, body.stops(), body.logprobs, body.logprobs_source)
        if body.stream:
            return StreamingResponse(events(head, jobs, body.n, spec),
                                     media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache"})
        results = await gather(jobs)
        choices = [choice(j * body.n + i, seeds[i], result, i, spec)
                   for j, ((_, seeds), result) in enumerate(zip(rows, results, strict=True))
                   for i in range(body.n)]
        prompt_chars = sum(len(ids) for ids in encoded) * body.n
        made = sum(len(c.text) for c in choices)
        completion = Completion(**head, choices=choices, sampler=chain.label(),
                                usage=Usage(prompt_tokens=prompt_chars, completion_tokens=made,
                                            total_tokens=prompt_chars + made))
        return JSONResponse(completion.model_dump(mode="json"))

    async def inspect(request: Request) -> Response:
        from textgen.api import Distributions
        from textgen.generation.inspection import Traced

        body: InspectRequest = await read(request, InspectRequest)
        if body.samplers is None:
            setting: Any = {"temperature": 1.0}
        else:
            setting = body.samplers
        chain, key = build(setting, "samplers", model.vocab)
        ids = prepare(body.prompt, "prompt")
        [result] = await gather(submit("trace", chain, key, [(ids, [body.seed])],
                                       body.max_tokens))
        seen = Distributions.from_traced(Traced(**result), 0, model.prompt(body.prompt), chain,
                                         body.seed, list(vocab), steps=body.max_tokens)
        data = round_floats(seen.to_json(top=body.top))
        data.update(object="inspection", model=model_id, sampler_config=chain.get_config())
        return JSONResponse(data)

    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{
            "id": model_id, "object": "model", "created": int(model.run_dir.stat().st_mtime),
            "owned_by": "textgen", "vocab": "".join(vocab),
            "max_tokens_cap": config.max_tokens_cap}]})

    async def samplers(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": registered_stages()})

    async def health(request: Request) -> Response:
        batcher = state.get("batcher")
        return JSONResponse({"status": "ok", "model": model_id,
                             "queued": len(batcher.pending) if batcher else 0,
                             "calls": batcher.calls if batcher else 0,
                             "rows": batcher.rows if batcher else 0,
                             "busy_seconds": round(batcher.busy_seconds, 3) if batcher else 0})

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    routes = [Route("/", index), Route("/health", health),
              Route("/v1/models", models), Route("/v1/samplers", samplers),
              Route("/v1/completions", completions, methods=["POST"]),
              Route("/v1/inspect", inspect, methods=["POST"]),
              Mount("/static", StaticFiles(directory=STATIC), name="static")]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={
        ApiError: _api_error, HTTPException: _http_error, Exception: _internal_error})
    app.add_middleware(Auth, key=config.api_key)
    return app


def _too_large(cap: int) -> ApiError:
    return ApiError(413, f"the request body is over this server's {cap} bytes: send a shorter "
                         "prompt (or start the server with a larger --max-body-bytes)")


def registered_stages() -> list[dict[str, Any]]:
    """Every registered sampler stage with its plugin and its parameters' schema."""
    from textgen.plugins import DIST, registry

    reg = registry()
    stages = []
    for name in sorted(reg.samplers):
        entry, cls = reg.entry("samplers", name), reg.sampler(name)
        schema = cls.Params.model_json_schema()
        stages.append({"name": name, "plugin": entry.plugin, "dist": entry.dist,
                       "version": entry.version, "builtin": entry.dist == DIST,
                       "primary": cls.primary,
                       "doc": (cls.__doc__ or "").strip().split("\n")[0],
                       "params": schema.get("properties", {}),
                       "required": schema.get("required", [])})
    return stages


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), exc.status, exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"no such path {request.url.path!r}: the API is under /v1 (see docs/serve.md)"
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "another method")
        message = f"{request.method} is not allowed on {request.url.path}: use {allowed}"
    else:
        message = str(exc.detail)
    return JSONResponse(ApiError(exc.status_code, message).body(), exc.status_code)


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.exception("internal error on %s", request.url.path)
    error = ApiError(500, f"internal error ({type(exc).__name__}: {exc}); this is a bug in "
                          "textgen or a plugin, and the server goes on serving",
                     kind="server_error")
    return JSONResponse(error.body(), 500)
