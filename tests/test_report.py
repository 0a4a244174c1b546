"""Reports: one smoke run, then its tables, report.md, figure, and ``textgen report``."""

import html
import io
import json
import math
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from textgen import rundir
from textgen import spec as specs
from textgen.records import METRICS_VERSION, RunMetrics, Sample, SettingSummary
from textgen.report.columns import cell, corpus_row
from textgen.report.grids import metric_grids
from textgen.report.markdown import render
from textgen.report.plots import PANELS, PLOT, classify, draw, write_plot
from textgen.report.reference import window_char_entropy
from textgen.report.surprise import BANDS, band, legend_html, surprise_html, surprise_text
from textgen.report.tables import print_run

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """The smoke spec run once: (run directory, metrics, what the terminal showed)."""
    from textgen.experiment import run

    spec = specs.load(ROOT / "experiments" / "smoke.yaml")
    out = io.StringIO()
    run_dir = tmp_path_factory.mktemp("smoke") / "run"
    metrics = run(spec, run_dir, Console(file=out, width=120))
    return run_dir, metrics, out.getvalue()


def test_run_writes_report_plot_and_corpus_reference(smoke):
    run_dir, _, shown = smoke
    saved = rundir.read_json(run_dir / rundir.METRICS)
    assert saved["version"] == METRICS_VERSION
    assert set(saved["corpus_char_entropy"]) == {"char_entropy_1", "char_entropy_2",
                                                 "char_entropy_3"}
    windows = saved["corpus_window_char_entropy"]
    assert windows["length"] == 60 and windows["windows"] > 10
    assert all("invented_examples" in s for s in saved["settings"])
    assert [s["sampler_config"] for s in saved["settings"]] == [
        [{"greedy": {}}], [{"temperature": {"temperature": 0.5}}],
        [{"temperature": {"temperature": 1.0}}], [{"uniform": {}}]]
    assert rundir.load_metrics(run_dir) == RunMetrics.model_validate(saved)
    assert (run_dir / PLOT).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (run_dir / rundir.REPORT).read_text()
    assert f"]({PLOT})" in report and "Invented words" in report and "<span" in report
    for title in ("sampling H", "model H", "char H1", "distinct w2", "real words", "excerpt"):
        assert title in shown
    assert "held-out text (" in shown  # the reference row (issue 19) replaced the corpus row


def test_report_command_rerenders_from_saved_files(smoke):
    from textgen.cli import cli

    run_dir, _, _ = smoke
    report, plot = run_dir / rundir.REPORT, run_dir / PLOT
    before_md, before_png = report.read_text(), plot.read_bytes()
    (run_dir / rundir.MODEL).rename(run_dir / "model.moved")  # proves nothing loads the model
    try:
        report.unlink()
        plot.unlink()
        result = CliRunner().invoke(cli, ["report", str(run_dir)])
    finally:
        (run_dir / "model.moved").rename(run_dir / rundir.MODEL)
    assert result.exit_code == 0, result.output
    assert report.read_text() == before_md
    assert plot.read_bytes() == before_png
    assert "sampling H" in result.output


def test_tables_fit_80_columns_without_breaking_a_number(smoke):
    run_dir, _, _ = smoke
    metrics = rundir.load_metrics(run_dir)
    samples = [Sample.from_json(json.loads(line))
               for line in (run_dir / rundir.SAMPLES).read_text().splitlines()]
    out = io.StringIO()
    print_run(Console(file=out, width=80), metrics, samples,
              specs.load(run_dir / rundir.SPEC))
    text = out.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    for grid in metric_grids(metrics):
        for row in grid.rows + grid.reference:
            for value in row:  # every label and "mean ±h" cell sits whole on one line
                assert value in text, value


def test_cell_reads_mean_and_half_width_and_tolerates_missing_values():
    assert cell([1.0, 0.9, 1.1]) == "1.00 ±0.10"
    assert cell([2.0, 2.0, 2.0]) == "2.00"
    assert cell([None, None, None]) == "-" and cell(None) == "-"
    assert cell([math.nan, math.nan, math.nan]) == "-"
    assert cell([3.0, None, None]) == "3.00"


def test_corpus_row_prefers_same_length_windows():
    whole = {"char_entropy_1": 4.0, "char_entropy_2": 7.0, "char_entropy_3": 9.0}
    windows = {"length": 50, "windows": 3, "char_entropy_1": [3.9, 3.8, 4.0],
               "char_entropy_2": [5.0, 5.0, 5.0], "char_entropy_3": [5.5, 5.4, 5.6]}
    label, values = corpus_row(RunMetrics(name="x", corpus_char_entropy=whole,
                                          corpus_window_char_entropy=windows))
    assert "50" in label and values[0] == [3.9, 3.8, 4.0]
    label, values = corpus_row(RunMetrics(name="x", corpus_char_entropy=whole))
    assert label == "corpus (whole)" and values[2] == [9.0] * 3
    assert corpus_row(RunMetrics(name="x")) is None


