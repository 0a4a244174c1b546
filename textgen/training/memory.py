"""Will this model train here? A rough estimate of its memory, checked before it is built.

Building a model far too large for the machine ends in a TensorFlow ResourceExhaustedError
(or the kernel's OOM killer) after a long wait; the estimate refuses it up front instead, naming
the spec field that makes it large. It counts float32 weights with their gradients and Adam's
two moments, and the activations a training step keeps for the backward pass. Backbones it
does not know are not estimated (a plugin may define ``estimate_parameters(params, inputs,
vocab_size)`` on its backbone class).
"""

from __future__ import annotations

import os
from typing import Any

from textgen.errors import LimitError
from textgen.spec.schema import Spec

BYTES = 4                # float32
COPIES = 4               # weights, gradients, Adam's first and second moments
ACTIVATION_COPIES = 12   # per unit and time step: gates, states and their gradients


def available_bytes() -> int | None:
    """Memory a new allocation can have now: ``MemAvailable``, else physical pages."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _known(kind: str, p: dict[str, Any], inputs: int, vocab: int) -> tuple[int, int, str] | None:
    """(parameters, width per step, the field that sets the width) for the built-in backbones."""
    if kind == "lstm":
        units, layers = int(p.get("units", 128)), int(p.get("layers", 1))
        params = sum(4 * units * ((inputs if i == 0 else units) + units + 1)
                     for i in range(layers)) + vocab * (units + 1)
        return params, units * layers, "backbone.units"
    if kind == "conv":
        filters, k = int(p.get("filters", 128)), int(p.get("kernel_size", 2))
        blocks = len(p.get("dilations") or [1, 2, 4, 8, 16, 32]) * int(p.get("repeats", 1))
        gates = 2 if p.get("activation") == "gated" else 1
        params = (blocks * (k * filters * filters * gates + filters * filters)
                  + inputs * filters + vocab * (filters + 1))
        return params, filters * blocks * (gates + 2), "backbone.filters"
    return None


def estimate(spec: Spec, vocab_size: int) -> tuple[int, int, str] | None:
    """(bytes to train, parameters, the field that drives them), or None if not estimated."""
    inputs = spec.backbone.embedding_dim or vocab_size
    params = dict(spec.backbone.params)
    from textgen.plugins import registry

    custom = getattr(registry().backbone(spec.backbone.type), "estimate_parameters", None)
    if custom is not None:
        count = int(custom(params, inputs, vocab_size))
        known: tuple[int, int, str] | None = (count, 0, f"backbone ({spec.backbone.type})")
    else:
        known = _known(spec.backbone.type, params, inputs, vocab_size)
    if known is None:
        return None
    count, width, field = known
    count += vocab_size * inputs if spec.backbone.embedding_dim else 0
    t = spec.training
    steps = t.batch_size * t.seq_len
    activations = steps * (width * ACTIVATION_COPIES + 3 * vocab_size + inputs) * BYTES
    return count * COPIES * BYTES + activations, count, field


def check_fits(spec: Spec, vocab_size: int, available: int | None = None) -> None:
    """Raise a LimitError naming the field to lower when training cannot fit in memory."""
    found = estimate(spec, vocab_size)
    available = available_bytes() if available is None else available
    if found is None or available is None:
        return
    need, count, field = found
    if need <= available:
        return
    value = field.split(".")[-1]
    shown = spec.backbone.params.get(value, "?") if field.startswith("backbone.") else "?"
    raise LimitError(
        f"{field}: {shown} makes a model of about {count:,} parameters that needs an estimated "
        f"{need / 2**30:,.1f} GiB to train (weights, gradients, optimizer state and "
        f"activations of training.batch_size {spec.training.batch_size} x training.seq_len "
        f"{spec.training.seq_len}), but this machine has {available / 2**30:,.1f} GiB "
        f"available. Lower {field}, training.batch_size or training.seq_len.")
