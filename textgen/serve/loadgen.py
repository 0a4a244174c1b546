"""Load for ``textgen serve``, shared by its tests and benchmarks/serve_load.py: a served run in
a subprocess on a free port of 127.0.0.1, and a closed-loop load generator (``concurrency``
clients, each sending its next request as soon as its last one is answered) over plain asyncio
sockets, so that the client costs little CPU."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HOST = "127.0.0.1"  # load is only ever sent to this machine's loopback


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running ``textgen serve``: its port, its process and what it printed so far."""

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
    out = process.stdout
    assert out is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(out.readline, "")), daemon=True)
    reader.start()
    server = Server(port, process, lines)
    try:
        deadline = time.monotonic() + timeout
        while not any("listening on" in line for line in lines):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"textgen serve did not start: {''.join(lines)}")
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
class Result:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    """One keep-alive HTTP/1.1 connection, as API clients hold them: requests one at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, body: dict[str, Any],
                   headers: dict[str, str] | None = None) -> Result:
        start = time.perf_counter()
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        data = json.dumps(body).encode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: "
                     f"application/json\r\nContent-Length: {len(data)}\r\n{extra}\r\n".encode()
                     + data)
        await writer.drain()
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        fields = {k.lower(): v for k, v in (line.split(": ", 1) for line in head[1:] if ": "
                                            in line)}
        payload = await reader.readexactly(int(fields.get("content-length", 0)))
        if fields.get("connection", "").lower() == "close":
            await self.close()
        return Result(int(head[0].split()[1]), fields, payload, time.perf_counter() - start)

    async def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


async def post(host: str, port: int, path: str, body: dict[str, Any],
               headers: dict[str, str] | None = None) -> Result:
    """One HTTP/1.1 POST of a JSON body on a connection of its own."""
    connection = Connection(host, port)
    try:
        return await connection.post(path, body, headers)
    finally:
        await connection.close()


async def closed_loop(host: str, port: int, bodies: Sequence[dict[str, Any]], concurrency: int,
                      path: str = "/v1/completions") -> tuple[list[Result], float]:
    """Send every body, ``concurrency`` clients at a time, each on its own keep-alive
    connection; the results in order and the wall seconds."""
    results: list[Result | None] = [None] * len(bodies)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(bodies)):
        queue.put_nowait(i)

    async def client() -> None:
        connection = Connection(host, port)
        try:
            while not queue.empty():
                i = queue.get_nowait()
                results[i] = await connection.post(path, bodies[i])
        finally:
            await connection.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return [r for r in results if r is not None], time.perf_counter() - start


def summary(results: Sequence[Result], wall: float) -> dict[str, Any]:
    """Aggregate characters per second and latency percentiles of the answered requests."""
    ok = [r for r in results if r.status == 200]
    chars = sum(len(c["text"]) for r in ok for c in r.json()["choices"])
    latency = np.array([r.seconds for r in ok]) if ok else np.array([np.nan])
    statuses: dict[int, int] = {}
    for r in results:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    return {"requests": len(results), "statuses": statuses, "chars": chars,
            "wall_seconds": wall, "chars_per_second": chars / wall if wall else 0.0,
            "p50_seconds": float(np.percentile(latency, 50)),
            "p99_seconds": float(np.percentile(latency, 99))}