def test_window_char_entropy():
    assert window_char_entropy("abc", 10) == {}
    out = window_char_entropy("ab" * 100, 10)
    assert out["windows"] == 20 and out["length"] == 10
    assert out["char_entropy_1"] == [1.0, 1.0, 1.0]  # every window: half a, half b
    with pytest.raises(ValueError, match="window length"):
        window_char_entropy("abc", 0)


def test_classify_places_plain_settings_on_the_temperature_axis():
    assert classify([{"greedy": {}}]) == ("greedy", 0.0)
    assert classify([{"multinomial": {}}]) == ("multinomial", 1.0)
    assert classify([{"uniform": {}}]) == ("uniform", math.inf)
    assert classify([{"temperature": {"temperature": 0.5}}]) == ("temperature", 0.5)
    assert classify([{"temperature": {"temperature": 1e-5}}]) == ("temperature", 1e-5)
    assert classify([{"top_k": {"k": 20}}, {"temperature": {"temperature": 0.7}}]) is None
    assert classify([{"top_p": {"p": 0.9}}]) is None
    assert classify(None) is None  # a metrics.json from before chain configs were recorded


def _setting(name: str, params: dict | None = None, value: float = 0.5) -> SettingSummary:
    keys = ("sampling_entropy", "model_entropy", "distinct_word_2", "real_word_share")
    return SettingSummary(sampler=name, sampler_config=[{name: params or {}}], samples=2,
                          metrics={k: [value, value - 0.1, value + 0.1] for k in keys})


def test_plot_leaves_out_other_settings_and_skips_when_none_fit(tmp_path):
    fig = draw([_setting("greedy"), _setting("top_k", {"k": 5}),
                _setting("temperature", {"temperature": 0.7})])
    assert fig is not None and len(fig.axes) == len(PANELS) == 6
    (tmp_path / PLOT).write_bytes(b"stale")
    top_k = RunMetrics(name="x", settings=[_setting("top_k", {"k": 5})])
    assert write_plot(tmp_path, top_k) is None
    assert not (tmp_path / PLOT).exists()  # no stale figure left for report.md to miss
    uniform = RunMetrics(name="x", settings=[_setting("uniform")])
    assert write_plot(tmp_path, uniform) == tmp_path / PLOT


def test_report_without_plot_has_no_image_link(smoke):
    run_dir, metrics, _ = smoke
    spec = specs.load(run_dir / rundir.SPEC)
    assert "![" not in render(metrics, [], spec, plot=None)
    assert f"]({PLOT})" in render(metrics, [], spec, plot=PLOT)


SAMPLE = Sample(text="a<b&c", prompt="p>", token_logprob=[math.log(0.9), math.log(0.3),
                                                          math.log(0.05), math.log(0.001),
                                                          math.log(0.001)])


def test_band_edges():
    assert [band(math.log(p)) for p in (1.0, 0.5, 0.49, 0.1, 0.05, 0.01, 0.009)] == \
        [0, 0, 1, 1, 2, 2, 3]
    assert band(float("-inf")) == 3 and band(None) == 3 and band(math.nan) == 3


def test_surprise_html_escapes_colours_and_keeps_the_text():
    out = surprise_html(SAMPLE)
    plain = html.unescape(re.sub(r"<[^>]+>", "", out))
    assert plain == "p>a<b&c"
    colours = re.findall(r'color:(#[0-9a-f]{6})">([^<]*)<', out)
    assert colours == [("#888888", "p&gt;"), (BANDS[0][2], "a"), (BANDS[1][2], "&lt;"),
                       (BANDS[2][2], "b"), (BANDS[3][2], "&amp;c")]
    legend = legend_html()
    assert all(colour in legend for _, _, colour in BANDS)


def test_surprise_text_styles_each_char_by_band():
    text = surprise_text(SAMPLE)
    assert text.plain == "p>a<b&c"
    styles = {span.start: str(span.style) for span in text.spans}
    assert [styles[i] for i in range(2, 7)] == [BANDS[b][1] for b in (0, 1, 2, 3, 3)]
    out = io.StringIO()
    Console(file=out, force_terminal=True, color_system="truecolor").print(text)
    assert "\x1b[" in out.getvalue()  # colours reach the terminal
