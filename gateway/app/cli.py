"""The ``gateway`` command line (typer)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

__all__ = ["app", "main"]

app = typer.Typer(
    help="Event-driven gateway between a Kafka bus and the video-conferencing vendor's API.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def run(
    role: Annotated[str, typer.Option(help="all, or one of: commands, webhooks, poller")] = "all",
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="commands role only: this many processes (one per core; docs/operations.md)",
        ),
    ] = 1,
) -> None:
    """Run the gateway's roles until SIGTERM (settings: GATEWAY_*)."""
    import uvloop

    from gateway.app.runner import ROLES, run_roles
    from gateway.settings import GatewaySettings
    from gateway.telemetry.logs import configure_logging
    from gateway.telemetry.tracing import configure_tracing

    roles = list(ROLES) if role == "all" else [role]
    if any(r not in ROLES for r in roles):
        raise typer.BadParameter(f"unknown role {role!r}; choose all or one of {', '.join(ROLES)}")
    settings = GatewaySettings()
    missing = settings.missing_vendor_keys()
    if missing:
        # No defaults for secrets: a gateway must not start on the simulator's demo keys.
        typer.echo(
            f"gateway run: the vendor keys are not set: {', '.join(missing)}"
            " (no defaults; for the simulator use demo_access / demo_secret)",
            err=True,
        )
        raise typer.Exit(2)
    if workers > 1:
        if roles != ["commands"]:
            raise typer.BadParameter("--workers is for --role commands only")
        from gateway.app.workers import run_workers

        raise typer.Exit(run_workers(settings, workers))
    json_lines = None if settings.log_format == "auto" else settings.log_format == "json"
    configure_logging(settings.log_level, json_lines)
    configure_tracing("vendor-gateway")
    # uvloop: the C event loop uvicorn already uses; several times less CPU per message.
    uvloop.run(run_roles(settings, roles))


@app.command()
def send(
    command_type: Annotated[str, typer.Argument(metavar="TYPE", help="e.g. RoomCreate")],
    payload: Annotated[str, typer.Option(help="the payload as JSON")] = "{}",
    key: Annotated[str | None, typer.Option(help="Kafka key (default: payload room_id)")] = None,
    idempotency_key: Annotated[str | None, typer.Option(help="default: the command id")] = None,
    account: Annotated[str | None, typer.Option(help="vendor account name")] = None,
    wait: Annotated[float | None, typer.Option(help="seconds to wait for the result")] = None,
) -> None:
    """Put one command on the commands topic; with --wait, print its result event."""
    import json

    from gateway.app.send import build_envelope, send_command
    from gateway.settings import GatewaySettings

    try:
        body = json.loads(payload)
    except ValueError as exc:
        raise typer.BadParameter(f"--payload is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise typer.BadParameter("--payload must be a JSON object")
    envelope = build_envelope(command_type, body, idempotency_key=idempotency_key, account=account)
    result = asyncio.run(send_command(GatewaySettings(), envelope, key=key, wait_s=wait))
    if wait is None:
        typer.echo(json.dumps({"sent": envelope["id"]}))
    elif result is None:
        typer.echo(json.dumps({"sent": envelope["id"], "result": None, "waited_s": wait}))
        raise typer.Exit(2)
    else:
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))


dlq = typer.Typer(help="Dead letters: look at them and send them back.", no_args_is_help=True)
app.add_typer(dlq, name="dlq")


@dlq.command("replay")
def dlq_replay(
    since: Annotated[str, typer.Option(help="ISO time, e.g. 2026-11-27T12:00:00Z")],
    until: Annotated[str | None, typer.Option(help="ISO time; default: now")] = None,
    dry_run: Annotated[bool, typer.Option(help="count only, send nothing")] = False,
    limit: Annotated[int | None, typer.Option(help="at most this many records")] = None,
) -> None:
    """Send the DLQ records written between --since and --until back to the commands topic."""
    import json
    from datetime import datetime

    from gateway.app.dlq import replay_dead_letters
    from gateway.settings import GatewaySettings

    def when(text: str) -> datetime:
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise typer.BadParameter(f"not an ISO time: {text!r}") from None

    report = asyncio.run(
        replay_dead_letters(
            GatewaySettings(),
            when(since),
            when(until) if until else None,
            dry_run=dry_run,
            limit=limit,
        )
    )
    typer.echo(
        json.dumps(
            {
                "read": report.read,
                "replayed": report.replayed,
                "skipped": report.skipped,
                "reasons": report.reasons,
            }
        )
    )


@app.command()
def schemas(
    check: Annotated[bool, typer.Option(help="fail if schemas/ differs from the code")] = False,
    out: Annotated[str, typer.Option(help="where to write")] = "schemas",
) -> None:
    """Write JSON Schemas of the envelope, every command payload and every event, and AsyncAPI."""
    from pathlib import Path

    from gateway.app.schemas import check_schemas, write_schemas

    if check:
        drift = check_schemas(Path(out))
        for rel in drift:
            typer.echo(f"out of date: {out}/{rel}", err=True)
        raise typer.Exit(1 if drift else 0)
    for rel in write_schemas(Path(out)):
        typer.echo(f"wrote {out}/{rel}")


@app.command()
def simulator(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 9610,
) -> None:
    """Run the vendor simulator (settings: GATEWAY_SIMULATOR_*)."""
    try:
        from gateway.simulator import SimulatorSettings, serve
    except ImportError:
        # The production image leaves the simulator out (Dockerfile: target simulator has it).
        typer.echo("the vendor simulator is not installed in this image", err=True)
        raise typer.Exit(2) from None

    serve(SimulatorSettings(host=host, port=port))


@app.command()
def demo(
    vendor_url: Annotated[
        str | None,
        typer.Option(help="use a simulator already running here instead of starting one"),
    ] = None,
    bootstrap: Annotated[str, typer.Option(help="Kafka bootstrap servers")] = "127.0.0.1:9092",
) -> None:
    """The whole loop on this machine: simulator, gateway, real commands and their results."""
    from gateway.app.demo import run_demo

    raise typer.Exit(asyncio.run(run_demo(vendor_url, bootstrap)))


def main() -> None:
    """Entry point of the ``gateway`` script."""
    app()
