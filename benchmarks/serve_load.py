"""`textgen serve` under load: aggregate chars/s and p50/p99 latency for 1, 8 and 64 concurrent
400-character requests, against the in-process batch-64 rate of the same compiled decoder; and
what 256 requests sent at once do with the default queue (128) and with room for all of them.

    python benchmarks/serve_load.py [--run-dir runs/...]   # default: a Nietzsche run under runs/

Traffic goes to 127.0.0.1 only. Each level is warmed up first (every batch shape compiles once).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from benchlib import ROOT, console, save
from rich.table import Table

from textgen.serve.loadgen import HOST, closed_loop, serving, summary

PROMPT = "the will to power, so far as may be judged from the spirit of it, is "  # 69 chars
CHAIN = [{"temperature": 0.8}]
LENGTH = 400


def find_run() -> Path:
    """A trained Nietzsche run under runs/ (newest first)."""
    runs = sorted((p.parent for p in ROOT.glob("runs/**/model.keras")
                   if "nietzsche" in str(p.parent)), key=lambda p: p.stat().st_mtime)
    if not runs:
        sys.exit("no trained Nietzsche run under runs/: give --run-dir")
    return runs[-1]


def in_process_rate(run_dir: Path, rows: int = 64, repeats: int = 15) -> dict:
    """The compiled decoder alone, batch ``rows`` x 400 chars, as the server calls it."""
    import textgen
    from textgen.api import as_chain

    model = textgen.load(run_dir)
    ids = np.asarray(model._ids(model.prompt(PROMPT)), np.int32)
    decoder = model.decoder(as_chain(CHAIN))
    args = (np.repeat(ids[None], rows, 0), np.zeros(rows, np.int32), np.arange(rows), LENGTH)
    decoder(*args)  # compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        decoder(*args)
        times.append(time.perf_counter() - start)
    best, median = min(times), statistics.median(times)
    return {"rows": rows, "median_seconds": median, "best_seconds": best,
            "chars_per_second": rows * LENGTH / median}


def bodies(count: int, offset: int = 0) -> list[dict]:
    return [{"prompt": PROMPT, "max_tokens": LENGTH, "seed": offset + i, "samplers": CHAIN}
            for i in range(count)]


def level(port: int, concurrency: int, requests: int) -> dict:
    for _ in range(3):  # warm: every batch shape this level makes compiles before timing
        asyncio.run(closed_loop(HOST, port, bodies(4 * concurrency, 10**6), concurrency))
    results, wall = asyncio.run(closed_loop(HOST, port, bodies(requests), concurrency))
    return {"concurrency": concurrency, **summary(results, wall)}


def burst(port: int, count: int) -> dict:
    for warm in range(2):  # the batch shapes a burst makes compile before the timed one
        asyncio.run(closed_loop(HOST, port, bodies(count, 10**8 * (warm + 1)), count))
    results, wall = asyncio.run(closed_loop(HOST, port, bodies(count, 10**7), count))
    waits = [int(r.headers.get("retry-after", 0)) for r in results if r.status == 429]
    return {"sent_at_once": count, **summary(results, wall),
            "retry_after_seconds": sorted(set(waits))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", type=Path)
    args = parser.parse_args()
    run_dir = args.run_dir or find_run()
    console.print(f"run: {run_dir}")
    before = in_process_rate(run_dir)
    console.print(f"in-process batch 64: {before['chars_per_second']:,.0f} chars/s")
    levels = []
    with serving(run_dir) as server:
        for concurrency, requests in ((1, 16), (8, 64), (64, 256)):
            levels.append(level(server.port, concurrency, requests))
            console.print(levels[-1])
        default_queue = burst(server.port, 256)
    with serving(run_dir, "--queue-size", "512") as server:
        roomy_queue = burst(server.port, 256)
    after = in_process_rate(run_dir)  # the machine is shared: the reference is the better one
    base = max(before, after, key=lambda r: r["chars_per_second"])
    console.print(f"in-process batch 64 after: {after['chars_per_second']:,.0f} chars/s")
    table = Table(title=f"textgen serve, {LENGTH}-char requests ({run_dir.name})")
    for column in ("concurrent", "requests", "chars/s", "of batch-64 rate", "p50 s", "p99 s"):
        table.add_column(column, justify="right")
    for row in levels:
        table.add_row(str(row["concurrency"]), str(row["requests"]),
                      f"{row['chars_per_second']:,.0f}",
                      f"{row['chars_per_second'] / base['chars_per_second']:.2f}",
                      f"{row['p50_seconds']:.3f}", f"{row['p99_seconds']:.3f}")
    console.print(table)
    for name, b in (("queue 128", default_queue), ("queue 512", roomy_queue)):
        console.print(f"256 at once, {name}: statuses {b['statuses']}, "
                      f"wall {b['wall_seconds']:.2f} s, p50 {b['p50_seconds']:.2f} s, "
                      f"p99 {b['p99_seconds']:.2f} s, "
                      f"Retry-After {b['retry_after_seconds']}")
    save("serve_load", {"run_dir": str(run_dir), "prompt": PROMPT, "chain": CHAIN,
                        "length": LENGTH, "in_process_batch64": base,
                        "in_process_batch64_before_and_after": [before, after], "levels": levels,
                        "burst_256_queue_128": default_queue,
                        "burst_256_queue_512": roomy_queue})


if __name__ == "__main__":
    main()
