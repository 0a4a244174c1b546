"""Shared test settings: quiet TensorFlow, one thread each for BLAS and TF on small CI machines."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
_SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "corpora")
if os.path.isdir(_SHARED):  # a workplace's corpus folder beside the checkout, if there is one
    os.environ.setdefault("TEXTGEN_DATA_DIR", os.path.normpath(_SHARED))


import pytest  # noqa: E402

SMOKE_SPEC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "experiments", "smoke.yaml")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A one-epoch smoke run, trained once per session, for tests that only need a model."""
    from click.testing import CliRunner

    from textgen.cli import cli

    out = tmp_path_factory.mktemp("tiny_run") / "run"
    result = CliRunner().invoke(cli, ["run", SMOKE_SPEC, "--output-dir", str(out),
                                      "--set", "training.epochs=1"])
    assert result.exit_code == 0, result.output
    return out
