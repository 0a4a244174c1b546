"""``--set KEY=VALUE``: dotted paths, YAML values, validated like the file, errors name it."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from textgen.cli import cli
from textgen.spec.errors import SpecError
from textgen.spec.overrides import apply, load_with_overrides, parse

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "experiments" / "smoke.yaml"


def test_values_are_yaml_and_paths_are_dotted():
    data = {"training": {"epochs": 2}, "generation": {"samplers": ["greedy"]}}
    changes = [parse("training.epochs=4"), parse("backbone.units=256"),
               parse("generation.samplers=[greedy, {temperature: 0.5}]"),
               parse("training.optimizer.learning_rate=1e-3"), parse("training.max_seconds=")]
    out = apply(data, changes)
    assert out == {"training": {"epochs": 4, "optimizer": {"learning_rate": "1e-3"},
                                "max_seconds": None},
                   "backbone": {"units": 256},
                   "generation": {"samplers": ["greedy", {"temperature": 0.5}]}}
    assert data["training"] == {"epochs": 2}  # the input is not changed
    assert apply(out, [parse("generation.samplers.1={top_k: 5}")])["generation"]["samplers"] \
        == ["greedy", {"top_k": 5}]


def test_the_spec_is_validated_with_its_overrides():
    spec = load_with_overrides(SMOKE, ["training.epochs=4", "backbone.units=8",
                                       "generation.samplers=[greedy, {temperature: 0.5}]",
                                       "training.optimizer.learning_rate=1e-3"])
    assert spec.training.epochs == 4 and spec.backbone.params["units"] == 8
    assert spec.training.optimizer.learning_rate == 0.001  # "1e-3" coerced as in a file
    assert [c.label() for c in spec.generation.chains()] == ["greedy", "temperature(0.5)"]
    assert load_with_overrides(SMOKE, {"training.epochs": 3}).training.epochs == 3


@pytest.mark.parametrize("override, message", [
    ("training.epochs=-1", "--set training.epochs=-1: training.epochs: Input should be greater "
                           "than or equal to 1"),
    ("training.epochz=3", "--set training.epochz=3: training.epochz: Unknown key"),
    ("backbone.units=abc", "--set backbone.units=abc: backbone: lstm backbone: units:"),
    ("generation.samplers=[greedy, {temperature: -1}]",
     "--set generation.samplers=[greedy, {temperature: -1}]: generation.samplers.1: sampler "
     "'temperature'"),
    ("training.epochs.x=1", "--set training.epochs.x=1: training.epochs is a single value"),
    ("generation.samplers.5=greedy", "generation.samplers is a list of 4"),
    ("epochs", "--set epochs: write KEY=VALUE"),
    ("training.epochs=[1", "--set training.epochs=[1: the value is not YAML"),
])
def test_a_bad_override_is_named(override, message):
    with pytest.raises(SpecError) as err:
        load_with_overrides(SMOKE, [override])
    assert message in str(err.value)


def test_a_section_rule_names_every_override_inside_it():
    """A rule over several fields (here carry_state refusing a stride) can fail on any of
    them: every --set inside the section is named, not only the last."""
    with pytest.raises(SpecError) as err:
        load_with_overrides(SMOKE, ["evaluation.dynamic.stride=25",
                                    "evaluation.dynamic.carry_state=true",
                                    "training.epochs=2"])
    assert ("--set evaluation.dynamic.stride=25, --set evaluation.dynamic.carry_state=true: "
            "evaluation") in str(err.value) and "leave stride out" in str(err.value)
    assert "training.epochs=2" not in str(err.value)


def test_problems_in_the_file_keep_their_lines(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMOKE.read_text().replace("seq_len: 32", "seq_len: 0"))
    with pytest.raises(SpecError) as err:
        load_with_overrides(bad, ["training.epochs=0"])
    text = str(err.value)
    assert "training.seq_len (line 11)" in text and "--set training.epochs=0" in text


def test_cli_validate_run_and_compare_take_set(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(cli, ["validate", str(SMOKE), "--set", "generation.samplers=[greedy]"])
    assert ok.exit_code == 0 and "samplers greedy" in ok.output, ok.output
    bad = runner.invoke(cli, ["validate", str(SMOKE), "--set", "training.epochs=-1"])
    assert bad.exit_code == 2
    assert "--set training.epochs=-1: training.epochs: Input should be greater" in \
        " ".join(bad.output.split())
    # compare applies the override to every run's spec before anything trains
    other = tmp_path / "other.yaml"
    other.write_text(SMOKE.read_text().replace("name: smoke", "name: other"))
    cmp = runner.invoke(cli, ["compare", str(SMOKE), str(other), "--output-dir",
                              str(tmp_path / "cmp"), "--set", "backbone.units=0"])
    assert cmp.exit_code == 2 and "--set backbone.units=0" in cmp.output
    assert not (tmp_path / "cmp").exists()
    run = runner.invoke(cli, ["run", str(SMOKE), "--output-dir", str(tmp_path / "run"),
                              "--set", "generation.samplers=[{top_k: 0}]"])
    assert run.exit_code == 2 and "--set generation.samplers=[{top_k: 0}]" in run.output


def test_a_comparison_file_applies_overrides_to_every_run():
    from textgen.spec.comparison import load_comparison

    path = ROOT / "experiments" / "compare_backbones.yaml"
    comparison = load_comparison([path], ["training.epochs=3"])
    assert {s.training.epochs for s in comparison.specs} == {3}
    with pytest.raises(SpecError) as err:
        load_comparison([path], ["training.epochs=0"])
    assert "runs.0: --set training.epochs=0: training.epochs" in str(err.value)
