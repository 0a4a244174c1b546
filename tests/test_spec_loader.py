"""The YAML spec loader: errors name the field path and the YAML line, whatever the input."""

from __future__ import annotations

import math
import pickle
from typing import Annotated, Literal

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from textgen.spec.errors import Problem, SpecError
from textgen.spec.loader import load_spec, load_yaml_with_positions, loads_spec


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Optimizer(Strict):
    name: str = "adam"
    lr: float = 1e-3


class Training(Strict):
    epochs: int = Field(gt=0)
    batch_size: int = 128
    shuffle: bool = True
    optimizer: Optimizer = Optimizer()


class Greedy(Strict):
    kind: Literal["greedy"]


class TopK(Strict):
    kind: Literal["top_k"]
    k: int = Field(gt=0)


class Temperature(Strict):
    kind: Literal["temperature"]
    temperature: float

    @field_validator("temperature")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("temperature must be positive")
        return value


def _even(value: int) -> int:
    if value % 2:
        raise ValueError("seed must be even")
    return value


SamplerSpec = Annotated[Greedy | TopK | Temperature, Field(discriminator="kind")]


class Generation(Strict):
    length: int = 100
    samplers: list[SamplerSpec] = []
    seed: Annotated[int, AfterValidator(_even)] | None = None


class Spec(Strict):
    training: Training
    generation: Generation = Generation()


GOOD = """\
training:
  epochs: 3
  optimizer:
    lr: 1e-3
generation:
  samplers:
    - kind: greedy
    - kind: temperature
      temperature: 0.5
"""


def problems(text: str, model: type[BaseModel] = Spec) -> list[Problem]:
    with pytest.raises(SpecError) as info:
        loads_spec(text, model, file="spec.yaml")
    return info.value.problems


def where(text: str, model: type[BaseModel] = Spec) -> list[tuple[str, int | None]]:
    return [(p.path, p.line) for p in problems(text, model)]


def test_valid_spec_loads_and_1e_3_reaches_pydantic_as_a_float():
    spec = loads_spec(GOOD, Spec)
    assert spec.training.optimizer.lr == pytest.approx(0.001)
    assert [s.kind for s in spec.generation.samplers] == ["greedy", "temperature"]
    data, _ = load_yaml_with_positions("lr: 1e-3\nok: yes\noff: 1\n")
    assert data == {"lr": "1e-3", "ok": True, False: 1}  # PyYAML's YAML 1.1 meaning, unchanged


def test_error_names_path_and_line_and_renders_readably():
    text = GOOD.replace("epochs: 3", "epochs: 0").replace("temperature: 0.5", "temperature: -1")
    err = pytest.raises(SpecError, loads_spec, text, Spec, file="spec.yaml").value
    assert [(p.path, p.line) for p in err.problems] == [
        ("training.epochs", 2), ("generation.samplers.1.temperature", 9)]
    assert str(err).splitlines() == [
        "spec.yaml: 2 problems",
        "- training.epochs (line 2): Input should be greater than 0",
        "- generation.samplers.1.temperature (line 9): temperature must be positive",
    ]
    assert err.problems[0].where == "spec.yaml:2" and err.problems[0].column == 3
    assert isinstance(err, ValueError)
    assert pickle.loads(pickle.dumps(err)).problems == err.problems


def test_union_and_validator_segments_are_dropped_from_the_path():
    text = GOOD.replace("- kind: greedy", "- kind: top_k\n      k: -2") + "  seed: 3\n"
    assert where(text) == [("generation.samplers.0.k", 8), ("generation.seed", 11)]


def test_unknown_key_points_at_its_own_line():
    text = GOOD.replace("    lr: 1e-3", "    lr: 1e-3\n    momentun: 0.9")
    (problem,) = problems(text)
    assert (problem.path, problem.line) == ("training.optimizer.momentun", 5)
    assert "Unknown key" in problem.message


def test_missing_field_points_at_its_parent_mapping():
    assert where("# comment\ntraining:\n  batch_size: 4\n") == [("training.epochs", 2)]
    assert where("generation:\n  length: 5\n  samplers:\n    - kind: temperature\n") == [
        ("training", 1), ("generation.samplers.0.temperature", 4)]
    assert where("\n\ntraining: {batch_size: 4}") == [("training.epochs", 3)]


def test_wrong_type_of_a_section_points_at_its_key():
    assert where("training:\n  epochs: 2\n  optimizer: [adam]\n") == [("training.optimizer", 3)]
    assert where("training:\n  epochs: many\n")[0] == ("training.epochs", 2)


