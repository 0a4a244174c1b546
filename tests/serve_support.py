"""Shared by the test_serve_* files: a real `textgen serve` in a subprocess on a free port of
127.0.0.1, and a plain HTTP client for what the openai client hides (status codes, raw SSE)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"  # the tests only ever talk to this machine's loopback


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Server:
    port: int
    process: subprocess.Popen
    lines: list[str]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


@contextlib.contextmanager
def serving(run_dir: Path, *args: str, timeout: float = 120) -> Iterator[Server]:
    """Start `textgen serve RUN_DIR --port P ARGS`, wait for its startup line, stop it after."""
    port = free_port()
    cmd = [sys.executable, "-c", "from textgen.cli import main; main()", "serve", str(run_dir),
           "--port", str(port), *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env=env)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")),
                              daemon=True)
    reader.start()
    server = Server(port, process, lines)
    try:
        deadline = time.monotonic() + timeout
        while not any("listening on" in line for line in lines):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"textgen serve did not start: {''.join(lines)}")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
