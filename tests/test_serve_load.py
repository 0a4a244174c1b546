"""A bounded load test on 127.0.0.1: 64 concurrent 400-character requests, all answered, in
few compiled calls, each with the text its seed gives alone."""

from __future__ import annotations

import asyncio
import time

from serve_support import HOST, post, request

from textgen.serve.loadgen import closed_loop, summary

REQUESTS = 64
BUDGET_SECONDS = 240  # compiles included, on a shared 2-core machine


def test_64_concurrent_400_character_requests(tiny_server):
    bodies = [{"prompt": "the will to ", "max_tokens": 400, "seed": 1000 + i,
               "samplers": [{"temperature": 0.8}]} for i in range(REQUESTS)]
    server = tiny_server
    calls = request(server, "GET", "/health").json()["calls"]
    start = time.monotonic()
    results, wall = asyncio.run(closed_loop(HOST, server.port, bodies, REQUESTS))
    stats = summary(results, wall)
    assert stats["statuses"] == {200: REQUESTS}
    assert stats["chars"] == REQUESTS * 400
    assert time.monotonic() - start < BUDGET_SECONDS
    calls = request(server, "GET", "/health").json()["calls"] - calls
    assert calls <= REQUESTS // 4, f"{calls} compiled calls for {REQUESTS} requests"
    for i in (0, 37):  # a row's text is its seed's, whatever shared its batch
        alone = post(server, "/v1/completions", bodies[i]).json()["choices"][0]["text"]
        assert results[i].json()["choices"][0]["text"] == alone
