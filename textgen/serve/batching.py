"""The request collector: requests that arrive together are decoded together.

Each request becomes a ``Job`` (its prompt's ids, one seed per choice, its chain, its length) in
a bounded queue. One collector task takes the first job, keeps collecting for a few
milliseconds (or until a batch is full), groups the jobs that can share one compiled call (same
chain, same prompt length, same kind), pads each group to a fixed number of rows and decodes it
in a worker thread, so the event loop keeps serving while XLA runs. Rows never interact, and
every row's noise comes from its own seed, so a request's text does not depend on its
neighbours. While one batch decodes, the next collects: under load the batches fill up.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from textgen.samplers.base import SamplerChain

ROW_BUCKETS = (8, 16, 32, 64)  # rows per compiled call: few shapes, so few compiles
MAX_ROWS = {"decode": 64, "trace": 16}  # tracing keeps [rows, steps, stages, vocab] floats
LENGTH_BUCKETS = (16, 32, 64, 100, 128, 200, 256, 400, 512, 800, 1024, 1600, 2048)


class QueueFull(Exception):
    """The bounded queue is full; ``retry_after`` seconds is a fair wait."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"queue full; retry after {retry_after} s")
        self.retry_after = retry_after


def length_bucket(length: int) -> int:
    """The compiled length a request of ``length`` characters runs at (then cut to size)."""
    for bucket in LENGTH_BUCKETS:
        if length <= bucket:
            return bucket
    return math.ceil(length / 1024) * 1024


def row_bucket(rows: int) -> int:
    return next(b for b in ROW_BUCKETS if rows <= b)


@dataclass
class Job:
    """One request's rows: a prompt's ids repeated once per seed, all with one chain."""

    kind: Literal["decode", "trace"]
    chain: SamplerChain
    key: str                 # chains with equal keys share a compiled program
    ids: np.ndarray          # [prompt_len] int32
    seeds: list[int]
    length: int
    future: asyncio.Future = field(repr=False)

    @property
    def group(self) -> tuple[Any, ...]:
        return (self.kind, self.key, len(self.ids), length_bucket(self.length))


class Batcher:
    """A bounded queue of jobs, a collector task and one worker thread for compiled calls.

    ``model`` is a :class:`textgen.api.TrainedModel`: its ``decoder(chain)`` and
    ``tracer(chain)`` give the compiled loops, built once per chain and shape.
    """

    def __init__(self, model: Any, queue_size: int = 128, window_ms: float = 5.0) -> None:
        self.model = model
        self.queue_size = queue_size
        self.window = window_ms / 1000
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="textgen-serve")
        self.pending: list[Job] = []
        self.wakeup = asyncio.Event()
        self.seconds_per_call = 0.05  # running mean, for Retry-After
        self.calls = 0
        self.rows_decoded = 0
        self._task: asyncio.Task | None = None

    # --- the event-loop side -------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._collect())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self.pool.shutdown(wait=False, cancel_futures=True)

    def submit(self, kind: Literal["decode", "trace"], chain: SamplerChain, key: str,
               ids: np.ndarray, seeds: Sequence[int], length: int) -> asyncio.Future:
        """Queue a job; its future gets a dict of ``[len(seeds), length]`` arrays."""
        if len(self.pending) >= self.queue_size:
            raise QueueFull(self.retry_after())
        future = asyncio.get_running_loop().create_future()
        self.pending.append(Job(kind, chain, key, np.asarray(ids, np.int32), list(seeds),
                                length, future))
        self.wakeup.set()
        return future

    def retry_after(self) -> int:
        """Seconds until the queue has likely drained: calls ahead times the mean call time."""
        calls = len(self.pending) / MAX_ROWS["decode"] + 1
        return max(1, math.ceil(calls * self.seconds_per_call))

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self.wakeup.wait()
            await asyncio.sleep(self.window)  # let the requests arriving together arrive
            jobs, self.pending = self.pending, []
            self.wakeup.clear()
            jobs = [job for job in jobs if not job.future.done()]  # the client went away
            for batch in plan(jobs):
                try:
                    results = await loop.run_in_executor(self.pool, self._run, batch)
                except Exception as exc:  # noqa: BLE001 - handed to each request's handler
                    for job in batch:
                        if not job.future.done():
                            job.future.set_exception(exc)
                    continue
                for job, result in zip(batch, results, strict=True):
                    if not job.future.done():
                        job.future.set_result(result)

    # --- the worker-thread side ----------------------------------------------------------------
    def _run(self, jobs: list[Job]) -> list[dict[str, np.ndarray]]:
        """One compiled call for jobs of one group: rows padded to a bucket, cut back after."""
        start = time.perf_counter()
        first = jobs[0]
        ids = np.stack([job.ids for job in jobs for _ in job.seeds])
        seeds = np.array([seed for job in jobs for seed in job.seeds], np.int64)
        rows = len(seeds)
        pad = row_bucket(rows) - rows
        ids = np.concatenate([ids, np.repeat(ids[-1:], pad, axis=0)])
        seeds = np.concatenate([seeds, np.repeat(seeds[-1:], pad)])
        length = length_bucket(max(job.length for job in jobs))
        if first.kind == "decode":
            out = self.model.decoder(first.chain)(ids, np.zeros(len(seeds), np.int32), seeds,
                                                  length)
        else:
            out = self.model.tracer(first.chain)(ids, seeds, length)
        arrays = {k: v for k, v in vars(out).items() if isinstance(v, np.ndarray)}
        results, row = [], 0
        for job in jobs:
            count = len(job.seeds)
            results.append({k: v[row:row + count, :job.length] for k, v in arrays.items()})
            row += count
        elapsed = time.perf_counter() - start
        self.seconds_per_call = 0.8 * self.seconds_per_call + 0.2 * elapsed
        self.calls += 1
        self.rows_decoded += rows
        return results


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
