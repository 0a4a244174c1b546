"""The batcher in-process: long decodes come in pieces with the text of one call, jobs are
grouped by what one compiled call must share, and the queue is bounded."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

import textgen
from textgen.api import as_chain
from textgen.serve.batching import Batcher, Job, QueueFull, plan


def job(key: str, prompt_len: int, rows: int, kind: str = "decode") -> Job:
    return Job(kind, as_chain("greedy"), key, np.zeros(prompt_len, np.int32),
               list(range(rows)), 10)


def test_a_long_decode_comes_in_pieces_with_the_text_of_one_call(tiny_run):
    model = textgen.load(tiny_run)
    chain = as_chain({"temperature": 0.7})
    ids = np.asarray(model._ids(model.prompt("the ")), np.int32)

    async def decode() -> list[dict]:
        batcher = Batcher(model)
        batcher.start()
        long = Job("decode", chain, "t0.7", ids, [3, 4], 250, streamed=True)
        batcher.submit([long])
        pieces = [piece async for piece in long.stream()]
        await batcher.stop()
        return pieces

    pieces = asyncio.run(decode())
    assert [p["tokens"].shape for p in pieces] == [(2, 100), (2, 100), (2, 50)]
    texts = [model.vocab.decode(np.concatenate([p["tokens"][r] for p in pieces]))
             for r in range(2)]
    alone = model.generate("the ", sampler={"temperature": 0.7}, length=250, n=2, seed=3)
    assert texts == [s.text for s in alone]


def test_jobs_share_a_call_only_with_the_same_chain_prompt_length_and_kind():
    a, b, c = job("A", 4, 40), job("A", 4, 30), job("A", 4, 8)
    other_length, other_chain, traced = job("A", 5, 8), job("B", 4, 8), job("A", 4, 8, "trace")
    calls = plan([a, b, other_length, c, other_chain, traced])
    # 40 + 30 rows exceed a 64-row call; c fits beside b; the rest each need their own call.
    assert calls == [[a], [b, c], [other_length], [other_chain], [traced]]


def test_the_queue_is_bounded_and_all_or_nothing():
    batcher = Batcher(model=None, queue_size=3)
    batcher.submit([job("A", 4, 1), job("A", 4, 1)])
    with pytest.raises(QueueFull) as full:
        batcher.submit([job("A", 4, 1), job("A", 4, 1)])
    assert full.value.retry_after >= 1 and len(batcher.pending) == 2
