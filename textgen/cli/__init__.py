"""The ``textgen`` command line: run, resume, generate, report, validate, compare, plugins.

A user's mistake (a bad spec, a missing corpus, an unknown sampler) prints one paragraph and
exits with code 2; ``--debug`` shows the Python traceback instead. Commands live by topic in
``runs.py`` (train), ``sampling.py`` (generate) and ``results.py`` (read results and plugins).
"""

from __future__ import annotations

import sys

import click
from rich.console import Console

console = Console(soft_wrap=True)  # one-line messages stay one line (paths, names) at any width
err_console = Console(stderr=True)


class TextgenGroup(click.Group):
    """Turns user errors into a short message and exit code 2, and any other exception into a
    short "this is a bug" message and exit code 1 (``--debug``: the traceback); plugins add
    commands."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            where = ctx.meta.get("textgen.run_dir", "RUN_DIR")
            err_console.print(f"[yellow]Interrupted.[/] Completed epochs are saved; continue "
                              f"with `textgen resume {where}`.", highlight=False)
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - classified below
            if ctx.meta.get("textgen.debug"):
                raise
            if _is_user_error(exc):
                from rich.markup import escape  # messages quote YAML: [a, b] is not markup

                from textgen.errors import out_of_memory

                message = escape(str(out_of_memory(exc) or exc))
                err_console.print(f"[bold red]error:[/] {message}", highlight=False)
                err_console.print("[dim](run with --debug for the traceback)[/]")
                sys.exit(2)
            lines = [ln.strip() for ln in f"{type(exc).__name__}: {exc}".splitlines() if ln.strip()]
            what = lines[0][:300]
            if len(lines) > 1:  # TensorFlow's "in user code:" puts the error itself last
                what += f" ... {lines[-1][:300]}"
            err_console.print(f"[bold red]internal error:[/] this is a bug in textgen or a "
                              f"plugin: {what}; run with --debug for the traceback.",
                              highlight=False)
            sys.exit(1)


def _is_user_error(exc: Exception) -> bool:
    """A mistake in what the user gave (a ``TextgenError``), a file the system refused to read
    or write (``OSError`` naming it), or TensorFlow running out of memory."""
    from textgen.errors import TextgenError, out_of_memory

    named_file = isinstance(exc, OSError) and exc.filename is not None
    return isinstance(exc, TextgenError) or named_file or out_of_memory(exc) is not None


def _debug_option(f):
    def remember(ctx: click.Context, _param, value: bool) -> bool:
        ctx.meta["textgen.debug"] = ctx.meta.get("textgen.debug") or value
        return value
    return click.option("--debug", is_flag=True, expose_value=False, is_eager=True,
                        callback=remember, help="Show Python tracebacks.")(f)


def _strict_option(f):
    def remember(ctx: click.Context, _param, value: bool) -> bool:
        if value:
            import os

            os.environ["TEXTGEN_STRICT_PLUGINS"] = "1"
        return value
    return click.option("--strict-plugins", is_flag=True, expose_value=False, is_eager=True,
                        callback=remember,
                        help="A plugin that fails to load is an error (also "
                             "TEXTGEN_STRICT_PLUGINS=1): for a plugin's own CI.")(f)


@click.group(cls=TextgenGroup)
@_debug_option
@_strict_option
def cli() -> None:
    """Character-level text generation with pluggable backbones and samplers."""


def _load_plugin_commands() -> None:
    from textgen.plugins import registry

    reg = registry(check=False)  # strict mode is enforced where the registry is used
    if reg.manager is not None:
        reg.manager.hook.register_commands(cli=cli)


def main() -> None:
    """Console entry point: add plugin commands and run. TensorFlow is imported only by the
    commands (and plugins) that need it, so ``--help``, ``plugins`` and ``validate`` start fast."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "--strict-plugins" in sys.argv[1:]:
        os.environ["TEXTGEN_STRICT_PLUGINS"] = "1"
    if "--debug" not in sys.argv:
        _quiet_tensorflow_import()
    _load_plugin_commands()
    cli()


class _QuietImport:
    """A meta-path finder that imports TensorFlow, when something first asks for it, with fd 2
    pointed at /dev/null: its C++ layer logs there at import, before any setting applies."""

    def find_spec(self, name: str, path=None, target=None):
        if name != "tensorflow":
            return None
        import importlib.util
        import os

        sys.meta_path.remove(self)
        saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            module = importlib.import_module("tensorflow")
        finally:
            os.dup2(saved, 2)
            os.close(devnull)
            os.close(saved)
        return importlib.util.spec_from_loader(name, _Loaded(module))  # type: ignore[arg-type]


class _Loaded:
    """A loader that hands over a module already imported."""

    def __init__(self, module) -> None:
        self.module = module

    def create_module(self, spec):
        return self.module

    def exec_module(self, module) -> None:
        return None


def _quiet_tensorflow_import() -> None:
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietImport)
                                                   for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietImport())


from textgen.cli import (  # noqa: E402, F401  (registers the commands)
    baseline,
    results,
    runs,
    sampling,
    serve,
    train,
)
