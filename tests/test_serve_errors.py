"""Bad input never gets a 500 and never stops `textgen serve`: each answer is OpenAI's error
shape with a message that says what to change. Also the API key and the bounded queue."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from serve_support import HOST, post, request, serving

OK = {"prompt": "the ", "max_tokens": 16, "seed": 1}

BAD = [  # (body, status, field the error names, words the message must hold)
    (b'{"prompt": "the ", ', 400, None, "not valid JSON"),
    (b"\xff\xfe\x00", 400, None, "not"),
    (b"[1, 2]", 400, None, "must be a JSON object"),
    (b"", 400, None, "not valid JSON"),
    ({**OK, "samplers": ["top_q"]}, 400, "samplers", "Did you mean 'top_p'"),
    ({**OK, "samplers": [{"top_k": "many"}]}, 400, "samplers", "top_k"),
    ({**OK, "samplers": [{"temperature": "hot"}]}, 400, "samplers", "temperature"),
    ({**OK, "samplers": []}, 400, "samplers", "at least one stage"),
    ({**OK, "samplers": ["greedy"], "temperature": 0.5}, 400, "samplers", "not both"),
    ({**OK, "max_token": 5}, 400, "max_token", "unknown field 'max_token'"),
    ({**OK, "frequency_penalty": 1}, 400, "frequency_penalty", "remove it"),
    ({**OK, "temperature": -1}, 400, "temperature", "greater than or equal to 0"),
    ({**OK, "top_p": 1.5}, 400, "top_p", "less than or equal to 1"),
    ({**OK, "max_tokens": 100_000}, 400, "max_tokens", "cap of 1024"),
    ({**OK, "max_tokens": 0}, 400, "max_tokens", "greater than or equal to 1"),
    ({**OK, "n": 1000}, 400, "n", "at most 64"),
    ({**OK, "seed": -3}, 400, "seed", "greater than or equal to 0"),
    ({**OK, "logprobs": 500}, 400, "logprobs", "at most"),
    ({**OK, "prompt": "th\u00e9 \u2603"}, 400, "prompt", "never saw"),
    ({**OK, "prompt": ""}, 400, "prompt", "empty"),
    ({**OK, "prompt": []}, 400, "prompt", "at least one prompt"),
    ({**OK, "prompt": 5}, 400, "prompt", "prompt"),
    ({**OK, "model": "gpt-4"}, 404, "model", "serves 'run'"),
    ({"prompt": "x" * 100_000}, 413, None, "over this server's"),
]


@pytest.fixture(scope="module")
def server(tiny_server):
    return tiny_server


@pytest.mark.parametrize("body,status,param,words", BAD,
                         ids=[str(i) for i in range(len(BAD))])
def test_bad_input_gets_a_clear_error(server, body, status, param, words):
    reply = post(server, "/v1/completions", body)
    assert reply.status == status, reply.body
    error = reply.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == param and words in error["message"], error


def test_wrong_paths_and_methods_are_json_errors(server):
    missing = request(server, "GET", "/v1/chat/completions")
    assert missing.status == 404 and "/v1" in missing.json()["error"]["message"]
    wrong = request(server, "GET", "/v1/completions")
    assert wrong.status == 405 and "POST" in wrong.json()["error"]["message"]
    inspect = post(server, "/v1/inspect", {"prompt": "the ", "samplers": "nope"})
    assert inspect.status == 400 and inspect.json()["error"]["param"] == "samplers"


def test_a_client_that_leaves_mid_stream_does_not_hurt_the_server(server):
    for _ in range(3):
        with socket.create_connection((HOST, server.port)) as s:
            body = b'{"prompt": "the ", "max_tokens": 1000, "stream": true, "seed": 2}'
            s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                      b"application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            assert s.recv(200).startswith(b"HTTP/1.1 200")
    time.sleep(0.5)
    assert server.process.poll() is None
    assert request(server, "GET", "/health").json()["status"] == "ok"
    assert post(server, "/v1/completions", OK).status == 200
    assert "Traceback" not in "".join(server.lines)


def test_no_request_above_ever_stopped_the_server(server):
    assert server.process.poll() is None
    assert "Traceback" not in "".join(server.lines)


def test_api_key_and_the_bounded_queue(tiny_run):
    with serving(tiny_run, "--api-key", "s3cret", "--queue-size", "2") as server:
        assert request(server, "GET", "/health").status == 200
        assert request(server, "GET", "/").status == 200  # the page itself holds no data
        refused = request(server, "GET", "/v1/models")
        assert refused.status == 401 and "Bearer" in refused.json()["error"]["message"]
        wrong = request(server, "GET", "/v1/models", headers={"Authorization": "Bearer nope"})
        assert wrong.status == 401
        key = {"Authorization": "Bearer s3cret"}
        assert request(server, "GET", "/v1/models", headers=key).status == 200
        body = {"prompt": "the ", "max_tokens": 400, "seed": 0}
        with ThreadPoolExecutor(24) as pool:
            replies = list(pool.map(lambda i: post(server, "/v1/completions",
                                                   {**body, "seed": i}, headers=key), range(24)))
        statuses = {r.status for r in replies}
        assert statuses == {200, 429}, statuses
        full = next(r for r in replies if r.status == 429)
        assert int(full.headers["retry-after"]) >= 1
        assert full.json()["error"]["code"] == "queue_full"
        assert post(server, "/v1/completions", body, headers=key).status == 200


def test_a_taken_port_is_a_clear_error_not_a_traceback(tiny_run, server):
    out = subprocess.run([sys.executable, "-c", "from textgen.cli import main; main()", "serve",
                          str(tiny_run), "--port", str(server.port)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr
    assert f"cannot listen on 127.0.0.1:{server.port}" in out.stderr
    assert "Traceback" not in out.stderr
