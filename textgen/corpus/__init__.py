"""Corpora: manifests, finding and reading the text, the character vocabulary, tf.data windows.

``dataset`` imports TensorFlow, so it is not imported here; use ``textgen.corpus.dataset``.
"""

from textgen.corpus.manifest import (
    CorpusError,
    Manifest,
    Preprocess,
    corpora_dir,
    list_manifests,
    load_manifest,
)
from textgen.corpus.resolve import cache_dir, load_text, read_text, resolve_corpus
from textgen.corpus.vocab import CharVocab

__all__ = [
    "CharVocab",
    "CorpusError",
    "Manifest",
    "Preprocess",
    "cache_dir",
    "corpora_dir",
    "list_manifests",
    "load_manifest",
    "load_text",
    "read_text",
    "resolve_corpus",
]
