"""Stop strings: the automaton finds the first stop string exactly where ``str.find`` does."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textgen.corpus.vocab import CharVocab
from textgen.generation.stops import StopStringError, check_stops, stop_automaton

VOCAB = CharVocab("ab.\n")


def first_stop(text: str, stops: list[str]) -> tuple[int, int] | None:
    """Reference: the earliest end of any stop string; at one end, the longest string."""
    ends = [(text.find(s) + len(s), -len(s)) for s in stops if s in text]
    if not ends:
        return None
    end, neg = min(ends)
    return end, -neg


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text("ab.\n", min_size=1, max_size=4), min_size=1, max_size=4),
       st.text("ab.\n", max_size=30))
def test_the_first_stop_string_is_found(stops, text):
    auto = stop_automaton(stops, VOCAB)
    assert auto.find(VOCAB.encode(text).tolist()) == first_stop(text, stops)


def test_empty_and_impossible_stop_strings_name_the_field():
    with pytest.raises(StopStringError, match=r"generation.stop\[1\]: .*non-empty"):
        check_stops(["\n", ""])
    with pytest.raises(StopStringError, match=r"--stop\[0\].*never saw \('Z'\)"):
        stop_automaton(["Za"], VOCAB, field="--stop")
