"""The ``generate`` command: sample from a saved model, printed or streamed to JSONL."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.markup import escape

from textgen.cli import _debug_option, cli, console


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--sampler", "stages", multiple=True,
              help="A stage, as in a spec: greedy, 'temperature: 0.5', 'top_k: 20'. Repeat "
                   "to chain stages. Default: temperature (1 unless --temperature).")
@click.option("--temperature", type=float, help="Temperature for the temperature stage.")
@click.option("--prompt", help="Text to continue (default: the run's first prompt).")
@click.option("--length", type=int, default=400, show_default=True)
@click.option("--num-samples", type=int, default=1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True,
              help="Sample i uses seed + i; the same arguments give the same text.")
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per sample.")
@click.option("--show", type=click.Choice(["text", "surprise"]), default="text",
              show_default=True, help="surprise: colour each character by its probability.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Stream the samples to this JSONL file (as --json), a batch at a time, "
                   "with a progress bar: for thousands of samples.")
@click.option("--decoder", help="A decoding strategy instead of sampling stages: beam (the "
                                "--num-samples best) or stochastic_beam (--num-samples "
                                "distinct samples, without replacement).")
@click.option("--beam-width", type=int, default=4, show_default=True,
              help="Hypotheses per prompt for --decoder; at least --num-samples.")
@click.option("--length-penalty", type=float,
              help="beam: rank finished texts by log-prob / length ** this (default 1).")
@click.option("--stop", "stops", multiple=True,
              help="End a sample at the first of these strings (cut before it). Repeatable.")
@_debug_option
def generate(run_dir: Path, stages: tuple[str, ...], temperature: float | None,
             prompt: str | None, length: int, num_samples: int, seed: int, batch_size: int,
             as_json: bool, show: str, output: Path | None, decoder: str | None,
             beam_width: int, length_penalty: float | None, stops: tuple[str, ...]) -> None:
    """Sample from the model saved in RUN_DIR, without retraining."""
    from textgen.api import TrainedModel
    from textgen.corpus.prepare import prepare_prompt
    from textgen.errors import UsageError
    from textgen.generation.sampling import CHUNK, check_length, stream_text
    from textgen.generation.sampling import generate as run_generate
    from textgen.report.surprise import surprise_text
    from textgen.samplers.build import build_chain

    streamed = not as_json and output is None and show == "text"
    check_length(length, whole=not streamed, option="--length")
    if num_samples < 1:
        raise UsageError(f"--num-samples must be at least 1, got {num_samples}")
    if batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {batch_size}")
    chain = build_chain(_decoder(decoder, beam_width, length_penalty, num_samples,
                                 stages, temperature)
                        if decoder else _stages(stages, temperature))  # StageError: exit 2
    trained = TrainedModel(run_dir)  # the Python API's checks and messages, shared
    spec, model, vocab = trained.spec, trained.model, trained.vocab
    prompt = trained.prompt(prompt)
    stop = _check_stops(tuple(prepare_prompt(spec, s) for s in stops), vocab)  # as prompts
    engine = trained.decoder(chain)  # compiled once, shared by every batch

    def decode(rows):
        return run_generate(model, vocab, [chain], rows, length, batch_size,
                            spec.generation.unknown_chars, decoder=engine, stop=stop)

    def record(s) -> str:
        return json.dumps(s.to_json())  # the same record as a run's samples.jsonl

    def emit(batch):
        for s in batch:
            if as_json:
                click.echo(record(s))
            elif show == "surprise":
                console.print(surprise_text(s))
            else:
                console.print(f"[dim]{escape(s.prompt)}[/]{escape(s.text)}", highlight=False,
                              soft_wrap=False)  # text, not markup: "[see 2]" stays; word-wrapped
                console.print()

    if streamed and length > CHUNK and not stop and not decoder:  # print as it is decoded
        for i in range(num_samples):
            console.print(f"[dim]{escape(prompt)}[/]", end="", highlight=False)
            for piece in stream_text(engine, vocab, prompt, 0, seed + i, length,
                                     spec.generation.unknown_chars):
                console.out(piece, end="", highlight=False)
            console.print("\n")
        return
    if output is None:
        _in_batches(decode, prompt, num_samples, seed, batch_size, emit)
        return
    from textgen.training.progress import make_progress

    with open(output, "w", encoding="utf-8") as f, make_progress(console) as progress:
        task = progress.add_task("generate", total=num_samples, info=f"-> {output}")

        def write(batch):
            f.writelines(record(s) + "\n" for s in batch)
            f.flush()
            progress.advance(task, len(batch))

        _in_batches(decode, prompt, num_samples, seed, batch_size, write)
    console.print(f"{num_samples} samples -> {output}", highlight=False)


def _in_batches(decode, prompt: str, num_samples: int, seed: int, batch_size: int,
                on_batch) -> None:
    """Sample i gets seed + i; decode ``batch_size`` at a time, holding one batch in memory."""
    from textgen.generation.sampling import plan_rows

    for start in range(0, num_samples, batch_size):
        count = min(batch_size, num_samples - start)
        on_batch(decode(plan_rows([prompt], 1, count, seed + start, coupled=True)))


def _decoder(name: str, width: int, length_penalty: float | None, num_samples: int,
             stages: tuple[str, ...], temperature: float | None) -> dict:
    """--decoder and its options as a spec setting (``{beam: {width: 4}}``)."""
    from textgen.errors import UsageError
    from textgen.plugins import registry

    registry().get("decoders", name)  # an unknown name: the registered ones and a close match
    if stages or temperature is not None:
        raise UsageError("--decoder replaces the sampling stages: give it without --sampler "
                         "and --temperature")
    if num_samples > width:
        raise UsageError(f"--num-samples {num_samples} is more than --beam-width {width}: a "
                         "beam returns at most its width of texts per prompt")
    params: dict = {"width": width}
    if length_penalty is not None:
        params["length_penalty"] = length_penalty
    return {name: params}


def _check_stops(stops: tuple[str, ...], vocab) -> list[str]:
    """--stop values: non-empty, and made of characters the model knows."""
    from textgen.generation.stops import stop_automaton

    stop_automaton(stops, vocab, field="--stop")  # raises naming the bad one
    return list(stops)


def _stages(stages: tuple[str, ...], temperature: float | None) -> list:
    """Parse --sampler values (YAML stage syntax) and fold --temperature into the chain."""
    import yaml

    from textgen.errors import UsageError

    parsed = []
    for stage in stages:
        try:
            parsed.append(yaml.safe_load(stage))
        except yaml.YAMLError as err:
            why = getattr(err, "problem", None) or err
            raise UsageError(f"--sampler {stage!r} is not a stage in spec syntax (a name like "
                             f"greedy, or 'top_k: 20'): {why}") from None
    if not parsed:  # the documented default: plain sampling, temperature 1 unless given
        parsed, temperature = ["temperature"], 1.0 if temperature is None else temperature
    if temperature is not None:
        if "temperature" in parsed:
            parsed[parsed.index("temperature")] = {"temperature": temperature}
        else:
            parsed.append({"temperature": temperature})
    elif "temperature" in parsed:
        raise UsageError("the temperature sampler needs --temperature T (T > 0)")
    return parsed
