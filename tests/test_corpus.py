"""Corpus manifests, file resolution (downloads only from a local server), reading text, and
the vocabulary."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from textgen.corpus import CharVocab, CorpusError, list_manifests, load_manifest, load_text
from textgen.corpus.resolve import read_text, resolve_corpus

REPO = Path(__file__).resolve().parents[1]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """An isolated world: manifests, data dir, XDG cache, HOME, cwd and repo root all under tmp."""
    dirs = {
        "manifests": tmp_path / "manifests",
        "data": tmp_path / "data",
        "xdg": tmp_path / "xdg",
        "home": tmp_path / "home",
        "cwd": tmp_path / "a" / "b",
    }
    for folder in dirs.values():
        folder.mkdir(parents=True)
    monkeypatch.setenv("TEXTGEN_CORPORA_DIR", str(dirs["manifests"]))
    monkeypatch.setenv("TEXTGEN_DATA_DIR", str(dirs["data"]))
    monkeypatch.setenv("XDG_CACHE_HOME", str(dirs["xdg"]))
    monkeypatch.setenv("HOME", str(dirs["home"]))
    monkeypatch.chdir(dirs["cwd"])
    dirs["cache"] = dirs["xdg"] / "textgen"
    dirs["cwd_shared"] = tmp_path / "a" / "shared" / "corpora"
    return dirs


def write_manifest(folder: Path, name: str = "demo", **fields: object) -> Path:
    lines = [f"name: {name}", f"filename: {fields.pop('filename', name + '.txt')}"]
    lines += [f"{key}: {value}" for key, value in fields.items()]
    path = folder / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def put(folder: Path, data: bytes, filename: str = "demo.txt") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / filename).write_bytes(data)
    return folder / filename


# --- the project's own manifests -------------------------------------------------------------


def test_repo_manifests_describe_nietzsche_and_tiny(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEXTGEN_CORPORA_DIR", raising=False)
    by_name = {m.name: m for m in list_manifests()}
    assert {"nietzsche", "tiny"} <= set(by_name)
    nietzsche, tiny = by_name["nietzsche"], by_name["tiny"]
    assert nietzsche.url == "https://s3.amazonaws.com/text-datasets/nietzsche.txt"
    assert nietzsche.preprocess.lowercase and nietzsche.sha256 is not None
    assert tiny.url is None
    assert resolve_corpus("tiny") == (REPO / "corpora" / "tiny.txt").resolve()
    text = load_text("tiny")
    assert 20_000 <= len(text) <= 40_000
    assert text == text.lower() and len(CharVocab.from_text(text)) < 40


def test_nietzsche_manifest_hash_matches_the_shared_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEXTGEN_CORPORA_DIR", raising=False)
    shared = REPO.parent / "shared" / "corpora" / "nietzsche.txt"
    if not shared.is_file():
        pytest.skip("no shared Nietzsche copy on this machine")
    assert sha(shared.read_bytes()) == load_manifest("nietzsche").sha256


# --- manifests -------------------------------------------------------------------------------


def test_unknown_manifest_names_the_known_ones(places: dict[str, Path]) -> None:
    write_manifest(places["manifests"], "alpha")
    with pytest.raises(CorpusError, match=r"'nope'.*alpha"):
        load_manifest("nope")


@pytest.mark.parametrize(
    "extra, problem",
    [
        ({"sha256": "abc"}, "sha256"),
        ({"colour": "red"}, "colour"),
        ({"filename": "x/y.txt"}, "filename"),
    ],
)
def test_invalid_manifest_names_file_and_field(
    places: dict[str, Path], extra: dict[str, str], problem: str
) -> None:
    path = write_manifest(places["manifests"], "bad", **extra)
    with pytest.raises(CorpusError, match=problem) as err:
        load_manifest("bad")
    assert str(path) in str(err.value)


def test_manifest_by_path_and_preprocess_defaults(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, "solo")
    manifest = load_manifest(path)
    assert manifest.name == "solo" and manifest.directory == tmp_path.resolve()
    assert not manifest.preprocess.lowercase and not manifest.preprocess.fold_newlines


# --- resolution ------------------------------------------------------------------------------


def test_resolution_order(places: dict[str, Path]) -> None:
    write_manifest(places["manifests"])
    order = ["manifests", "data", "cache"]
    files = {key: put(places[key], key.encode()) for key in order}
    put(places["cwd_shared"], b"a workplace's folder, not a lookup place")
    for key in order:
        assert resolve_corpus("demo") == files[key].resolve(), key
        files[key].unlink()
    with pytest.raises(CorpusError, match="no download url"):
        resolve_corpus("demo")


def test_home_cache_when_xdg_unset(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME")
    write_manifest(places["manifests"])
    found = put(places["home"] / ".cache" / "textgen", b"hello")
    assert resolve_corpus("demo") == found.resolve()


def test_explicit_path_wins_and_must_exist(places: dict[str, Path]) -> None:
    write_manifest(places["manifests"])
    put(places["manifests"], b"next to manifest")
    mine = put(places["home"], b"mine", "mine.txt")
    assert resolve_corpus("demo", path=mine) == mine.resolve()
    with pytest.raises(CorpusError, match="does not exist"):
        resolve_corpus("demo", path=places["home"] / "absent.txt")
    with pytest.raises(CorpusError, match="folder"):
        resolve_corpus(path=places["home"])
    with pytest.raises(CorpusError, match="No corpus given"):
        resolve_corpus()


def test_missing_file_error_lists_every_place_tried(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_manifest(places["manifests"])
    with pytest.raises(CorpusError) as err:
        resolve_corpus("demo")
    message = str(err.value)
    for key in ["manifests", "data", "cache"]:
        assert str(places[key] / "demo.txt") in message, key
    assert "shared" not in message
    assert "TEXTGEN_DATA_DIR" in message and "path" in message
    monkeypatch.delenv("TEXTGEN_DATA_DIR")
    with pytest.raises(CorpusError, match="TEXTGEN_DATA_DIR is not set"):
        resolve_corpus("demo")


def test_sha256_checked_on_local_copies(places: dict[str, Path]) -> None:
    good = b"the expected text"
    write_manifest(places["manifests"], sha256=sha(good))
    found = put(places["data"], good)
    assert resolve_corpus("demo") == found.resolve()
    put(places["data"], b"something else")
    with pytest.raises(CorpusError) as err:
        resolve_corpus("demo")
    message = str(err.value)
    assert str(found.resolve()) in message
    assert sha(good) in message and sha(b"something else") in message


@contextlib.contextmanager
def serving(payload: bytes | None) -> Iterator[str]:
    """A local HTTP server giving ``payload`` (None: a socket that accepts and stays silent)."""
    if payload is None:
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen()
        try:
            yield f"http://127.0.0.1:{server.getsockname()[1]}/demo.txt"
        finally:
            server.close()
        return

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server name
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/demo.txt"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_missing_corpus_is_downloaded_checked_and_then_found_locally(
    places: dict[str, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    payload = b"downloaded text"
    with serving(payload) as url:
        write_manifest(places["manifests"], url=url, sha256=sha(payload))
        assert resolve_corpus("demo") == (places["cache"] / "demo.txt").resolve()
    assert (places["cache"] / "demo.txt").read_bytes() == payload
    announced = capfd.readouterr().err
    assert "downloading" in announced and url in announced and "MiB" in announced
    # Once cached, it is found locally: the server is gone and nothing is fetched again.
    assert resolve_corpus("demo") == (places["cache"] / "demo.txt").resolve()


def test_a_download_with_the_wrong_sha256_leaves_nothing_behind(places: dict[str, Path]) -> None:
    with serving(b"not the text") as url:
        write_manifest(places["manifests"], url=url, sha256=sha(b"the text"))
        with pytest.raises(CorpusError, match="wrong sha256"):
            resolve_corpus("demo")
    assert list(places["cache"].iterdir()) == []


def test_a_server_that_never_answers_times_out_with_the_fix(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEXTGEN_DOWNLOAD_TIMEOUT", "0.3")
    with serving(None) as url:
        write_manifest(places["manifests"], url=url)
        start = time.monotonic()
        with pytest.raises(CorpusError, match="sent nothing for 0.3 s") as err:
            resolve_corpus("demo")
        assert time.monotonic() - start < 5
    message = str(err.value)
    assert url in message and "looked in" in message and "TEXTGEN_DATA_DIR" in message
    assert list(places["cache"].iterdir()) == []


def test_download_failure_is_a_corpus_error(places: dict[str, Path]) -> None:
    with serving(b"") as url:
        pass  # the server is shut down: nobody listens on the port any more
    write_manifest(places["manifests"], url=url)
    with pytest.raises(CorpusError) as err:
        resolve_corpus("demo")
    assert url in str(err.value) and "TEXTGEN_DATA_DIR" in str(err.value)


# --- reading ---------------------------------------------------------------------------------


def test_binary_file_names_the_nul_offset(tmp_path: Path) -> None:
    path = put(tmp_path, b"abc\x00def")
    with pytest.raises(CorpusError, match=r"binary.*offset 3") as err:
        read_text(path)
    assert str(path) in str(err.value)


def test_non_utf8_names_the_byte_offset(tmp_path: Path) -> None:
    path = put(tmp_path, "caf\u00e9".encode("latin-1"))
    with pytest.raises(CorpusError, match=r"UTF-8.*offset 3") as err:
        read_text(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("data", [b"", b" \n\n\t "])
def test_empty_file_is_refused(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(CorpusError, match="empty|whitespace"):
        read_text(put(tmp_path, data))


def test_read_text_normalises(tmp_path: Path) -> None:
    path = put(tmp_path, "\ufeffOne line\r\nand its tail.\r\n\r\n\r\nNext  \n para.".encode())
    assert read_text(path) == "One line\nand its tail.\n\n\nNext  \n para."
    assert read_text(path, fold_newlines=True) == "One line and its tail.\nNext para."
    lowered = read_text(path, lowercase=True, fold_newlines=True)
    assert lowered == "one line and its tail.\nnext para."


def test_load_text_uses_manifest_preprocessing(places: dict[str, Path]) -> None:
    write_manifest(places["manifests"], preprocess="{lowercase: true, fold_newlines: true}")
    put(places["data"], b"Hello\nWorld\n\nBye")
    assert load_text("demo") == "hello world\nbye"
    assert load_text("demo", lowercase=False) == "Hello World\nBye"


# --- vocabulary ------------------------------------------------------------------------------


def test_vocab_sorted_round_trip_and_save_load(tmp_path: Path) -> None:
    text = "hello, world\nnaïve café"
    vocab = CharVocab.from_text(text)
    assert list(vocab.chars) == sorted(set(text)) and len(vocab) == len(set(text))
    assert "é" in vocab and "z" not in vocab
    ids = vocab.encode(text)
    assert ids.dtype == np.int32 and vocab.decode(ids) == text
    vocab.save(tmp_path / "vocab.json")
    loaded = CharVocab.load(tmp_path / "vocab.json")
    assert loaded == vocab and loaded.decode(ids) == text


def test_unknown_characters_error_names_them_or_are_skipped() -> None:
    vocab = CharVocab.from_text("abc ")
    assert vocab.missing("a zebra? ab") == ["z", "e", "r", "?"]
    with pytest.raises(ValueError, match=r"'z', 'e', 'r', '\?'.*position 2"):
        vocab.encode("a zebra? ab")
    assert vocab.decode(vocab.encode("a zebra? ab", unknown="skip")) == "a ba ab"
    with pytest.raises(ValueError, match="unknown"):
        vocab.encode("a", unknown="replace")  # type: ignore[arg-type]


def test_decode_and_load_reject_bad_input(tmp_path: Path) -> None:
    vocab = CharVocab.from_text("ab")
    with pytest.raises(ValueError, match="out of range"):
        vocab.decode([0, 5])
    bad = tmp_path / "bad.json"
    bad.write_text('{"chars": ["a", "bc"]}', encoding="utf-8")
    with pytest.raises(ValueError, match="bad.json"):
        CharVocab.load(bad)
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match="'chars' list"):
        CharVocab.load(bad)


@given(st.text(min_size=1, max_size=200))
def test_encode_decode_round_trip(text: str) -> None:
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    assert vocab.decode(ids) == text
    assert ids.min() >= 0 and ids.max() < len(vocab)
