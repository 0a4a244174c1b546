"""The layout is the architecture: each module of textgen/ imports only from its own layer or
the layers below it, so data flows one way and nothing depends on the command line.

    edge     cli, serve                      (talk to people and other programs)
    top      experiment, compare, api        (run the pipeline)
    middle   training, generation, report    (side by side)
    bottom   corpus, backbones, samplers, model, metrics, baselines, rundir
    base     errors, records

The spec and the plugin manager (spec, plugins, hookspecs, builtins) sit beside the stack:
every layer reads them, and they reach down to the middle at most (to register what they
name), never up to the top or the edge.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "textgen"
RANK = {
    "errors": 0, "records": 0,
    "corpus": 1, "backbones": 1, "samplers": 1, "model": 1, "metrics": 1, "baselines": 1,
    "rundir": 1,
    "training": 2, "generation": 2, "report": 2,
    "experiment": 3, "compare": 3, "api": 3, "testing": 3,
    "cli": 4, "serve": 4,
}
BESIDE = {"spec", "plugins", "hookspecs", "builtins"}
BESIDE_REACH = 2  # the highest layer the spec and plugin code may import


def top_level(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def imported(path: Path) -> set[str]:
    """The textgen top-level modules ``path`` imports (at module level or inside functions)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            if node.module == "textgen":
                names |= {f"textgen.{a.name}" for a in node.names}
    return {n.split(".")[1] for n in names if n.startswith("textgen.")}


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


def test_every_module_has_a_place_in_the_layers():
    placed = set(RANK) | BESIDE
    unplaced = {top_level(p) for p in MODULES} - placed
    assert not unplaced, f"give these a layer in tests/test_layers.py: {sorted(unplaced)}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_from_a_layer_above_it(path):
    own = top_level(path)
    reach = BESIDE_REACH if own in BESIDE else RANK.get(own, -1)
    above = sorted(t for t in imported(path) - {own} if RANK.get(t, -1) > reach)
    assert not above, f"{path.relative_to(PACKAGE)} imports {above}, a layer above its own"


def test_the_checker_sees_function_level_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from textgen.cli import cli\n    import textgen.report.x\n")
    assert imported(module) == {"cli", "report"}
