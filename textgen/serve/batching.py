"""The request collector: requests that arrive together are decoded together.

Each request becomes one or more ``Job``s (a prompt's ids, one seed per choice, a chain, a
length) in a bounded queue. One collector task takes what has arrived, after waiting for
neighbours (while requests keep arriving, up to 30 ms), groups the jobs that can share one
compiled call (same kind, same chain, same prompt length), pads each group to a fixed number of
rows and decodes it in a worker thread, so the event loop keeps serving while XLA runs.
When a request in the batch streams, decoding goes in pieces of at most ``CHUNK`` steps (the
engine carries the cache and sampler states over), each handed to its requests as soon as it
is out, so streams start after the first piece; otherwise the batch decodes in one call.
Rows never interact and every row's noise comes from its own seed, so a request's text does
not depend on its neighbours. While one batch decodes the next one collects: under load the
batches fill up.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from textgen.samplers.base import SamplerChain

ROW_BUCKETS = (8, 16, 32, 64)  # rows per compiled call: few shapes, so few compiles
MAX_ROWS = {"decode": 64, "trace": 16}  # tracing keeps [rows, steps, stages, vocab] floats
CHUNK = 100  # decoding steps per piece: the streaming granularity
MAX_WAIT = 0.03  # seconds the collector may hold the first request for its neighbours
LENGTH_BUCKETS = (16, 32, 64, 100, 128, 200, 256, 400, 512, 800, 1024, 1600, 2048)
Pieces = dict[str, np.ndarray]  # name -> [rows, steps] (or [rows, steps, ...]) arrays


class QueueFull(Exception):
    """The bounded queue is full; ``retry_after`` seconds is a fair wait."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"queue full; retry after {retry_after} s")
        self.retry_after = retry_after


def length_bucket(length: int) -> int:
    """The compiled length a trace of ``length`` steps runs at (then cut to size)."""
    for bucket in LENGTH_BUCKETS:
        if length <= bucket:
            return bucket
    return math.ceil(length / 1024) * 1024


def row_bucket(rows: int) -> int:
    return next(b for b in ROW_BUCKETS if rows <= b)


@dataclass
class Job:
    """One request's rows: a prompt's ids repeated once per seed, all with one chain.

    ``pieces`` receives the job's arrays piece by piece, then ``None`` (or the exception).
    """

    kind: Literal["decode", "trace"]
    chain: SamplerChain
    key: str                 # chains with equal keys share a compiled program
    ids: np.ndarray          # [prompt_len] int32
    seeds: list[int]
    length: int
    streamed: bool = False   # wants its text piece by piece (else in one call: faster)
    pieces: asyncio.Queue = field(default_factory=asyncio.Queue, repr=False)
    cancelled: bool = False

    @property
    def group(self) -> tuple[Any, ...]:
        return (self.kind, self.key, len(self.ids))

    async def stream(self) -> AsyncIterator[Pieces]:
        """The job's pieces as they are decoded."""
        while (piece := await self.pieces.get()) is not None:
            if isinstance(piece, BaseException):
                raise piece
            yield piece

    async def result(self) -> Pieces:
        """All of the job's pieces, joined along the steps."""
        parts = [piece async for piece in self.stream()]
        return {k: np.concatenate([p[k] for p in parts], axis=1) for k in parts[0]}


