"""Every bad input gets one paragraph naming what is wrong, exit code 2, and no damage.

Each case goes through the command line as a user would type it. An existing run directory must
come out of a refused command byte for byte as it went in; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from textgen.cli import cli
from textgen.spec import SpecError

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "experiments" / "smoke.yaml"


def smoke(**sections) -> dict:
    """The smoke spec, shortened (one epoch, one short sample), with ``sections`` merged in."""
    spec = yaml.safe_load(SMOKE.read_text())
    spec["training"]["epochs"] = 1
    spec["generation"].update(length=20, num_samples=1, samplers=["greedy"])
    for name, value in sections.items():
        spec[name] = {**spec[name], **value} if isinstance(value, dict) else value
    return spec


def write_spec(path: Path, spec: dict | str) -> Path:
    path.write_text(spec if isinstance(spec, str) else yaml.safe_dump(spec))
    return path


def invoke(*args) -> object:
    return CliRunner().invoke(cli, [str(a) for a in args], terminal_width=200)


def snapshot(run_dir: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(run_dir.iterdir())}


def fails(*args, says: tuple[str, ...]) -> str:
    """Run the CLI, expect a user error (exit 2, one paragraph) mentioning each of ``says``."""
    result = invoke(*args)
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    message = result.stderr.strip()
    assert message.startswith("error:") and "Traceback" not in result.output, message
    assert "\n\n" not in message, "the error must be one paragraph"
    squashed = "".join(message.split())  # rich wraps lines, and folds long paths anywhere
    for part in says:
        assert "".join(part.split()) in squashed, (part, message)
    return message


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """One finished (one-epoch) smoke run, shared by every test that needs a model."""
    root = tmp_path_factory.mktemp("trained")
    out = root / "run"
    result = invoke("run", write_spec(root / "spec.yaml", smoke()), "--output-dir", out)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def run_copy(trained, tmp_path) -> Path:
    """A private copy of the trained run, to damage or to point a refused command at."""
    return Path(shutil.copytree(trained, tmp_path / "run"))


# --- the corpus -------------------------------------------------------------------------------

SHORT = "a river runs by the old town. "  # 30 characters; the smoke spec's windows need 33

CORPORA = {
    "missing": (None, ("missing.txt does not exist",)),
    "empty": (b"", ("empty.txt is empty",)),
    "blank": (b" \n\n \t\n", ("holds only whitespace",)),
    "short": (SHORT.encode(), ("is too short: its training part has 27 characters", "seq_len=32")),
    "binary": (b"PK\x03\x04\x00\x00binary", ("looks binary", "NUL byte at byte offset 4")),
    "latin1": ("caf\xe9 au lait, na\xefve fa\xe7ade ".encode("latin-1") * 20,
               ("is not valid UTF-8", "byte offset 3")),
}


@pytest.mark.parametrize("case", CORPORA)
def test_a_bad_corpus_is_refused_before_anything_is_written(case, tmp_path, run_copy):
    content, says = CORPORA[case]
    corpus = tmp_path / f"{case}.txt"
    if content is not None:
        corpus.write_bytes(content)
    spec = write_spec(tmp_path / "spec.yaml", smoke(corpus={"name": None, "path": str(corpus)}))
    fails("run", spec, "--output-dir", tmp_path / "new", says=(str(corpus.parent), *says))
    assert not (tmp_path / "new").exists()
    before = snapshot(run_copy)  # even --overwrite keeps the old run when the new one can't start
    fails("run", spec, "--output-dir", run_copy, "--overwrite", says=says)
    assert snapshot(run_copy) == before


def test_a_corpus_with_the_wrong_sha256_is_refused(tmp_path, monkeypatch):
    (tmp_path / "mine.txt").write_text("the river runs by the town. " * 40)
    expected = "ab" * 32
    (tmp_path / "mine.yaml").write_text(f"name: mine\nfilename: mine.txt\nsha256: '{expected}'\n")
    monkeypatch.setenv("TEXTGEN_CORPORA_DIR", str(tmp_path))
    spec = write_spec(tmp_path / "spec.yaml", smoke(corpus={"name": "mine"}))
    fails("run", spec, "--output-dir", tmp_path / "out",
          says=("mine.txt has the wrong sha256", f"expected {expected}"))
    assert not (tmp_path / "out").exists()


def test_a_corpus_manifest_nobody_wrote_lists_the_known_ones(tmp_path):
    spec = write_spec(tmp_path / "spec.yaml", smoke(corpus={"name": "nietsche"}))
    fails("run", spec, "--output-dir", tmp_path / "out",
          says=("No corpus manifest named 'nietsche'", "known corpora:", "nietzsche"))


# --- the spec ---------------------------------------------------------------------------------

BASE = "name: t\ncorpus: {name: tiny}\n"
SPECS = {
    "malformed": (BASE + "training: {epochs: 2\n", ("invalid YAML", "line 4")),
    "wrong type": (BASE + "training: {epochs: many}\n",
                   ("training.epochs (line 3)", "valid integer")),
    "unknown key": (BASE + "training:\n  epoch: 3\n",
                    ("training.epoch (line 4)", "Unknown key")),
    "unknown backbone": (BASE + "backbone: {type: lstn}\n",
                         ("unknown backbone 'lstn'", "Did you mean 'lstm'?",
                          "Registered backbones: conv, lstm")),
    "unknown sampler": (BASE + "generation: {samplers: [greedy, topk]}\n",
                        ("generation.samplers.1", "unknown sampler 'topk'",
                         "Did you mean 'top_k'?", "Registered samplers:", "greedy")),
    "temperature 0": (BASE + "generation: {samplers: [temperature: 0]}\n",
                      ("generation.samplers.0", "greater than 0")),
    "temperature < 0": (BASE + "generation: {samplers: [temperature: -0.5]}\n",
                        ("generation.samplers.0", "greater than 0")),
    "temperature nan": (BASE + "generation: {samplers: [temperature: .nan]}\n",
                        ("generation.samplers.0", "finite number")),
    "temperature inf": (BASE + "generation: {samplers: [temperature: .inf]}\n",
                        ("generation.samplers.0", "finite number")),
    "empty prompt": (BASE + "generation: {prompt: ''}\n", ("the prompt is empty",)),
    "length 0": (BASE + "generation: {length: 0}\n",
                 ("generation.length (line 3)", "greater than or equal to 1")),
    "not a mapping": ("- just\n- a list\n", ("must be a mapping of sections",)),
    "no corpus": ("name: t\n", ("corpus", "Field required")),
}


@pytest.mark.parametrize("case", SPECS)
@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_bad_spec_names_the_field_and_line(case, command, tmp_path, run_copy):
    text, says = SPECS[case]
    spec = write_spec(tmp_path / "bad.yaml", text)
    extra = ["--output-dir", run_copy, "--overwrite"] if command == "run" else []
    before = snapshot(run_copy)
    fails(command, spec, *extra, says=("bad.yaml", *says))
    assert snapshot(run_copy) == before


def test_a_missing_spec_file(tmp_path):
    fails("validate", tmp_path / "nope.yaml", says=("nope.yaml", "spec file not found"))


def test_training_that_diverges_in_its_first_epoch_is_a_clear_error(tmp_path):
    spec = smoke(training={"optimizer": {"name": "sgd", "learning_rate": 1e6}},
                 corpus={"max_chars": 4000})
    fails("run", write_spec(tmp_path / "spec.yaml", spec), "--output-dir", tmp_path / "out",
          says=("training diverged in epoch 1", "the loss became", "no good checkpoint",
                "learning_rate"))
    assert not (tmp_path / "out" / "checkpoint.keras").exists()


# --- the output directory ---------------------------------------------------------------------

def test_an_output_dir_holding_a_run_is_refused_without_overwrite(tmp_path, run_copy):
    before = snapshot(run_copy)
    spec = write_spec(tmp_path / "spec.yaml", smoke())
    fails("run", spec, "--output-dir", run_copy,
          says=("already holds a run", "--overwrite", f"--resume {run_copy}"))
    assert snapshot(run_copy) == before


def test_resuming_with_a_spec_that_trains_something_else_is_refused(tmp_path, run_copy):
    before = snapshot(run_copy)
    spec = write_spec(tmp_path / "spec.yaml", smoke(backbone={"units": 64}, seed=8))
    fails("run", spec, "--resume", run_copy,
          says=("differs from the run's own spec.yaml", "seed, backbone.units",
                f"textgen resume {run_copy}"))
    assert snapshot(run_copy) == before


@pytest.mark.parametrize("command", [["generate"], ["resume"], ["report"],
                                     ["run", "SPEC", "--resume"]])
def test_a_directory_that_is_not_a_run(command, tmp_path):
    (tmp_path / "notes.txt").write_text("not a run")
    spec = write_spec(tmp_path / "spec.yml", smoke())  # not spec.yaml: that would make a run
    before = snapshot(tmp_path)
    fails(*[spec if a == "SPEC" else a for a in command], tmp_path,
          says=(str(tmp_path), "not a textgen run directory"))
    assert snapshot(tmp_path) == before


# --- generate ---------------------------------------------------------------------------------

GENERATE = {
    "prompt with unknown chars": (["--prompt", "the river ∆ ~"],
                                  ("characters the model never saw: '∆', '~'",
                                   "unknown_chars: skip")),
    "empty prompt": (["--prompt", ""], ("the prompt is empty",)),
    "temperature 0": (["--temperature", "0"], ("temperature", "greater than 0")),
    "temperature < 0": (["--temperature", "-1"], ("temperature", "greater than 0")),
    "temperature nan": (["--temperature", "nan"], ("temperature", "finite number")),
    "temperature inf": (["--temperature", "inf"], ("temperature", "finite number")),
    "length 0": (["--length", "0"], ("--length must be at least 1, got 0",)),
    "length < 0": (["--length", "-5"], ("--length must be at least 1, got -5",)),
    "no samples": (["--num-samples", "0"], ("--num-samples must be at least 1",)),
    "batch 0": (["--batch-size", "0"], ("--batch-size must be at least 1",)),
    "unknown sampler": (["--sampler", "gredy"],
                        ("unknown sampler 'gredy'", "Did you mean 'greedy'?",
                         "Registered samplers:", "temperature, ", "top_k, ")),
    "malformed sampler": (["--sampler", "{top_k: 3"], ("--sampler '{top_k: 3'",
                                                      "not a stage in spec syntax")),
    "sampler option": (["--sampler", "top_k: {k: 0}"], ("sampler 'top_k'", "k:")),
    "temperature without T": (["--sampler", "temperature"], ("needs --temperature",)),
}


@pytest.mark.parametrize("case", GENERATE)
def test_bad_generate_arguments(case, trained):
    args, says = GENERATE[case]
    before = snapshot(trained)
    fails("generate", trained, "--length", "5", *args, says=says)
    assert snapshot(trained) == before


def test_unknown_prompt_chars_are_skipped_when_the_spec_says_so(run_copy):
    spec = yaml.safe_load((run_copy / "spec.yaml").read_text())
    spec["generation"]["unknown_chars"] = "skip"
    write_spec(run_copy / "spec.yaml", spec)
    result = invoke("generate", run_copy, "--prompt", "the river Ω", "--length", "5", "--json")
    assert result.exit_code == 0, result.output
    fails("generate", run_copy, "--prompt", "ΩΩ", "--length", "5",
          says=("has no characters the model knows",))


def test_a_prompt_longer_than_any_context_is_used_whole(trained):
    # No backbone has a hard limit: the whole prompt is fed; see docs/reproducibility.md.
    prompt = "the river runs by the old town and the town looks at the river. " * 8
    result = invoke("generate", trained, "--prompt", prompt, "--length", "10", "--json",
                    "--sampler", "greedy")
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.stdout.splitlines()[0])["prompt"] == prompt


def test_a_run_whose_model_and_vocabulary_disagree(run_copy):
    (run_copy / "vocab.json").write_text('{"chars": ["a", "b", "c"]}\n')
    fails("generate", run_copy, "--length", "5",
          says=("predicts", "vocab.json lists 3", "come from different runs"))


def test_a_damaged_model_file(run_copy):
    (run_copy / "model.keras").write_bytes(b"not a zip")
    fails("generate", run_copy, "--length", "5",
          says=("model.keras cannot be loaded as a Keras model",))


def test_a_run_that_never_finished_training(run_copy):
    (run_copy / "model.keras").unlink()
    fails("generate", run_copy, "--length", "5",
          says=("has no model.keras", f"textgen resume {run_copy}"))


# --- --debug ----------------------------------------------------------------------------------

@pytest.mark.parametrize("args, error", [
    (["generate", "TRAINED", "--length", "0", "--debug"], ValueError),
    (["--debug", "validate", "BAD"], SpecError),
    (["generate", "TRAINED", "--sampler", "gredy", "--debug"], ValueError),
])
def test_debug_shows_the_traceback(args, error, trained, tmp_path):
    bad = write_spec(tmp_path / "bad.yaml", BASE + "training: {epochs: many}\n")
    args = [{"TRAINED": trained, "BAD": bad}.get(a, a) for a in args]
    result = invoke(*args)
    assert result.exit_code != 2 and isinstance(result.exception, error), result.output
    assert result.exc_info is not None and result.exc_info[2] is not None  # the traceback
