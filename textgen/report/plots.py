"""The run's figure: entropy, diversity, realism, the judge, copying and self-BLEU against
temperature (``entropy_report.png``), with the held-out text as a dashed level line.

Temperature settings make the lines; greedy (the T -> 0 limit) is a square at T = 0,
multinomial a diamond at T = 1, and uniform (the T -> inf limit) a dotted level line. Other
settings (chains, truncation, plugins) are left out. Each setting is placed by its recorded
chain config (``sampler_config``), not by its label. Drawn from metrics.json alone, with
matplotlib's Agg canvas, imported only when a figure is drawn.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from textgen import rundir
from textgen.records import RunMetrics, SettingSummary, StageConfig

PLOT = "entropy_report.png"
LIMITS = {"greedy": 0.0, "multinomial": 1.0, "uniform": math.inf}
# (panel title, [(metric key, legend name)], y range or None)
PANELS = [
    ("Entropy (bits/char)", [("sampling_entropy", "sampling H"), ("model_entropy", "model H")],
     None),
    ("Distinct word bigrams (share)", [("distinct_word_2", "distinct word-2")], (-0.03, 1.05)),
    ("Real words (share)", [("real_word_share", "real words")], (-0.03, 1.05)),
    ("Judge: Kneser-Ney bits/char", [("judge_bpc", "judge bpc")], None),
    ("Copied 16-char windows (share)", [("copy_rate", "copy rate")], None),
    ("Self-BLEU within a setting", [("self_bleu", "self-BLEU")], (-0.03, 1.05)),
]
COLUMNS = 3


def classify(config: list[StageConfig] | None) -> tuple[str, float] | None:
    """A chain's place on the temperature axis: ``("temperature", T)``, ``("greedy", 0)``,
    ``("multinomial", 1)``, ``("uniform", inf)``; None for anything else (several stages,
    other samplers, or a file from before chain configs were recorded)."""
    if not config or len(config) != 1 or len(config[0]) != 1:
        return None
    (name, params), = config[0].items()
    if name in LIMITS:
        return name, LIMITS[name]
    value: Any = (params or {}).get("temperature")
    if name == "temperature" and isinstance(value, int | float):
        return "temperature", float(value)
    return None


def _interval(setting: SettingSummary, key: str) -> tuple[float, float, float]:
    values = setting.metrics.get(key) or [None] * 3
    mean, low, high = (math.nan if v is None else float(v) for v in values)
    return mean, low, high


def plottable(settings: list[SettingSummary]) -> list[tuple[str, float, SettingSummary]]:
    """``(kind, T, setting)`` for every setting the figure can place, by temperature."""
    placed = [(*kind, s) for s in settings if (kind := classify(s.sampler_config)) is not None]
    return sorted(placed, key=lambda p: (p[1], p[0]))


def _panel(ax, points: list[tuple[str, float, SettingSummary]], key: str, colour: str,
           name: str) -> None:
    temps = [(t, _interval(s, key)) for kind, t, s in points if kind == "temperature"]
    if temps:
        xs = [t for t, _ in temps]
        means = [m for _, (m, _, _) in temps]
        err = [[max(m - lo, 0) if lo == lo else 0 for _, (m, lo, _) in temps],
               [max(hi - m, 0) if hi == hi else 0 for _, (m, _, hi) in temps]]
        ax.errorbar(xs, means, yerr=err, color=colour, marker="o", ms=4, capsize=3,
                    label=f"{name}, temperature")
    for kind, _, s in points:
        mean, _, _ = _interval(s, key)
        if kind == "greedy":
            ax.plot([0.0], [mean], "s", color=colour, mec="black", ms=8)
        elif kind == "multinomial":
            ax.plot([1.0], [mean], "D", color=colour, mec="black", ms=8)
        elif kind == "uniform" and not math.isnan(mean):
            ax.axhline(mean, color=colour, ls=":", lw=1.5)


def draw(settings: list[SettingSummary], title: str = "",
         reference: SettingSummary | None = None):
    """The figure (a matplotlib ``Figure``), or None when no setting can be placed;
    ``reference`` (the held-out text) is a dashed grey level line in every panel."""
    points = plottable(settings)
    if not points:
        return None
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    rows = -(-len(PANELS) // COLUMNS)
    fig = Figure(figsize=(13, 3.8 * rows + 0.6), dpi=100, layout="constrained")
    axes = fig.subplots(rows, COLUMNS, squeeze=False).ravel()
    finite = [t for _, t, _ in points if math.isfinite(t)]
    right = max([*finite, 1.0]) * 1.08 + 0.05
    colours = iter(f"C{i}" for i in range(10))
    for ax, (panel_title, series, ylim) in zip(axes, PANELS, strict=True):
        for key, name in series:
            _panel(ax, points, key, next(colours), name)
            level = _interval(reference, key)[0] if reference is not None else math.nan
            if not math.isnan(level):
                ax.axhline(level, color="grey", ls="--", lw=1.2)
        ax.set(title=panel_title, xlabel="temperature", xlim=(-0.05, right))
        if ylim:
            ax.set_ylim(*ylim)
        ax.grid(alpha=0.3)
        if len(series) > 1 and ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="best")
    marks = [Line2D([], [], ls="", marker="s", color="grey", mec="black", label="greedy (T=0)"),
             Line2D([], [], ls="", marker="D", color="grey", mec="black",
                    label="multinomial (T=1)"),
             Line2D([], [], ls=":", color="grey", label="uniform (T→∞)"),
             Line2D([], [], marker="o", color="grey", label="temperature, mean ±95% CI")]
    if reference is not None:
        marks.append(Line2D([], [], ls="--", color="grey", label="held-out text"))
    fig.legend(handles=marks, loc="outside lower center", ncol=len(marks), fontsize=9,
               frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def write_plot(run_dir: Path, metrics: RunMetrics) -> Path | None:
    """Draw ``entropy_report.png`` into ``run_dir`` (atomically); None when there is no plot."""
    fig = draw(metrics.settings, f"Run {metrics.name}: samplers by temperature",
               metrics.reference)
    path = Path(run_dir) / PLOT
    if fig is None:
        path.unlink(missing_ok=True)  # a figure from an earlier report would be stale
        return None
    rundir.atomic_write(path, lambda tmp: fig.savefig(tmp, format="png",
                                                     metadata={"Software": None}))
    return path
