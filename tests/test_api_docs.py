"""Every ```python block of docs/api.md runs, in order, in one namespace (as a notebook would)."""

import re
from pathlib import Path

from conftest import SMOKE_SPEC

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_every_example_in_the_api_docs_runs(tiny_run, tmp_path, capsys):
    blocks = python_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 7
    namespace = {"run_dir": tiny_run, "spec_path": SMOKE_SPEC, "out_dir": tmp_path}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{DOC.name} python block {i + 1}", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "unknown sampler 'top_z'" in printed and "--set training.epochs=0" in printed
