"""Request and response bodies of the HTTP API, in OpenAI's shape where OpenAI has one.

Unknown fields are refused (a typo such as ``max_token`` would otherwise be silently ignored);
numbers are checked here, sampler chains by the registry when the request is planned.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SamplerSetting = str | dict[str, Any] | list[str | dict[str, Any]]
SEED_LIMIT = 2**32  # the engine hashes the low 32 bits of a seed


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CompletionRequest(Strict):
    """``POST /v1/completions``: OpenAI's legacy completions body, plus ``samplers``."""

    model: str | None = Field(None, description="the served model's id (GET /v1/models)")
    prompt: str | list[str] = Field(description="text to continue, or a list of them")
    max_tokens: int = Field(16, ge=1, description="characters to generate per choice")
    temperature: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="0 is greedy; default 1")
    top_p: float | None = Field(None, gt=0, le=1, allow_inf_nan=False,
                                description="nucleus sampling (the textgen-truncation plugin)")
    n: int = Field(1, ge=1, description="choices per prompt; choice k uses seed + k")
    seed: int | None = Field(None, ge=0, lt=SEED_LIMIT,
                             description="default: a random seed, returned in each choice")
    stop: str | list[str] | None = Field(None, description="cut each text before these")
    logprobs: int | None = Field(None, ge=0, description="top-N alternatives per character")
    logprobs_source: Literal["model", "sampler"] = Field(
        "model", description="model: the model's own distribution (temperature 1); sampler: "
                             "the distribution the character was drawn from, after the chain")
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    samplers: SamplerSetting | None = Field(
        None, description="a chain in spec syntax, e.g. [{top_k: 20}, {temperature: 0.7}]")
    user: str | None = None

    def prompts(self) -> list[str]:
        return [self.prompt] if isinstance(self.prompt, str) else list(self.prompt)

    def stops(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)


class InspectRequest(Strict):
    """``POST /v1/inspect``: generate and keep, per step, the distribution after each stage."""

    model: str | None = None
    prompt: str
    samplers: SamplerSetting | None = Field(None, description="default: temperature 1")
    max_tokens: int = Field(40, ge=1, description="steps to generate and record")
    seed: int = Field(0, ge=0, lt=SEED_LIMIT)
    top: int | None = Field(None, ge=1, description="keep only the top-N of each distribution")


class ErrorDetail(BaseModel):
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    code: str | None = None


class ErrorBody(BaseModel):
    """OpenAI's error shape: ``{"error": {"message", "type", "param", "code"}}``."""

    error: ErrorDetail


class Logprobs(BaseModel):
    tokens: list[str]
    token_logprobs: list[float]
    top_logprobs: list[dict[str, float]] | None
    text_offset: list[int]


class Choice(BaseModel):
    index: int
    text: str
    logprobs: Logprobs | None = None
    finish_reason: Literal["stop", "length"] | None
    seed: int  # textgen's own: with the prompt and the chain it reproduces the text


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class Completion(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage | None = None
    sampler: str  # the chain's label, e.g. "top_p(0.9) -> temperature(0.7)"


HINTS = {
    "temperature": " (0 is greedy; above 0 divides the logits; default 1)",
    "top_p": " (a probability mass in (0, 1])",
    "n": " (choices per prompt, at least 1)",
    "max_tokens": " (characters to generate, at least 1)",
    "seed": f" (an integer in [0, {SEED_LIMIT}))",
    "logprobs": " (how many alternatives to list per character, 0 or more)",
}


def describe(err: ValidationError, body: type[BaseModel]) -> tuple[str, str | None]:
    """A pydantic error as one sentence naming the field and what to change, and the field."""
    parts, first = [], None
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "body"
        top = str(e["loc"][0]) if e["loc"] else None
        first = first or top
        if e["type"] == "extra_forbidden":
            known = ", ".join(body.model_fields)
            parts.append(f"unknown field {loc!r}: remove it (the fields are {known})")
        elif e["type"] == "missing":
            parts.append(f"{loc}: this field is required")
        else:
            parts.append(f"{loc}: {e['msg']}{HINTS.get(top or '', '')}, got {e.get('input')!r}")
    # A union's failure repeats for each branch; keep each sentence once.
    return "; ".join(dict.fromkeys(parts)), first
