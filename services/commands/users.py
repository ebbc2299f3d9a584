"""``earshot users create|list|disable|enable``: account administration for operators.

Runs the auth service's operations directly on the configured database (a composition
root, like ``earshot migrate``). Disabling an account revokes its sessions and publishes
``earshot.auth.session_revoked.v1`` on the configured bus, so running gateways refuse its
access tokens (with ``EARSHOT_BUS_URL=kafka://...``; an embedded platform in another
process has its own in-memory bus and learns it at the user's next refresh).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from typing import Any

import typer

from services.common.settings import ConfigurationError, load_settings
from services.common.timefmt import iso_z

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Manage user accounts.")


def _run(work: Callable[[Any], Awaitable[Any]]) -> Any:
    from services.auth.core import AuthError
    from services.auth.service import build_core, migrate
    from services.common.runtime import create_runtime

    try:
        settings = load_settings()
    except ConfigurationError as exc:
        typer.echo(f"earshot: {exc}", err=True)
        raise typer.Exit(2) from None

    async def main() -> Any:
        await migrate(settings.effective_database_url)
        runtime = await create_runtime(settings, client_id="earshot-users")
        try:
            core, engine = await build_core(runtime)
            try:
                return await work(core)
            finally:
                await engine.dispose()
        finally:
            await runtime.close()

    try:
        return asyncio.run(main())
    except (AuthError, ConfigurationError) as exc:
        typer.echo(f"earshot: {getattr(exc, 'message', exc)}", err=True)
        raise typer.Exit(1) from None


def _row(user: Any) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "auth_provider": user.auth_provider,
        "is_active": bool(user.is_active),
        "created_at": iso_z(user.created_at, seconds=False),
    }


@app.command("create")
def create(
    email: str = typer.Argument(..., help="Email address (normalised to lower case)."),
    name: str = typer.Option("", help="Display name."),
    password: str = typer.Option(
        None, help="Password; else EARSHOT_USER_PASSWORD, else asked for without echo.", show_default=False
    ),
) -> None:
    """Create a password account; prints it as JSON."""
    secret = (
        password
        or os.environ.get("EARSHOT_USER_PASSWORD")
        or typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    )
    user = _run(lambda core: core.create_user(email, secret, name))
    typer.echo(json.dumps(_row(user)))


@app.command("list")
def list_users(as_json: bool = typer.Option(False, "--json", help="One JSON object per line.")) -> None:
    """List every account, oldest first."""
    users = _run(lambda core: core.list_users())
    for user in users:
        row = _row(user)
        if as_json:
            typer.echo(json.dumps(row))
        else:
            state = "active" if row["is_active"] else "disabled"
            typer.echo(f"{row['id']}  {row['email']:<40} {state:<8} {row['auth_provider']:<9} {row['name']}")


@app.command("disable")
def disable(user: str = typer.Argument(..., help="Email or user id.")) -> None:
    """Disable an account: no more logins or refreshes, and its sessions are revoked."""
    row = _run(lambda core: core.set_active(user, False))
    typer.echo(json.dumps(_row(row)))


@app.command("enable")
def enable(user: str = typer.Argument(..., help="Email or user id.")) -> None:
    """Enable a disabled account again."""
    row = _run(lambda core: core.set_active(user, True))
    typer.echo(json.dumps(_row(row)))
