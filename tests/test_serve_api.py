"""`textgen serve` through the official openai client and plain HTTP: the same texts as the
Python API and the CLI, streaming, logprobs, n > 1, plugin stages, inspection, batching."""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from click.testing import CliRunner
from serve_support import post, request

import textgen
from textgen.cli import cli
from textgen.cli.serve import exposure_warning

CHAIN = [{"temperature": 0.5}]
PROMPT = "the "


@pytest.fixture(scope="module")
def server(tiny_server):
    return tiny_server


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0,
                         timeout=300)


@pytest.fixture(scope="module")
def model(tiny_run):
    return textgen.load(tiny_run)


def complete(client, **kw):
    kw.setdefault("model", "run")
    return client.completions.create(**kw)


def test_the_startup_line_says_where_it_listens(server):
    assert f"listening on http://127.0.0.1:{server.port}/" in "".join(server.lines)


def test_models_lists_the_run(client):
    assert [m.id for m in client.models.list().data] == ["run"]


def test_n_choices_are_the_python_apis_and_the_clis_texts(client, model, tiny_run):
    got = complete(client, prompt=PROMPT, max_tokens=60, n=3, seed=11, extra_body={
        "samplers": CHAIN})
    api = model.generate(PROMPT, sampler=CHAIN, length=60, n=3, seed=11)
    result = CliRunner().invoke(cli, ["generate", str(tiny_run), "--prompt", PROMPT, "--sampler",
                                      "temperature: 0.5", "--length", "60", "--num-samples", "3",
                                      "--seed", "11", "--json"])
    assert result.exit_code == 0, result.output
    texts = [json.loads(line)["text"] for line in result.output.splitlines()]
    assert [c.text for c in got.choices] == [s.text for s in api] == texts
    assert [c.index for c in got.choices] == [0, 1, 2]
    assert [c.model_extra["seed"] for c in got.choices] == [11, 12, 13]
    assert all(c.finish_reason == "length" for c in got.choices)
    assert got.usage.completion_tokens == 180


def test_temperature_field_is_the_temperature_stage(client, model):
    got = complete(client, prompt=PROMPT, max_tokens=60, temperature=0.5, seed=11)
    assert got.choices[0].text == model.generate(PROMPT, sampler=CHAIN, length=60, seed=11)[0].text


def test_a_stream_gives_the_same_text_and_ends_with_done(client, server):
    plain = complete(client, prompt=PROMPT, max_tokens=60, seed=11, extra_body={"samplers": CHAIN})
    chunks = list(complete(client, prompt=PROMPT, max_tokens=60, seed=11, stream=True,
                           extra_body={"samplers": CHAIN}))
    assert "".join(c.choices[0].text for c in chunks) == plain.choices[0].text
    assert chunks[-1].choices[0].finish_reason == "length"
    raw = post(server, "/v1/completions", {"prompt": PROMPT, "max_tokens": 60, "seed": 11,
                                           "samplers": CHAIN, "stream": True})
    assert raw.headers["content-type"].startswith("text/event-stream")
    events = raw.body.decode().strip().split("\n\n")
    assert events[-1] == "data: [DONE]" and len(events) == 60 + 2


def test_logprobs_list_the_top_alternatives_from_the_model(client, model):
    got = complete(client, prompt=PROMPT, max_tokens=60, seed=11, logprobs=3,
                   extra_body={"samplers": CHAIN})
    choice = got.choices[0]
    assert choice.text == model.generate(PROMPT, sampler=CHAIN, length=60, seed=11)[0].text
    lp = choice.logprobs
    assert lp.tokens == list(choice.text) and len(lp.top_logprobs) == 60
    for token, chosen, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs, strict=True):
        assert len(top) == 3 and chosen <= 0
        assert sum(math.exp(v) for v in top.values()) <= 1 + 1e-6
        assert chosen <= max(top.values()) + 1e-9
        if token in top:
            assert top[token] == pytest.approx(chosen)
    scored = model.generate(PROMPT, sampler=CHAIN, length=60, seed=11)[0].token_logprob
    assert lp.token_logprobs == pytest.approx(scored, abs=1e-4)


def test_a_stream_with_the_drawn_characters_logprobs_as_the_page_asks(client, model):
    sample = model.generate(PROMPT, sampler=CHAIN, length=250, seed=11)[0]
    chunks = list(complete(client, prompt=PROMPT, max_tokens=250, seed=11, stream=True,
                           logprobs=0, extra_body={"samplers": CHAIN}))
    chars = [c.choices[0] for c in chunks if c.choices[0].text]
    assert "".join(c.text for c in chars) == sample.text
    assert [c.logprobs.text_offset[0] for c in chars] == list(range(250))
    assert all(c.logprobs.top_logprobs is None for c in chars)
    got = [c.logprobs.token_logprobs[0] for c in chars]
    assert got == pytest.approx(sample.token_logprob, abs=1e-5)


