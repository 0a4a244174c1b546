"""Fixed-shape per-row history for stateful stages: a window of the last n drawn ids, newest
first, and for every shift k the length of the text's longest suffix that also ends k places
earlier (what DRY and no-repeat n-gram both ask).

A window is a ``[batch, n]`` int32 tensor, ``window[:, j]`` the id drawn ``j`` steps ago and -1
where nothing was drawn yet; pushing shifts it right by one. ``matches[:, k - 1]`` is the number
of leading ``j`` with ``window[:, j] == window[:, j + k]`` (both inside the window): after a new
id ``x`` it becomes ``matches + 1`` where ``x`` equals the id ``k - 1`` places back, else 0, so one
step costs O(n) instead of the O(n^2) of recomputing it.
"""

from __future__ import annotations

from typing import Any

from textgen.samplers.ops import ops

EMPTY = -1


def empty_window(batch_size: Any, size: int) -> Any:
    """``[batch, size]`` int32, all -1: nothing drawn yet."""
    return ops.full((batch_size, size), EMPTY, dtype="int32")


def push(window: Any, token: Any) -> Any:
    """The window after drawing ``token`` (``[batch]`` ids): newest first, oldest dropped."""
    token = ops.cast(token, "int32")[:, None]
    return ops.concatenate([token, window[:, :-1]], axis=-1)


def push_with_matches(window: Any, matches: Any, token: Any) -> tuple[Any, Any]:
    """Push ``token`` and update the suffix-match lengths; both stay ``[batch, n]``.

    A length can only outgrow the window once it is full (before, ``L_k <= drawn - k`` holds
    by itself), so capping at ``n - k`` is exact.
    """
    same = window == ops.cast(token, "int32")[:, None]  # x against the id k - 1 places back
    matches = ops.where(same, matches + 1, ops.zeros_like(matches))
    size = int(window.shape[-1])
    room = ops.arange(size - 1, -1, -1, dtype="int32")[None, :]  # n - k for k = 1..n
    return push(window, token), ops.minimum(matches, room)


def max_per_symbol(values: Any, ids: Any, vocab_size: int) -> Any:
    """``[batch, vocab]`` int32: for each symbol, the largest of ``values`` (``[batch, n]``,
    >= -1) at the places where ``ids`` holds it; -1 for symbols that do not occur.

    The scatter costs about as much as the rest of a decoding step for n = 1024, and most steps
    have nothing to scatter (no repeat long enough), so it runs only when some value is >= 0.
    """
    import tensorflow as tf

    batch = tf.shape(ids)[0]
    base = tf.fill(tf.stack([batch, vocab_size]), tf.constant(-1, tf.int32))

    def scatter() -> Any:
        rows = tf.broadcast_to(tf.range(batch)[:, None], tf.shape(ids))
        present = ids >= 0
        index = tf.stack([rows, tf.where(present, ids, 0)], axis=-1)
        updates = tf.where(present, tf.cast(values, tf.int32), -1)
        return tf.tensor_scatter_nd_max(base, tf.reshape(index, [-1, 2]),
                                        tf.reshape(updates, [-1]))

    return tf.cond(tf.reduce_any(values >= 0), scatter, lambda: base)


def ban(logits: Any, banned: Any) -> Any:
    """``-inf`` where ``banned``, except that a row never loses its last finite logit: if every
    finite one is banned, the most likely stays (the sources leave such a row empty, and torch
    then raises; a stage here cannot raise per row inside the compiled loop)."""
    keep = ~banned
    left = ops.any(keep & (logits > float("-inf")), axis=-1, keepdims=True)
    ids = ops.arange(int(logits.shape[-1]))[None, :]
    top = ops.max(logits, axis=-1, keepdims=True)  # the first largest (argmax may skip a -0.0)
    best = ids == ops.min(ops.where(logits == top, ids, int(logits.shape[-1])), axis=-1,
                          keepdims=True)
    return ops.where(keep | (~left & best), logits, ops.full_like(logits, float("-inf")))
