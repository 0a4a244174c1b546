"""General-purpose compressors as references, conditioned on the training text.

A compressor that has read the training text codes the held-out text in
``size(train + held_out) - size(train)`` bytes; times 8 over the held-out character count, that
is its held-out bits per character, the figure to set beside a model's ``val_bpc``. Unlike a
static model they keep adapting while they read the held-out text, so they belong beside
``val_bpc_dynamic``. bz2 and lzma come with Python, PPMd with ``pyppmd`` (optional), zpaq when
its command is on PATH; a missing one is reported as skipped, never as a number.
"""

from __future__ import annotations

import bz2
import lzma
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PPMD_ORDER = 6             # 7-Zip's PPMd default order: 1.90 bpc here (8: 1.91, 16: 1.92)
PPMD_MEMORY = 64 << 20     # model memory; the 600 kB corpus never fills it


@dataclass
class CompressorScore:
    """One compressor's held-out bpc, or why it has none."""

    name: str
    bpc: float | None
    seconds: float
    note: str = ""


def _bz2(data: bytes) -> int:
    return len(bz2.compress(data, 9))


def _lzma(data: bytes) -> int:
    return len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))


def _ppmd(data: bytes) -> int:
    import pyppmd

    encoder = pyppmd.Ppmd7Encoder(PPMD_ORDER, PPMD_MEMORY)  # variant H, as 7-Zip's PPMd
    return len(encoder.encode(data) + encoder.flush())


def _zpaq(data: bytes) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        src, archive = Path(tmp) / "text", Path(tmp) / "text.zpaq"
        src.write_bytes(data)
        subprocess.run(["zpaq", "add", str(archive), "text", "-m5"], cwd=tmp, check=True,
                       capture_output=True)
        return archive.stat().st_size


def _available(name: str) -> str:
    """Why ``name`` cannot run here, or '' when it can."""
    if name == "ppmd":
        try:
            import pyppmd  # noqa: F401
        except ImportError:
            return "skipped: pyppmd is not installed (pip install pyppmd)"
    if name == "zpaq" and shutil.which("zpaq") is None:
        return "skipped: no zpaq command on PATH"
    return ""


COMPRESSORS: dict[str, tuple[Callable[[bytes], int], str]] = {
    "bz2": (_bz2, "bz2 -9 (Burrows-Wheeler)"),
    "lzma": (_lzma, "lzma -9e (xz)"),
    "ppmd": (_ppmd, f"PPMd var. H, order {PPMD_ORDER} (7-Zip's)"),
    "zpaq": (_zpaq, "zpaq -m5 (context mixing)"),
}


def conditional_bpc(size: Callable[[bytes], int], train: str, held_out: str) -> float:
    """Bits per held-out character that ``size`` spends on ``held_out`` after ``train``."""
    if not held_out:
        raise ValueError("nothing to score: the held-out text is empty")
    extra = size((train + held_out).encode("utf-8")) - size(train.encode("utf-8"))
    return 8.0 * extra / len(held_out)


def score(name: str, train: str, held_out: str) -> CompressorScore:
    """One compressor's score; a missing one comes back with ``bpc=None`` and a note."""
    if name not in COMPRESSORS:
        raise ValueError(f"unknown compressor {name!r}; choose from {', '.join(COMPRESSORS)}")
    size, label = COMPRESSORS[name]
    missing = _available(name)
    if missing:
        return CompressorScore(label, None, 0.0, missing)
    start = time.perf_counter()
    bpc = conditional_bpc(size, train, held_out)
    return CompressorScore(label, bpc, time.perf_counter() - start)


def score_all(train: str, held_out: str,
              names: tuple[str, ...] = tuple(COMPRESSORS)) -> list[CompressorScore]:
    """Every named compressor's score on the same texts."""
    return [score(name, train, held_out) for name in names]
