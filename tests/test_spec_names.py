"""The spec's second pass: unknown or mis-set plugin names reported at their YAML lines, together
with the schema's own problems (spec/names.py)."""

import pytest

from textgen import spec as specs
from textgen.spec.errors import SpecError

SPEC = """\
name: names
corpus: {name: tiny}
backbone:
  type: lstmm
training:
  epochs: 0
generation:
  samplers:
    - greedy
    - top_q: 0.9
    - [{temperature: 0.5}, {top_k: 0}]
    - temperature: 1e308
"""


def test_every_name_problem_is_listed_with_its_line_and_the_schemas_too():
    with pytest.raises(SpecError) as info:
        specs.loads(SPEC, "names.yaml")
    found = {(p.path, p.line): p.message for p in info.value.problems}
    assert "Did you mean 'lstm'" in found["backbone.type", 4]
    assert "training.epochs" in {p.path for p in info.value.problems}
    assert "unknown sampler 'top_q'" in found["generation.samplers.1", 10]
    assert "Did you mean 'top_p'" in found["generation.samplers.1", 10]
    assert "sampler 'top_k'" in found["generation.samplers.2.1", 11]
    assert "float32" in found["generation.samplers.3", 12]


def test_backbone_parameters_are_checked_by_the_plugins_params():
    with pytest.raises(SpecError, match=r"backbone \(line 3\): lstm backbone: units"):
        specs.loads("name: x\ncorpus: {name: tiny}\nbackbone: {type: lstm, units: 0}\n")


def test_a_plain_spec_still_loads():
    spec = specs.loads("name: x\ncorpus: {name: tiny}\ngeneration: {samplers: [greedy]}\n")
    assert [c.label() for c in spec.generation.chains()] == ["greedy"]
