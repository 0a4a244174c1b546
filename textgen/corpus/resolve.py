"""Find a corpus file on disk (or download it once) and read it as clean text.

Lookup order for a manifest name: next to the manifest, ``$TEXTGEN_DATA_DIR``, the user cache
(``$XDG_CACHE_HOME/textgen`` or ``~/.cache/textgen``), then the manifest's url into the user
cache. The download is announced (what, from where, how big) with a progress bar, gives up when
the server stays silent for ``$TEXTGEN_DOWNLOAD_TIMEOUT`` seconds (15 by default), and is
checked against the manifest's sha256 before it takes the file's place.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from textgen.corpus.manifest import Manifest, load_manifest
from textgen.errors import CorpusError

DEFAULT_TIMEOUT = 15.0  # seconds without a byte before a download gives up
FIX_HINT = (
    "To fix it, put the file in one of those places, set TEXTGEN_DATA_DIR to the folder that "
    "holds it, or give the corpus file's path explicitly instead of a name."
)


def cache_dir() -> Path:
    """Download cache: ``$XDG_CACHE_HOME/textgen``, else ``~/.cache/textgen``."""
    base = os.environ.get("XDG_CACHE_HOME")
    root = Path(base).expanduser() if base else Path.home() / ".cache"
    return root / "textgen"


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, sha256: str | None) -> Path:
    """Return ``path`` if its sha256 matches (or none is expected), else raise CorpusError."""
    if sha256 is None:
        return path
    actual = sha256_of(path)
    if actual != sha256.lower():
        raise CorpusError(
            f"Corpus file {path} has the wrong sha256: expected {sha256.lower()}, got {actual}. "
            "The copy is corrupt or a different text; delete or replace it, or remove the "
            "sha256 from the manifest if the change is intended."
        )
    return path


def candidates(manifest: Manifest) -> list[tuple[str, Path]]:
    """Every place a manifest's file may sit locally, in lookup order, labelled for messages."""
    name = manifest.filename
    places: list[tuple[str, Path]] = []
    if manifest.directory is not None:
        places.append(("next to the manifest", manifest.directory / name))
    data_dir = os.environ.get("TEXTGEN_DATA_DIR")
    if data_dir:
        places.append(("$TEXTGEN_DATA_DIR", Path(data_dir).expanduser() / name))
    places.append(("user cache", cache_dir() / name))
    unique: dict[Path, tuple[str, Path]] = {}
    for label, path in places:
        unique.setdefault(path.resolve(), (label, path))
    return list(unique.values())


def resolve_corpus(name: str | None = None, path: str | os.PathLike[str] | None = None) -> Path:
    """The corpus file to read: an explicit ``path`` as given, else the named manifest's file."""
    if path is not None:
        explicit = Path(path).expanduser()
        if not explicit.is_file():
            what = "is a folder, not a file" if explicit.is_dir() else "does not exist"
            raise CorpusError(f"Corpus path {explicit} {what}. Give the path of a UTF-8 text file.")
        return explicit.resolve()
    if name is None:
        raise CorpusError("No corpus given: name a corpus manifest (e.g. 'tiny') or give a path.")
    manifest = load_manifest(name)
    places = candidates(manifest)
    for _, place in places:
        if place.is_file():
            return verify(place.resolve(), manifest.sha256)
    tried = "; ".join(f"{place} ({label})" for label, place in places)
    if not os.environ.get("TEXTGEN_DATA_DIR"):
        tried += " (TEXTGEN_DATA_DIR is not set)"
    looked = f"Corpus {manifest.name!r} needs the file {manifest.filename}; looked in: {tried}."
    if manifest.url is None:
        raise CorpusError(f"{looked} The manifest has no download url. {FIX_HINT}")
    return download(manifest, looked)


def download_timeout() -> float:
    """``$TEXTGEN_DOWNLOAD_TIMEOUT`` seconds (connect, and each read), else ``DEFAULT_TIMEOUT``."""
    value = os.environ.get("TEXTGEN_DOWNLOAD_TIMEOUT", "")
    try:
        seconds = float(value) if value.strip() else DEFAULT_TIMEOUT
    except ValueError:
        raise CorpusError(f"TEXTGEN_DOWNLOAD_TIMEOUT={value!r} is not a number of seconds"
                          ) from None
    if not seconds > 0:
        raise CorpusError(f"TEXTGEN_DOWNLOAD_TIMEOUT must be positive, got {value!r}")
    return seconds


