"""Every reference on one split: the Kneser-Ney n-gram and the compressors, side by side.

Both score exactly the characters a run's ``val_bpc`` scores: the held-out text with the
characters the training text lacks left out (a model cannot predict those either), the n-gram
with the last ``context`` training characters as its lead-in.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from textgen.baselines import compressors
from textgen.baselines.ngram import KneserNey, score_orders

ORDERS = range(2, 11)  # the n-gram orders tried on the training text's own last 10%


@dataclass
class Reference:
    """One row of the comparison: a name, its held-out bpc (None: not available), its cost."""

    name: str
    bpc: float | None
    seconds: float
    kind: str                 # "static" (fixed after training) or "adapts" (learns as it reads)
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def kneser_ney(train_text: str, held_out: str, context: int,
               orders: range = ORDERS) -> Reference:
    """The n-gram of the order that scores best on the training text's last 10%."""
    start = time.perf_counter()
    tuned = score_orders(train_text, orders)
    order = min(tuned, key=tuned.__getitem__)
    model = KneserNey.fit(train_text, order)
    bpc = model.bpc(held_out, train_text[len(train_text) - context:])
    return Reference(f"Kneser-Ney character {order}-gram", bpc, time.perf_counter() - start,
                     "static", f"order tuned on training text ({orders.start}-{orders.stop - 1})")


def all_references(train_text: str, held_out: str, context: int) -> list[Reference]:
    """The n-gram and every compressor (a missing one with ``bpc=None`` and why)."""
    rows = [kneser_ney(train_text, held_out, context)]
    for c in compressors.score_all(train_text, held_out):
        rows.append(Reference(c.name, c.bpc, c.seconds, "adapts", c.note))
    return rows