def test_sampler_logprobs_describe_the_distribution_drawn_from(client):
    got = complete(client, prompt=PROMPT, max_tokens=60, seed=11, logprobs=2,
                   extra_body={"samplers": ["greedy"], "logprobs_source": "sampler"})
    lp = got.choices[0].logprobs
    assert lp.token_logprobs == pytest.approx([0.0] * 60)  # greedy draws with certainty
    assert all(len(top) == 1 for top in lp.top_logprobs)    # the rest have p = 0


def test_a_plugin_stage_through_samplers(client, model):
    greedy = model.generate(PROMPT, sampler="greedy", length=60, seed=11)[0].text
    got = complete(client, prompt=PROMPT, max_tokens=60, seed=11, n=2,
                   extra_body={"samplers": [{"top_k": 1}, {"temperature": 0.5}]})
    assert got.model_extra["sampler"] == "top_k(1) -> temperature(0.5)"
    assert [c.text for c in got.choices] == [greedy, greedy]  # top_k 1 leaves only the argmax


def test_stop_cuts_the_text(client, model):
    text = model.generate(PROMPT, sampler=CHAIN, length=60, seed=11)[0].text
    stop = text[10:12]
    got = complete(client, prompt=PROMPT, max_tokens=60, seed=11, stop=[stop],
                   extra_body={"samplers": CHAIN})
    assert got.choices[0].text == text[:text.find(stop)]
    assert got.choices[0].finish_reason == "stop"


def test_an_error_comes_back_in_openais_shape(client):
    with pytest.raises(openai.BadRequestError) as caught:
        complete(client, prompt=PROMPT, max_tokens=10, temperature=-0.5)
    assert caught.value.status_code == 400
    assert caught.value.body["param"] == "temperature"
    assert "greater than or equal to 0" in caught.value.body["message"]
    assert complete(client, prompt=PROMPT, max_tokens=10, seed=1).choices[0].text  # still serving


def test_inspect_records_every_stage_and_draws_the_same_text(server, model):
    chain = [{"top_k": 5}, {"temperature": 0.5}]
    reply = post(server, "/v1/inspect", {"prompt": PROMPT, "samplers": chain, "seed": 11,
                                         "max_tokens": 20})
    assert reply.status == 200, reply.body
    data = reply.json()
    assert data["text"] == model.generate(PROMPT, sampler=chain, length=20, seed=11)[0].text
    assert data["text"] == model.distributions(PROMPT, chain, steps=20, seed=11).text
    for step in data["steps"]:
        assert [s["stage"] for s in step["stages"]] == ["top_k(5)", "temperature(0.5)"]
        drawn = data["vocab"].index(step["char"])
        last = step["stages"][-1]["probs"]
        assert sum(last) == pytest.approx(1, abs=1e-4) and last[drawn] > 0
        assert sum(p > 0 for p in step["stages"][0]["probs"]) <= 5
        assert step["model_entropy"] >= step["sampling_entropy"] - 1e-6


def test_samplers_endpoint_offers_plugin_stages(server):
    stages = {s["name"]: s for s in request(server, "GET", "/v1/samplers").json()["data"]}
    assert stages["top_k"]["dist"] == "textgen-truncation"
    assert "k" in stages["top_k"]["params"] and stages["temperature"]["builtin"]


def test_concurrent_requests_are_batched_and_do_not_change_each_others_text(server):
    bodies = [{"prompt": prompt, "max_tokens": 60, "seed": seed, "samplers": CHAIN}
              for seed, prompt in enumerate(["the ", "the ", "and ", "a "] * 3)]
    alone = [post(server, "/v1/completions", b).json()["choices"][0]["text"] for b in bodies]
    calls = request(server, "GET", "/health").json()["calls"]
    with ThreadPoolExecutor(len(bodies)) as pool:
        together = [r.json()["choices"][0]["text"]
                    for r in pool.map(lambda b: post(server, "/v1/completions", b), bodies)]
    assert together == alone
    # 12 requests with 3 prompt lengths: far fewer compiled calls than requests.
    assert request(server, "GET", "/health").json()["calls"] - calls < len(bodies)


def test_warns_only_when_listening_beyond_loopback():
    assert exposure_warning("127.0.0.1", None) is None
    assert exposure_warning("::1", None) is None
    assert exposure_warning("localhost", None) is None
    assert "--api-key" in exposure_warning("0.0.0.0", None)
    assert "--api-key" not in exposure_warning("0.0.0.0", "secret")