class Batcher:
    """A bounded queue of jobs, a collector task and one worker thread for compiled calls.

    ``model`` is a :class:`textgen.api.TrainedModel`: its ``decoder(chain)`` and
    ``tracer(chain)`` give the compiled loops, built once per chain.
    """

    def __init__(self, model: Any, queue_size: int = 128, window_ms: float = 3.0) -> None:
        self.model = model
        self.queue_size = queue_size
        self.window = window_ms / 1000
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="textgen-serve")
        self.pending: list[Job] = []
        self.wakeup = asyncio.Event()
        self.seconds_per_call = 0.05  # running mean, for Retry-After
        self.calls = 0
        self.rows = 0              # rows decoded (padding included), for /health
        self.busy_seconds = 0.0    # time spent in compiled calls (compiles included)
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- the event-loop side -------------------------------------------------------------------
    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._collect())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self.pool.shutdown(wait=False, cancel_futures=True)

    def submit(self, jobs: Sequence[Job]) -> None:
        """Queue a request's jobs, all or none: ``QueueFull`` when they do not fit."""
        if len(self.pending) + len(jobs) > self.queue_size:
            raise QueueFull(self.retry_after())
        self.pending.extend(jobs)
        self.wakeup.set()

    def retry_after(self) -> int:
        """Seconds until the queue has likely drained: calls ahead times the mean call time."""
        calls = len(self.pending) / MAX_ROWS["decode"] + 1
        return max(1, math.ceil(calls * self.seconds_per_call))

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self.wakeup.wait()
            await self._gather_neighbours(loop)
            jobs, self.pending = self.pending, []
            self.wakeup.clear()
            for batch in plan([job for job in jobs if not job.cancelled]):
                try:
                    await loop.run_in_executor(self.pool, self._run, batch)
                except Exception as exc:  # noqa: BLE001 - handed to each request's handler
                    for job in batch:
                        job.pieces.put_nowait(exc)

    async def _gather_neighbours(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait while requests keep arriving (a window at a time), until a batch is full or
        ``MAX_WAIT`` has passed: a burst of requests accepted one by one lands in one batch."""
        deadline = loop.time() + MAX_WAIT
        seen = -1
        while loop.time() < deadline:
            await asyncio.sleep(self.window)
            rows = sum(len(job.seeds) for job in self.pending)
            if len(self.pending) == seen or rows >= MAX_ROWS["decode"]:
                return
            seen = len(self.pending)

    # --- the worker-thread side ----------------------------------------------------------------
    def _run(self, jobs: list[Job]) -> None:
        """Compiled calls for jobs of one group: rows padded to a bucket, each piece handed to
        its jobs (cut back to their rows and lengths) as soon as it is decoded."""
        start = time.perf_counter()
        first = jobs[0]
        ids = np.stack([job.ids for job in jobs for _ in job.seeds])
        seeds = np.array([seed for job in jobs for seed in job.seeds], np.int64)
        pad = row_bucket(len(seeds)) - len(seeds)
        ids = np.concatenate([ids, np.repeat(ids[-1:], pad, axis=0)])
        seeds = np.concatenate([seeds, np.repeat(seeds[-1:], pad)])
        longest = max(job.length for job in jobs)
        if first.kind == "trace":
            traced = self.model.tracer(first.chain)(ids, seeds, length_bucket(longest))
            self._hand_out(jobs, vars(traced), 0)
        elif not any(job.streamed for job in jobs):  # one call: no per-piece round trips
            decoder = self.model.decoder(first.chain)
            whole = decoder(ids, np.zeros(len(seeds), np.int32), seeds, length_bucket(longest))
            self._hand_out(jobs, vars(whole), 0)
        else:
            decoder = self.model.decoder(first.chain)
            chunk = min(CHUNK, length_bucket(longest))
            done = 0
            for piece in decoder.stream(ids, np.zeros(len(seeds), np.int32), seeds, longest,
                                        chunk):
                self._hand_out(jobs, vars(piece), done)
                done += piece.tokens.shape[1]
        self._put([(job, None) for job in jobs])
        elapsed = time.perf_counter() - start
        self.seconds_per_call = 0.8 * self.seconds_per_call + 0.2 * elapsed
        self.calls += 1
        self.rows += len(seeds)
        self.busy_seconds += elapsed

    def _hand_out(self, jobs: list[Job], arrays: dict[str, Any], done: int) -> None:
        row, items = 0, []
        for job in jobs:
            count, keep = len(job.seeds), job.length - done
            if keep > 0:
                items.append((job, {k: v[row:row + count, :keep] for k, v in arrays.items()
                                    if isinstance(v, np.ndarray)}))
            row += count
        self._put(items)

    def _put(self, items: list[tuple[Job, Any]]) -> None:
        """Hand items to their jobs on the event loop: one wake-up for the whole batch."""
        assert self._loop is not None

        def deliver() -> None:
            for job, item in items:
                job.pieces.put_nowait(item)

        self._loop.call_soon_threadsafe(deliver)


def plan(jobs: list[Job]) -> list[list[Job]]:
    """Jobs grouped by what must match within one compiled call, each group cut into calls of
    at most ``MAX_ROWS`` rows (a job's rows are never split), in order of arrival."""
    groups: dict[tuple[Any, ...], list[list[Job]]] = {}
    for job in jobs:
        calls = groups.setdefault(job.group, [[]])
        limit = MAX_ROWS[job.kind]
        if calls[-1] and sum(len(j.seeds) for j in calls[-1]) + len(job.seeds) > limit:
            calls.append([])
        calls[-1].append(job)
    return [call for calls in groups.values() for call in calls]
