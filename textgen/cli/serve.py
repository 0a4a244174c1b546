"""The ``serve`` command: an OpenAI-compatible HTTP API and a web page over a trained run."""

from __future__ import annotations

from pathlib import Path

import click

from textgen.cli import _debug_option, cli, err_console


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on. Anything but localhost is reachable by others.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--api-key", envvar="TEXTGEN_API_KEY",
              help="Require 'Authorization: Bearer KEY' on every endpoint but /health "
                   "(also from $TEXTGEN_API_KEY).")
@click.option("--max-tokens-cap", type=click.IntRange(1, 100_000), default=1024,
              show_default=True, help="The most characters one choice may ask for.")
@click.option("--queue-size", type=click.IntRange(1, 100_000), default=128, show_default=True,
              help="Requests waiting beyond this get 429 with Retry-After.")
@click.option("--max-body-bytes", type=click.IntRange(1024, 64 * 2**20), default=65536,
              show_default=True, help="Larger request bodies get 413.")
@_debug_option
def serve(run_dir: Path, host: str, port: int, api_key: str | None, max_tokens_cap: int,
          queue_size: int, max_body_bytes: int) -> None:
    """Serve the model in RUN_DIR over HTTP: /v1/completions, /v1/inspect and a web page at /."""
    import asyncio

    import uvicorn

    from textgen.api import load
    from textgen.errors import UsageError
    from textgen.serve.app import ServeConfig, create_app

    check_port(host, port)  # before the model loads: a taken port fails at once
    model = load(run_dir)
    config = ServeConfig(api_key=api_key, max_tokens_cap=max_tokens_cap, queue_size=queue_size,
                         max_body_bytes=max_body_bytes)
    app = create_app(model, config)
    warning = exposure_warning(host, api_key)
    if warning:
        err_console.print(f"[bold yellow]warning:[/] {warning}", highlight=False)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                           access_log=False, timeout_graceful_shutdown=5))

    async def main() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.05)
        if not server.started:
            try:
                await task
            except SystemExit:  # uvicorn exits on a failed start after logging why
                pass
            raise UsageError(f"textgen serve could not start on {host}:{port} (see above)")
        sockets = [s for srv in server.servers for s in srv.sockets]
        bound = sockets[0].getsockname()[1] if sockets else port
        shown = f"[{host}]" if ":" in host else host
        click.echo(f"textgen serve: {model_name(run_dir)} listening on "
                   f"http://{shown}:{bound}/ (API at /v1, "
                   f"{'API key required' if api_key else 'no API key'}); Ctrl-C stops",
                   err=False)
        await task

    asyncio.run(main())


def check_port(host: str, port: int) -> None:
    """A ``UsageError`` naming the address when this process cannot listen there."""
    import socket

    from textgen.errors import UsageError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as err:
        raise UsageError(f"--host {host!r} is not an address this machine knows "
                         f"({err.strerror}); use 127.0.0.1, or an interface's address") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind(address)
        except OSError as err:
            raise UsageError(f"cannot listen on {host}:{port}: {err.strerror}. Pick another "
                             "--port (0 picks a free one), or stop what is using it.") from None


def exposure_warning(host: str, api_key: str | None) -> str | None:
    """What to tell a user who listens beyond this machine's loopback; None on loopback."""
    import ipaddress

    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if loopback:
        return None
    return (f"listening on {host}: anyone who can reach this machine on that interface can use "
            "the model" + ("" if api_key else "; add --api-key KEY to require a key"))


def model_name(run_dir: Path) -> str:
    return Path(run_dir).resolve().name
