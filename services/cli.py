"""The ``earshot`` command line.

- ``earshot up``: every service in one process with embedded defaults (no servers, no keys).
- ``earshot serve SERVICE``: one service, for the distributed mode.
- ``earshot migrate``: run database migrations (a separate step in the distributed mode).
- ``earshot version``.

Services run on uvloop when it is installed (:mod:`services.common.eventloop`).
"""

from __future__ import annotations

import faulthandler
import sys
import traceback
from collections.abc import Coroutine
from typing import Any

import typer

from services.common import eventloop
from services.common.settings import ConfigurationError, load_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Earshot audio-intelligence platform.")


def _settings(**overrides: object):  # type: ignore[no-untyped-def]
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except ConfigurationError as exc:
        typer.echo(f"earshot: {exc}", err=True)
        raise typer.Exit(2) from None


def _check_settings(services: tuple[str, ...] | list[str]) -> None:
    """Validate every settings class of ``services``; exit 2 with one line on a bad variable."""
    from services.platform import check_settings

    try:
        check_settings(services)
    except ConfigurationError as exc:
        typer.echo(f"earshot: {exc}", err=True)
        raise typer.Exit(2) from None


def crash_log() -> None:
    """Make a fatal signal (``SIGBUS``, ``SIGSEGV``, ``SIGFPE``, ``SIGABRT``, ``SIGILL``) write
    every thread's Python traceback to stderr before the process dies (:mod:`faulthandler`):
    a crash in native code never ends the platform without a line saying where (issue 15's
    ``SIGBUS`` left none)."""
    faulthandler.enable(file=sys.stderr, all_threads=True)


def _run(main: Coroutine[Any, Any, None], *, debug: bool = False) -> None:
    """Run the platform; a port that another server holds, or a dependency that stayed
    unreachable for EARSHOT_STARTUP_TIMEOUT_S, ends it with one line and exit 1 (the
    traceback too when ``debug``: EARSHOT_LOG_LEVEL=debug). A fatal signal prints the
    tracebacks of every thread (:func:`crash_log`)."""
    from services.common.rpc import PortInUse
    from services.common.startup import DependencyUnavailable

    crash_log()
    try:
        eventloop.run(main)  # uvloop when installed
    except (PortInUse, DependencyUnavailable) as exc:
        if debug:
            traceback.print_exception(exc)
        typer.echo(f"earshot: {exc}", err=True)
        raise typer.Exit(1) from None


@app.command()
def up(
    host: str = typer.Option(None, help="Interface to listen on (EARSHOT_HOST, default 127.0.0.1)."),
    port: int = typer.Option(None, help="HTTP port (EARSHOT_PORT / PORT, default 8000)."),
) -> None:
    """Start the whole platform in one process on http://HOST:PORT (docs at /docs)."""
    from services.platform import SERVICES, serve

    settings = _settings(host=host, port=port)
    _check_settings(SERVICES)
    _run(serve(settings, SERVICES, run_migrations=True), debug=settings.log_level == "debug")


@app.command("serve")
def serve_one(
    service: str = typer.Argument(..., help="gateway, auth, transcription, analysis, anc or media."),
    host: str = typer.Option(None, help="HTTP interface (gateway only)."),
    port: int = typer.Option(None, help="HTTP port (gateway only)."),
) -> None:
    """Run one service (distributed mode). Migrations are NOT run: use `earshot migrate`."""
    from services.platform import SERVICES, serve

    if service not in SERVICES:
        typer.echo(f"earshot: unknown service {service!r}; choose from {', '.join(SERVICES)}", err=True)
        raise typer.Exit(2)
    settings = _settings(host=host, port=port)
    _check_settings([service])
    _run(serve(settings, [service], run_migrations=False), debug=settings.log_level == "debug")


@app.command()
def migrate() -> None:
    """Upgrade every service's tables to the newest migration (waits for the database for
    EARSHOT_STARTUP_TIMEOUT_S, then exits 1 with one line)."""
    from services.common.logging import configure_logging
    from services.platform import migrate as run

    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    _run(run(settings), debug=settings.log_level == "debug")
    typer.echo("migrations applied")


@app.command()
def version() -> None:
    """Print Earshot's version."""
    from importlib.metadata import version as v

    typer.echo(f"earshot {v('earshot')} (python {sys.version.split()[0]})")


from services.commands import users as _users  # noqa: E402

app.add_typer(_users.app, name="users")

from services.commands import anc as _anc  # noqa: E402

app.add_typer(_anc.app, name="anc")

from services.commands import analyze as _analyze  # noqa: E402

app.command("analyze")(_analyze.analyze)

from services.commands import transcribe as _transcribe  # noqa: E402

app.command("transcribe")(_transcribe.transcribe)

from services.commands import render as _render  # noqa: E402

app.command("render")(_render.render)

if __name__ == "__main__":
    app()
