"""``textgen --help``, ``textgen plugins`` and ``textgen validate`` start without TensorFlow:
built-in stages reach Keras lazily and backbones register their Params, not their layers."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted(m for m in ("tensorflow", "keras")
                                                if m in sys.modules)), file=sys.stderr))
sys.argv = ["textgen", *{args!r}]
from textgen.cli import main
main()
"""


@pytest.mark.parametrize("args", [
    ["--help"], ["plugins"], ["plugins", "--json"],
    ["validate", str(ROOT / "experiments" / "smoke.yaml")],
    ["validate", str(ROOT / "experiments" / "plugin_samplers.yaml")],
], ids=" ".join)
def test_commands_that_only_read_do_not_import_tensorflow(args):
    result = subprocess.run([sys.executable, "-c", PROBE.format(args=args)],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stderr.strip().splitlines()[-1]) == []
