"""Splitting, training windows for both target modes, shuffling, and held-out scoring windows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textgen.corpus.dataset import (
    num_windows,
    scoring_dataset,
    scoring_windows,
    split,
    steps_per_epoch,
    training_dataset,
    with_context,
)

IDS = np.arange(50, dtype=np.int32) * 7 % 11  # small, varied, and every position distinguishable
POSITIONS = np.arange(50, dtype=np.int32)


def epoch(ds) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds], strict=True)
    return np.concatenate(xs), np.concatenate(ys)


@given(st.text(max_size=300), st.floats(0.0, 0.9))
def test_split_holds_out_the_tail(text: str, fraction: float) -> None:
    n_val = round(len(text) * fraction)
    if fraction > 0 and n_val == 0:
        with pytest.raises(ValueError, match="holds nothing out"):
            split(text, fraction)
        return
    train, val = split(text, fraction)
    assert train + val == text and len(val) == n_val


def test_split_rejects_bad_fractions() -> None:
    for fraction in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match="val_fraction"):
            split("abcdef", fraction)


@given(st.integers(0, 60), st.integers(1, 12), st.integers(1, 7), st.sampled_from(["all", "last"]))
def test_num_windows_counts_every_fitting_start(n: int, seq_len: int, step: int, target) -> None:
    starts = [s for s in range(0, n, step) if s + seq_len + 1 <= n]
    assert num_windows(n, seq_len, step, target) == len(starts)


def test_target_all_shifts_x_by_one_with_nonoverlapping_default() -> None:
    ds = training_dataset(POSITIONS, seq_len=8, batch_size=4, target="all", shuffle=False)
    x, y = epoch(ds)
    assert x.shape == (6, 8) and y.shape == (6, 8)  # starts 0, 8, ..., 40 (41 + 8 <= 50)
    assert x.dtype == np.int32 and y.dtype == np.int32
    np.testing.assert_array_equal(x[:, 0], np.arange(0, 48, 8))
    np.testing.assert_array_equal(y, x + 1)
    assert len(list(ds)) == steps_per_epoch(50, 8, 4, target="all") == 2
    ids_x, ids_y = epoch(training_dataset(IDS, 8, 4, target="all", shuffle=False))
    np.testing.assert_array_equal(ids_x, IDS[x])
    np.testing.assert_array_equal(ids_y, IDS[y])


def test_target_last_is_the_seed_recipe() -> None:
    ds = training_dataset(POSITIONS, seq_len=10, batch_size=8, target="last", shuffle=False)
    x, y = epoch(ds)
    assert x.shape == (num_windows(50, 10, 3, "last"), 10) and y.shape == (len(x),)
    np.testing.assert_array_equal(x[:, 0], np.arange(0, 40, 3))  # step 3, as in the seed
    np.testing.assert_array_equal(y, x[:, -1] + 1)
    batches = [len(b[0]) for b in ds]
    assert batches == [8, 6]  # 14 windows; the short last batch is kept


def test_shuffle_is_reproducible_and_reshuffles_each_epoch() -> None:
    def first_columns(seed: int, epochs: int, first_epoch: int = 0) -> list[list[int]]:
        ds = training_dataset(POSITIONS, 2, 100, step=1, target="all", shuffle=True, seed=seed,
                              epochs=epochs, first_epoch=first_epoch)
        return [x.numpy()[:, 0].tolist() for x, _ in ds]

    one, again, other = first_columns(1, 2), first_columns(1, 2), first_columns(2, 2)
    assert one == again and one != other
    assert one[0] != one[1]  # a new order each epoch
    assert sorted(one[0]) == sorted(one[1]) == list(range(48))  # still every window once
    assert first_columns(1, 2, first_epoch=1) == one[1:]  # a resumed run sees the same epoch


def test_training_dataset_rejects_short_text_and_bad_arguments() -> None:
    with pytest.raises(ValueError, match="too short"):
        training_dataset(POSITIONS[:5], seq_len=5, batch_size=2)
    with pytest.raises(ValueError, match="target"):
        training_dataset(POSITIONS, seq_len=5, batch_size=2, target="middle")  # type: ignore
    with pytest.raises(ValueError, match="1-D integer"):
        training_dataset(np.zeros((3, 3), np.int32), seq_len=2, batch_size=2)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 80), st.integers(1, 12), st.integers(1, 12))
def test_scoring_covers_each_held_out_char_once_with_context(
    n_held: int, context: int, stride: int
) -> None:
    total = context + n_held
    x, y, mask = scoring_windows(np.arange(total), context, stride)
    assert x.shape == y.shape == mask.shape == (-(-n_held // stride), context + stride - 1)
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    scored = []
    for k, t in zip(*np.nonzero(mask), strict=True):
        target = int(y[k, t])  # ids are positions, so the target id is its index in the text
        assert target == k * stride + t + 1
        before = x[k, : t + 1]  # what the model has read when it predicts the target
        np.testing.assert_array_equal(before, np.arange(target - t - 1, target))
        assert len(before) >= context
        scored.append(target)
    assert sorted(scored) == list(range(context, total))  # every held-out char exactly once


def test_scoring_dataset_batches_in_text_order() -> None:
    ids = with_context(POSITIONS[:30], POSITIONS[30:], context=6)
    np.testing.assert_array_equal(ids, POSITIONS[24:])
    x, y, mask = scoring_windows(ids, 6, 5)
    batches = list(scoring_dataset(ids, 6, 5, batch_size=3))
    assert [len(b[0]) for b in batches] == [3, 1]
    for got, want in zip(zip(*batches, strict=True), (x, y, mask), strict=True):
        np.testing.assert_array_equal(np.concatenate([g.numpy() for g in got]), want)
    assert mask.sum() == 20 and mask.dtype == np.float32


def test_scoring_rejects_nothing_to_score() -> None:
    with pytest.raises(ValueError, match="nothing to score"):
        scoring_windows(POSITIONS[:4], context=4, stride=2)
    with pytest.raises(ValueError, match="context"):
        with_context(POSITIONS[:3], POSITIONS[3:], context=5)
