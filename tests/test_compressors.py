"""Compressor references: conditioned on the training text, in bits per held-out character."""

from __future__ import annotations

import bz2
import shutil

import pytest

from textgen.baselines.compressors import COMPRESSORS, conditional_bpc, score, score_all

TRAIN = "the quick brown fox jumps over the lazy dog. " * 40
NOVEL = "pack my box with five dozen liquor jugs!"


def test_conditional_bpc_is_the_size_difference() -> None:
    size = lambda data: len(bz2.compress(data, 9))  # noqa: E731
    expected = 8 * (size((TRAIN + NOVEL).encode()) - size(TRAIN.encode())) / len(NOVEL)
    assert conditional_bpc(size, TRAIN, NOVEL) == expected


@pytest.mark.parametrize("name", ["bz2", "lzma", "ppmd", "zpaq"])
def test_repeated_text_costs_less_than_new_text(name: str) -> None:
    if name == "ppmd":
        pytest.importorskip("pyppmd")
    if name == "zpaq" and shutil.which("zpaq") is None:
        pytest.skip("no zpaq command on PATH")
    seen = score(name, TRAIN, TRAIN[:200]).bpc
    new = score(name, TRAIN, (NOVEL * 5)[:200]).bpc
    assert seen is not None and new is not None
    assert 0 <= seen < new < 8.5


def test_missing_zpaq_is_skipped_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    result = score("zpaq", TRAIN, NOVEL)
    assert result.bpc is None and "zpaq" in result.note


def test_every_compressor_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    results = score_all(TRAIN, NOVEL)
    assert len(results) == len(COMPRESSORS)
    assert all((r.bpc is None) == bool(r.note) for r in results)


def test_bad_name_and_empty_text_are_errors() -> None:
    with pytest.raises(ValueError, match="unknown compressor"):
        score("gzip", TRAIN, NOVEL)
    with pytest.raises(ValueError, match="empty"):
        score("bz2", TRAIN, "")
