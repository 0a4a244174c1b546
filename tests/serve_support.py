"""Shared by the test_serve_* files: a real `textgen serve` in a subprocess on a free port of
127.0.0.1, and a plain HTTP client for what the openai client hides (status codes, raw SSE)."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass

from textgen.serve.loadgen import HOST, Server, serving  # noqa: F401  (the tests' server)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def request(server: Server, method: str, path: str, body: bytes | dict | None = None,
            headers: dict[str, str] | None = None, timeout: float = 300) -> Reply:
    """One HTTP request to the server; ``body`` as raw bytes or JSON."""
    conn = http.client.HTTPConnection(HOST, server.port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        conn.request(method, path, body=data,
                     headers={"Content-Type": "application/json", **(headers or {})})
        response = conn.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()},
                     response.read())
    finally:
        conn.close()


def post(server: Server, path: str, body: bytes | dict, **kw) -> Reply:
    return request(server, "POST", path, body, **kw)
