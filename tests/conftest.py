"""Shared test settings: quiet TensorFlow, one thread each for BLAS and TF on small CI machines."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
_SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "corpora")
if os.path.isdir(_SHARED):  # a workplace's corpus folder beside the checkout, if there is one
    os.environ.setdefault("TEXTGEN_DATA_DIR", os.path.normpath(_SHARED))

# Third-party plugin autoloading off: only the distributions bundled under plugins/ load, so
# whatever else is installed cannot change the results. Tests that install a plugin of their
# own add it with allow_plugins().
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _bundled_plugins() -> list[str]:
    import glob

    import tomllib

    names = []
    for path in sorted(glob.glob(os.path.join(_ROOT, "plugins", "*", "pyproject.toml"))):
        with open(path, "rb") as f:
            names.append(tomllib.load(f)["project"]["name"])
    return names


BUNDLED_PLUGINS = _bundled_plugins()
os.environ["TEXTGEN_LOAD_PLUGINS"] = ",".join(BUNDLED_PLUGINS)
os.environ.pop("TEXTGEN_STRICT_PLUGINS", None)


import pytest  # noqa: E402

SMOKE_SPEC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "experiments", "smoke.yaml")


@pytest.fixture
def allow_plugins(monkeypatch):
    """``allow_plugins("dist-a", ...)``: let these distributions load too, for this test."""

    def allow(*dists: str) -> None:
        current = os.environ.get("TEXTGEN_LOAD_PLUGINS", "")
        monkeypatch.setenv("TEXTGEN_LOAD_PLUGINS", ",".join([current, *dists]).strip(","))

    return allow


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


@pytest.fixture(scope="session")
def tiny_server(tiny_run):
    """`textgen serve` on the tiny run, started once for the test_serve_* files, so that they
    share its compiled programs."""
    from textgen.serve.loadgen import serving

    with serving(tiny_run) as server:
        yield server