def download(manifest: Manifest, looked: str = "") -> Path:
    """Fetch a manifest's url into the user cache, announced and with a progress bar on
    stderr; the file takes its place only once complete and (when known) its sha256 matches."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    url = str(manifest.url)
    target = cache_dir()
    timeout = download_timeout()
    console = Console(stderr=True)
    final = target / manifest.filename
    tmp: Path | None = None
    try:
        target.mkdir(parents=True, exist_ok=True)
        console.print(f"Corpus {manifest.name!r} is not on this machine: downloading {url} "
                      f"into {final}", highlight=False)
        with urllib.request.urlopen(url, timeout=timeout) as response:
            size = int(response.headers.get("Content-Length") or 0) or None
            console.print(f"({f'{size / 2**20:.1f} MiB' if size else 'size unknown'}; gives up "
                          f"after {timeout:g} s of silence: TEXTGEN_DOWNLOAD_TIMEOUT)",
                          highlight=False)
            fd, name = tempfile.mkstemp(dir=target, prefix=f".{manifest.filename}-")
            tmp = Path(name)
            columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                       TransferSpeedColumn(), TimeRemainingColumn())
            with os.fdopen(fd, "wb") as out, Progress(*columns, console=console,
                                                      transient=True) as progress:
                task = progress.add_task(manifest.filename, total=size)
                for chunk in iter(lambda: response.read(1 << 16), b""):
                    out.write(chunk)
                    progress.advance(task, len(chunk))
        verify(tmp, manifest.sha256)
        os.replace(tmp, final)
        tmp = None
    except CorpusError:
        raise
    except TimeoutError as err:
        raise CorpusError(
            f"{looked} Downloading {url} into {target} failed: the server sent nothing for "
            f"{timeout:g} s ({err or 'timed out'}); set TEXTGEN_DOWNLOAD_TIMEOUT to wait "
            f"longer. {FIX_HINT}") from None
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", None) or str(err).strip() or type(err).__name__
        if isinstance(reason, TimeoutError):
            reason = f"the server sent nothing for {timeout:g} s (TEXTGEN_DOWNLOAD_TIMEOUT)"
        raise CorpusError(
            f"{looked} Downloading {url} into {target} failed: {reason}. {FIX_HINT}"
        ) from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return final.resolve()


def read_text(path: str | os.PathLike[str], lowercase: bool = False,
              fold_newlines: bool = False) -> str:
    """Read a corpus as strict UTF-8 (a leading BOM dropped, CRLF/CR made ``\\n``), then normalise.

    ``fold_newlines`` joins the lines of each paragraph with a space and keeps each paragraph
    break (one or more blank lines) as a single ``\\n``.
    """
    path = Path(path)
    data = path.read_bytes()
    if not data:
        raise CorpusError(f"Corpus file {path} is empty; a corpus needs some text to learn from.")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise CorpusError(
            f"Corpus file {path} looks binary (NUL byte at byte offset {nul}); "
            "give a UTF-8 text file."
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise CorpusError(
            f"Corpus file {path} is not valid UTF-8 (byte offset {err.start}: {err.reason}); "
            "convert it to UTF-8, e.g. `iconv -f latin1 -t utf-8`."
        ) from None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if fold_newlines:
        paragraphs = re.split(r"\n[ \t]*(?:\n[ \t]*)+", text)
        text = "\n".join(re.sub(r"[ \t]*\n[ \t]*", " ", p) for p in paragraphs)
    if lowercase:
        text = text.lower()
    if not text.strip():
        raise CorpusError(f"Corpus file {path} holds only whitespace; it needs some text.")
    return text


def corpus_files(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The files a list of corpus paths names, in order: a folder stands for every file under
    it (sorted, hidden ones skipped). A missing path, or a folder with no files, is an error."""
    files: list[Path] = []
    for given in paths:
        path = Path(given).expanduser()
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file() and not any(
                part.startswith(".") for part in p.relative_to(path).parts))
            if not inside:
                raise CorpusError(f"Corpus folder {path} holds no files; give text files.")
            files += inside
        else:
            files.append(resolve_corpus(path=path))
    return files


def load_text(name: str | None = None,
              path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
              lowercase: bool | None = None, fold_newlines: bool | None = None) -> str:
    """Resolve and read a corpus; preprocessing defaults to the manifest's when a name is given.

    ``path`` may list several files and folders: their texts are read one by one (each must be
    UTF-8 text) and joined in order, each ending with a newline.
    """
    preprocess = load_manifest(name).preprocess if name is not None else None
    if lowercase is None:
        lowercase = preprocess.lowercase if preprocess else False
    if fold_newlines is None:
        fold_newlines = preprocess.fold_newlines if preprocess else False
    if isinstance(path, list | tuple):
        texts = [read_text(f, lowercase=lowercase, fold_newlines=fold_newlines)
                 for f in corpus_files(path)]
        return "".join(t if t.endswith("\n") else t + "\n" for t in texts)
    one = cast("str | os.PathLike[str] | None", path)  # a str is a Sequence too
    return read_text(resolve_corpus(name, one), lowercase=lowercase, fold_newlines=fold_newlines)
