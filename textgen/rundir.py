"""The run directory: the names of its files, atomic writes (temporary file, then rename), and
reading a run back (its spec, model, vocabulary, metrics and samples), checked.

A crash at any moment leaves each file either complete and old or complete and new.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textgen.errors import RunError
from textgen.records import RunMetrics, Sample

if TYPE_CHECKING:
    import keras

    from textgen.corpus.vocab import CharVocab
    from textgen.spec.schema import Spec

SPEC = "spec.yaml"
MODEL = "model.keras"
VOCAB = "vocab.json"
HISTORY = "history.csv"
METRICS = "metrics.json"
SAMPLES = "samples.jsonl"
REPORT = "report.md"
CHECKPOINT = "checkpoint.keras"   # the training model with its optimizer, for --resume
STATE = "state.json"              # epochs done and elapsed seconds, for --resume


def _file_mode() -> int:
    """The mode ``open()`` would give a new file under the current umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _file_mode()


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, _FILE_MODE)  # mkstemp makes it owner-only; give it a normal file's mode
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: Path, text: str) -> None:
    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    atomic_write(path, write)


def _plain(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(_plain(data), indent=2) + "\n")


def write_jsonl(path: Path, rows: list[dict]) -> None:
    write_text(path, "".join(json.dumps(_plain(row)) + "\n" for row in rows))


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def is_run(path: Path) -> bool:
    """A directory holds a run once its resolved spec is written."""
    return (Path(path) / SPEC).is_file()


def require_run(run_dir: Path) -> None:
    """Raise a ``RunError`` unless ``run_dir`` is a textgen run directory (it has a spec)."""
    if not is_run(run_dir):
        raise RunError(f"{run_dir} is not a textgen run directory (it has no {SPEC}).")


def load_spec(run_dir: Path) -> Spec:
    """The resolved spec saved in a run directory."""
    from textgen import spec as specs

    require_run(run_dir)
    return specs.load(Path(run_dir) / SPEC)


def load_trained(run_dir: Path, vocab: CharVocab | None = None
                 ) -> tuple[Spec, keras.Model, CharVocab]:
    """The spec, model and vocabulary of a finished run, checked against each other.

    With ``vocab``, also check that the run was trained on that vocabulary (to reuse its model
    on a corpus prepared again).
    """
    import keras

    import textgen.model  # noqa: F401  (registers the model's own layers with Keras)
    from textgen.corpus.vocab import CharVocab

    run_dir = Path(run_dir)
    spec = load_spec(run_dir)
    for name in (MODEL, VOCAB):
        if not (run_dir / name).is_file():
            raise RunError(f"{run_dir} has no {name}: its training did not finish. Resume it "
                           f"with `textgen resume {run_dir}`.")
    try:
        saved_vocab = CharVocab.load(run_dir / VOCAB)
    except ValueError as err:  # not JSON, or not a list of single characters
        raise RunError(f"{run_dir / VOCAB} is damaged or not from textgen: {err}") from None
    if vocab is not None and saved_vocab != vocab:
        raise RunError(f"{run_dir} was trained on another vocabulary ({len(saved_vocab)} "
                       f"symbols, this corpus has {len(vocab)}); its model cannot be reused.")
    from textgen.plugins import registry

    registry().backbone(spec.backbone.type)  # backbones register lazily: Keras needs the class
    try:
        model = keras.models.load_model(run_dir / MODEL)
    except Exception as err:  # keras raises several kinds for a damaged archive
        raise RunError(f"{run_dir / MODEL} cannot be loaded as a Keras model ({err}); "
                       "the file is damaged or not from textgen.") from err
    if int(model.output_shape[-1]) != len(saved_vocab):
        raise RunError(f"{run_dir}: the model predicts {model.output_shape[-1]} symbols but "
                       f"{VOCAB} lists {len(saved_vocab)}; they come from different runs.")
    return spec, model, saved_vocab


def write_metrics(run_dir: Path, metrics: RunMetrics) -> None:
    write_json(Path(run_dir) / METRICS, metrics.model_dump(mode="json"))


def load_metrics(run_dir: Path) -> RunMetrics:
    """A finished run's metrics.json; a ``RunError`` if the run has not finished."""
    path = Path(run_dir) / METRICS
    if not path.is_file():
        raise RunError(f"{run_dir} has no {METRICS}: the run has not finished.")
    try:
        return RunMetrics.model_validate(read_json(path))
    except ValueError as err:  # bad JSON or a record that does not validate
        raise RunError(f"{path} is damaged or not from textgen: {err}") from None


def write_samples(run_dir: Path, samples: list[Sample]) -> None:
    write_jsonl(Path(run_dir) / SAMPLES, [s.to_json() for s in samples])


def load_samples(run_dir: Path) -> list[Sample]:
    """The run's samples (none if it wrote none); reads files from before ``sampler_config``."""
    path = Path(run_dir) / SAMPLES
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    return [Sample.from_json(json.loads(line)) for line in lines if line.strip()]
