"""Corpus manifests: one small YAML file per corpus saying where it comes from and how to read it.

Manifests live in ``<repo>/corpora`` (override with ``$TEXTGEN_CORPORA_DIR``); the text files
themselves are found by :func:`textgen.corpus.resolve.resolve_corpus`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError, field_validator

from textgen.errors import CorpusError

MANIFEST_SUFFIXES = (".yaml", ".yml")


class Preprocess(BaseModel):
    """How the raw text is normalised before the vocabulary is built."""

    model_config = ConfigDict(extra="forbid")

    lowercase: bool = False
    fold_newlines: bool = False


class Manifest(BaseModel):
    """One corpus: its file name, optional download url and sha256, provenance and preprocessing."""

    model_config = ConfigDict(extra="forbid")

    name: str
    filename: str
    url: str | None = None
    sha256: str | None = None
    source: str = ""
    licence: str = ""
    preprocess: Preprocess = Preprocess()

    _directory: Path | None = PrivateAttr(default=None)

    @field_validator("filename")
    @classmethod
    def _plain_filename(cls, value: str) -> str:
        if not value or Path(value).name != value or value in (".", ".."):
            raise ValueError(f"filename must be a bare file name without folders, got {value!r}")
        return value

    @field_validator("sha256")
    @classmethod
    def _hex_digest(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", value):
            raise ValueError(f"sha256 must be 64 hexadecimal digits, got {value!r}")
        return value

    @property
    def directory(self) -> Path | None:
        """The folder the manifest was loaded from (``None`` for one built in code)."""
        return self._directory


def corpora_dir() -> Path:
    """Where manifests live: ``$TEXTGEN_CORPORA_DIR`` or the repository's ``corpora/`` folder."""
    override = os.environ.get("TEXTGEN_CORPORA_DIR")
    if override:
        return Path(override).expanduser()
    return Path(__file__).resolve().parents[2] / "corpora"


def _manifest_file(name_or_path: str | os.PathLike[str]) -> Path:
    """A manifest name (``nietzsche``) or a path to a YAML file -> the file to read."""
    text = os.fspath(name_or_path)
    candidate = Path(text).expanduser()
    looks_like_path = candidate.suffix in MANIFEST_SUFFIXES or os.sep in text or "/" in text
    if looks_like_path:
        if not candidate.is_file():
            raise CorpusError(f"Corpus manifest file {candidate} does not exist.")
        return candidate
    folder = corpora_dir()
    for suffix in MANIFEST_SUFFIXES:
        if (folder / f"{text}{suffix}").is_file():
            return folder / f"{text}{suffix}"
    known = ", ".join(_manifest_names(folder)) or "none"
    raise CorpusError(
        f"No corpus manifest named {text!r} in {folder} (known corpora: {known}). "
        f"Add {folder / (text + '.yaml')}, point TEXTGEN_CORPORA_DIR at the folder holding it, "
        "or give the corpus file's path instead of a name."
    )


def load_manifest(name_or_path: str | os.PathLike[str]) -> Manifest:
    """Load and validate a manifest by name (looked up in :func:`corpora_dir`) or by file path."""
    path = _manifest_file(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise CorpusError(f"Corpus manifest {path} is not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise CorpusError(f"Corpus manifest {path} must be a YAML mapping of fields.")
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in err.errors()
        )
        raise CorpusError(f"Corpus manifest {path} is invalid: {problems}.") from None
    manifest._directory = path.resolve().parent
    return manifest


def _manifest_names(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted({p.stem for p in folder.iterdir() if p.suffix in MANIFEST_SUFFIXES})


def list_manifests() -> list[Manifest]:
    """Every manifest in :func:`corpora_dir`, sorted by file name."""
    folder = corpora_dir()
    if not folder.is_dir():
        return []
    files = sorted(p for p in folder.iterdir() if p.suffix in MANIFEST_SUFFIXES and p.is_file())
    return [load_manifest(p) for p in files]
