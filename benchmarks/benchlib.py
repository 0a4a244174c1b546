"""Shared helpers of the benchmark scripts: the machine, a quiet-machine wait, timing, output.

Every script prints a rich table and writes ``benchmarks/results/<name>.json`` with the machine
it ran on, so a number is never quoted without its conditions.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from textgen.generation.timing import timed  # noqa: F401  (the benchmarks' timer, shared with compare)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
console = Console()
START_LOAD = os.getloadavg()[0]  # before this script's own work raised it


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict:
    """The conditions of a measurement: CPU, cores, load, library versions, thread settings."""
    import keras
    import numpy as np
    import tensorflow as tf

    return {"cpu": cpu_model(), "cores": os.cpu_count(), "load_1min_at_start": START_LOAD,
            "load_1min_at_end": os.getloadavg()[0],
            "python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "numpy": np.__version__,
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
            "env": {k: v for k, v in os.environ.items()
                    if k.startswith(("TF_", "OMP_", "XLA_", "OPENBLAS", "MKL"))
                    and k != "TF_CLI_CONFIG_FILE"},
            "when": datetime.now().isoformat(timespec="seconds")}


def wait_for_quiet(max_load: float = 1.0, poll_seconds: float = 60.0,
                   give_up_seconds: float = 4 * 3600) -> float:
    """Block until the 1-minute load average is below ``max_load`` (other work would skew
    timings); returns the load seen. Gives up, with a warning, after ``give_up_seconds``."""
    start = time.monotonic()
    load = os.getloadavg()[0]
    while load >= max_load:
        if time.monotonic() - start > give_up_seconds:
            console.print(f"[yellow]load still {load:.2f} after {give_up_seconds:.0f} s; "
                          "measuring anyway[/]")
            break
        console.print(f"[dim]load {load:.2f} >= {max_load}: waiting {poll_seconds:.0f} s for a "
                      "quiet machine[/]")
        time.sleep(poll_seconds)
        load = os.getloadavg()[0]
    global START_LOAD
    START_LOAD = load
    return load


def bpc_axes(xlabel: str, title: str | None = None, size: tuple = (8, 4.5)):
    """A headless matplotlib figure for held-out bpc against ``xlabel``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("held-out bits per character")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig, ax


def save_figure(fig, ax, path: Path, legend_size: int = 8) -> None:
    """Legend, tight layout, PNG at 120 dpi, and the figure closed."""
    import matplotlib.pyplot as plt

    ax.legend(fontsize=legend_size)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_child(cmd: Sequence[str], log: Path | None = None) -> dict:
    """Run ``cmd`` as a child process; its wall time, exit code and peak resident memory (MB).

    ``os.wait4`` gives this child's own rusage (its ``ru_maxrss`` covers its waited-for
    children too), so runs measured one after another do not see each other's peaks.
    """
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 (closed below)
    start = time.perf_counter()
    try:
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        if log:
            out.close()
    return {"cmd": " ".join(cmd), "wall_seconds": time.perf_counter() - start,
            "returncode": os.waitstatus_to_exitcode(status),
            "peak_rss_mb": usage.ru_maxrss / 1024}  # Linux reports KB


def python_cmd() -> list[str]:
    return [sys.executable]


def textgen_cmd() -> list[str]:
    return [sys.executable, "-c", "from textgen.cli import main; main()"]


def save(name: str, data: dict) -> Path:
    """Write ``benchmarks/results/<name>.json`` (with the machine) and return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"benchmark": name, "machine": machine(), **data}, indent=2,
                               default=float) + "\n")
    console.print(f"[dim]wrote {path.relative_to(ROOT)}[/]")
    return path


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print ``rows`` under ``columns``; floats get thousands separators and 3 significant
    decimals where small."""
    t = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        t.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        t.add_row(*(fmt(v) for v in row))
    console.print(t)


def fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value:
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 1:
            return f"{value:,.2f}"
        return f"{value:.3g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "-" if value is None else escape(str(value))