@pytest.mark.parametrize("text, line, column", [
    ("training:\n  epochs: [1, 2\nfoo: 3\n", 3, 4),
    ("training:\n\tepochs: 2\n", 2, 1),
    ("training: a: b\n", 1, 12),
    ("training: {epochs: 1}\n--- \nother: 1\n", 2, 1),
    ("training: !weird 1\n", 1, 11),
])
def test_malformed_yaml_gives_line_and_column(text, line, column):
    (problem,) = problems(text)
    assert (problem.line, problem.column) == (line, column)
    assert problem.message.startswith("invalid YAML: ")


def test_duplicate_keys_are_reported_at_the_second_occurrence():
    text = "training:\n  epochs: 1\n  epochs: 2\ngeneration: {}\ngeneration: {}\n"
    found = problems(text)
    assert [(p.path, p.line) for p in found] == [("training.epochs", 3), ("generation", 5)]
    assert "first defined on line 2" in found[0].message


@pytest.mark.parametrize("text, got", [
    ("- training\n- generation\n", "a list"), ("", "empty"), ("42\n", "42"), ("~\n", "null")])
def test_top_level_must_be_a_mapping(text, got):
    (problem,) = problems(text)
    assert "the spec must be a mapping of sections" in problem.message and got in problem.message


def test_anchors_and_merge_keys_work_and_recursive_aliases_are_refused():
    text = "base: &b {epochs: 2, batch_size: 8}\ntraining:\n  <<: *b\n  batch_size: 16\n"
    data, positions = load_yaml_with_positions(text)
    assert data["training"] == {"epochs": 2, "batch_size": 16}
    assert positions[("training", "batch_size")] == (4, 3)
    assert "recursive" in problems("training: &a\n  x: *a\n")[0].message


def test_load_spec_reads_files_and_names_them(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(GOOD.replace("epochs: 3", "epochs: -1"), encoding="utf-8")
    with pytest.raises(SpecError, match=r"spec\.yaml: 1 problem\n- training\.epochs \(line 2\)"):
        load_spec(path, Spec)
    path.write_bytes("\ufeff".encode() + GOOD.encode())
    assert load_spec(str(path), Spec).training.epochs == 3
    path.write_bytes(b"training:\n  epochs: 3 \xff\n")
    err = pytest.raises(SpecError, load_spec, path, Spec).value
    assert err.file == str(path) and err.problems[0].line == 2 and "UTF-8" in str(err)
    for missing in (tmp_path / "nope.yaml", tmp_path):
        err = pytest.raises(SpecError, load_spec, missing, Spec).value
        assert err.file == str(missing) and str(missing) in str(err)


# --- properties ------------------------------------------------------------------------------

NAMES = st.sampled_from(["training", "epochs", "generation", "samplers", "kind", "k", "top_k",
                         "temperature", "optimizer", "lr", "seed", "length", "greedy"])
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
           | st.text(max_size=8) | NAMES)
TREES = st.recursive(
    SCALARS,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(NAMES | st.text(max_size=6), kids,
                                                              max_size=4),
    max_leaves=24)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _paths(data, prefix=()):
    yield prefix
    items = data.items() if isinstance(data, dict) else enumerate(data) \
        if isinstance(data, list) else ()
    for key, value in items:
        yield from _paths(value, prefix + (key,))


@FAST
@given(st.dictionaries(NAMES, TREES, max_size=4), st.booleans())
def test_any_dumped_tree_loads_as_pyyaml_reads_it_or_fails_with_spec_error(tree, flow):
    text = yaml.safe_dump(tree, default_flow_style=flow)
    data, positions = load_yaml_with_positions(text)
    assert data == yaml.safe_load(text)
    assert set(positions) == set(_paths(data))
    assert all(line >= 1 and column >= 1 for line, column in positions.values())
    try:
        loads_spec(text, Spec)
    except SpecError as err:
        assert err.problems and all(isinstance(p.line, int) for p in err.problems)


@FAST
@given(TREES)
def test_any_tree_under_a_section_fails_only_with_spec_error(tree):
    for wrapped in ({"training": tree}, {"generation": {"samplers": tree}}, tree):
        try:
            loads_spec(yaml.safe_dump(wrapped), Spec)
        except SpecError as err:
            assert str(err).startswith("<string>: ")


@FAST
@given(st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!<>|'\"#?,\t\n 1.e~")), max_size=40))
def test_arbitrary_text_fails_only_with_spec_error(text):
    try:
        loads_spec(text, Spec)
    except SpecError as err:
        assert err.problems and not any(math.isnan(p.line or 0) for p in err.problems)
