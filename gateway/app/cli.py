"""The ``gateway`` command line (typer)."""

from __future__ import annotations

import asyncio
import logging
import traceback
from enum import IntEnum
from typing import Annotated, Any

import typer

# typer 0.29 vendors click: its parser raises these, not the click package's.
from typer._click import Context
from typer._click import exceptions as click_errors
from typer.core import TyperGroup

__all__ = ["ExitCode", "app", "main"]


class ExitCode(IntEnum):
    """The exit codes of every command (README.md, "Command line")."""

    OK = 0
    UNEXPECTED = 1  # a bug or an error the gateway does not know; also `schemas --check`: drift
    USAGE = 2  # an option, an argument or a setting is wrong (click's code for bad usage)
    KAFKA = 3  # no broker answered, or the broker refused
    TOPICS_MISSING = 4  # a topic the command needs does not exist
    TOPICS_DIFFER = 5  # `gateway topics`: a topic differs from what the gateway relies on
    NO_RESULT = 6  # `send --wait`: no result within the wait; `events --max`: too few events


class _OneLineErrors(TyperGroup):
    """Every failure ends as one line on stderr that says what to do, and an exit code of
    :class:`ExitCode`; ``--debug`` puts the traceback before it."""

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, click_errors.NoArgsIsHelpError):
            raise  # an exit code already, or help to show
        except Exception as exc:
            code, message = _explain(exc)
            if ctx.params.get("debug"):
                typer.echo("".join(traceback.format_exception(exc)), err=True, nl=False)
            where = " ".join(filter(None, (ctx.command_path, ctx.invoked_subcommand)))
            typer.echo(f"{where}: {' '.join(message.split())}", err=True)
            raise typer.Exit(code) from None


def _explain(exc: Exception) -> tuple[int, str]:
    """The exit code for ``exc`` and a line that says what happened and what to do."""
    import tomllib

    from aiokafka.errors import KafkaError
    from pydantic import ValidationError

    from gateway.app.kafka import KafkaUnreachableError
    from gateway.app.topics import MissingTopicsError
    from gateway.redaction import redact_text

    if isinstance(exc, click_errors.UsageError):
        see = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        return ExitCode.USAGE, exc.format_message() + see
    if isinstance(exc, click_errors.ClickException):
        return exc.exit_code, exc.format_message()
    if isinstance(exc, ValidationError) and exc.title.endswith("Settings"):
        # hide_input_in_errors: the reasons name the variable, never its (maybe secret) value.
        reasons = "; ".join(
            "GATEWAY_"
            + "__".join(str(part).upper() for part in e["loc"] if not isinstance(part, int))
            + f": {e['msg']}"
            for e in exc.errors()
        )
        return (
            ExitCode.USAGE,
            f"the settings are not valid: {reasons} (environment or GATEWAY_CONFIG_FILE)",
        )
    if isinstance(exc, tomllib.TOMLDecodeError):
        return ExitCode.USAGE, f"the GATEWAY_CONFIG_FILE is not TOML: {exc}"
    if isinstance(exc, KafkaUnreachableError):
        return ExitCode.KAFKA, (
            f"{exc}: start the broker, or set GATEWAY_KAFKA__BOOTSTRAP_SERVERS to one that runs"
        )
    if isinstance(exc, MissingTopicsError):
        return ExitCode.TOPICS_MISSING, (
            f"{exc}: create them with `gateway topics ensure` (`gateway topics` shows every"
            " topic the settings name)"
        )
    if isinstance(exc, KafkaError):
        return ExitCode.KAFKA, f"Kafka refused: {type(exc).__name__}: {exc}"
    return ExitCode.UNEXPECTED, redact_text(
        f"unexpected {type(exc).__name__}: {exc} (`gateway --debug ...` shows the traceback)"
    )


app = typer.Typer(
    cls=_OneLineErrors,
    help="Event-driven gateway between a Kafka bus and the video-conferencing vendor's API.",
    no_args_is_help=True,
    add_completion=False,
)

DISTRIBUTION = "vendor-gateway"  # pyproject.toml's project name


def _print_version(value: bool) -> None:
    """``--version``: ``gateway <version>`` of the installed distribution, then exit."""
    if not value:
        return
    from importlib.metadata import PackageNotFoundError, version

    from gateway import __version__

    try:
        installed = version(DISTRIBUTION)
    except PackageNotFoundError:  # run from a source tree that was never installed
        installed = __version__
    typer.echo(f"gateway {installed}")
    raise typer.Exit


@app.callback()
def app_options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="print the version and exit",
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="on a failure, show the traceback and the Kafka client's warnings too",
        ),
    ] = False,
) -> None:
    """Options before the command name (``gateway --version``, ``gateway --debug send ...``)."""
    root = logging.getLogger()
    if debug:
        logging.basicConfig(level=logging.WARNING)
    elif not root.handlers:
        # Without a handler Python prints library warnings (aiokafka's "Unable connect to
        # ...") on stderr, next to the one line that says what failed. `gateway run`
        # installs its own handlers.
        root.addHandler(logging.NullHandler())


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
        raise typer.Exit(ExitCode.USAGE)
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
    """Put one command on the commands topic; with --wait, print its result event.

    Exit 4: the commands (or results) topic is missing; 6: no result within the wait."""
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
        typer.echo(
            f"gateway send: no result within {wait:g} s; the command was sent: is a commands"
            " role running on these topics (`gateway run --role commands`)?",
            err=True,
        )
        raise typer.Exit(ExitCode.NO_RESULT)
    else:
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))


@app.command()
def events(
    since: Annotated[
        float | None,
        typer.Option(help="start this many seconds back (default: from now on)", min=0),
    ] = None,
    max_events: Annotated[
        int | None, typer.Option("--max", min=1, help="stop after this many events")
    ] = None,
    wait: Annotated[
        float, typer.Option(help="stop when no event came for this many seconds", min=0.1)
    ] = 30.0,
    event_type: Annotated[
        list[str] | None,
        typer.Option("--type", help="only this type, e.g. room.opened (repeatable)"),
    ] = None,
) -> None:
    """Print the poller's change events from the events topic, one JSON line each.

    Reads without a consumer group (moves no one's offsets). Exit 4: the events topic is
    missing; 6: --max was given and fewer events came within the wait."""
    from gateway.app.events_tail import tail_events
    from gateway.settings import GatewaySettings

    printed = asyncio.run(
        tail_events(
            GatewaySettings(),
            since_s=since,
            max_events=max_events,
            wait_s=wait,
            types=frozenset(event_type or ()),
            emit=typer.echo,
        )
    )
    if max_events is not None and printed < max_events:
        typer.echo(
            f"gateway events: {printed} of {max_events} event(s) within {wait:g} s of quiet;"
            " is a poller running (`gateway run --role poller`)?",
            err=True,
        )
        raise typer.Exit(ExitCode.NO_RESULT)


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


topics = typer.Typer(invoke_without_command=True)  # help: topics_show's docstring
app.add_typer(topics, name="topics")

BrokerTimeout = Annotated[float, typer.Option(min=0.1, help="seconds to wait for the broker")]


@topics.callback()
def topics_show(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table")] = False,
    timeout: BrokerTimeout = 15.0,
) -> None:
    """The Kafka topics the settings name: what the cluster has, and creating the missing.

    Without a command: each topic the gateway uses (commands, results, events, DLQ, the
    poller's lease and state), exists or missing, partitions, replication factor,
    cleanup.policy and min.insync.replicas. Exit 0: all exist as the gateway needs them;
    4: one is missing; 5: one differs from what the gateway relies on."""
    if ctx.invoked_subcommand is not None:
        return
    from gateway.app.topics import cluster_topics, render_table, states_json
    from gateway.settings import GatewaySettings

    states = asyncio.run(cluster_topics(GatewaySettings(), timeout))
    typer.echo(states_json(states) if as_json else render_table(states))
    missing = [s.spec.name for s in states if not s.exists]
    differ = [s.spec.name for s in states if s.status == "differs"]
    if missing:
        typer.echo(
            f"gateway topics: {len(missing)} of {len(states)} topics missing: create them with"
            " `gateway topics ensure`",
            err=True,
        )
        raise typer.Exit(ExitCode.TOPICS_MISSING)
    if differ:
        typer.echo(
            f"gateway topics: {', '.join(differ)} differ from what the gateway relies on (see"
            " above; `gateway topics ensure --alter` sets the configs)",
            err=True,
        )
        raise typer.Exit(ExitCode.TOPICS_DIFFER)


@topics.command("ensure")
def topics_ensure(
    dry_run: Annotated[bool, typer.Option(help="say what would be done, change nothing")] = False,
    alter: Annotated[
        bool,
        typer.Option(
            help="also change existing topics: add partitions up to the settings' count (never"
            " removes any; keys then move to other partitions, so the order of commands in"
            " flight breaks) and set the configs the gateway relies on (cleanup.policy)",
        ),
    ] = False,
    timeout: BrokerTimeout = 15.0,
) -> None:
    """Create the missing topics; a second run creates nothing.

    Partitions and replication factor come from the settings (GATEWAY_KAFKA__TOPIC_PARTITIONS,
    __DLQ_PARTITIONS, __TOPIC_REPLICATION_FACTOR); existing topics are left as they are
    unless --alter."""
    from gateway.app.topics import ensure_gateway_topics, render_actions
    from gateway.settings import GatewaySettings

    actions, states = asyncio.run(
        ensure_gateway_topics(GatewaySettings(), alter=alter, dry_run=dry_run, timeout_s=timeout)
    )
    typer.echo(render_actions(actions, dry_run=dry_run))
    for state in (s for s in states if s.exists):
        for text in state.problems() + state.notes():
            typer.echo(f"gateway topics ensure: {state.spec.name}: {text}", err=True)


@app.command()
def schemas(
    check: Annotated[
        bool,
        typer.Option(
            help="fail if the schemas differ from the code: --out, else ./schemas, else (outside"
            " the repository) the copy packaged with the gateway",
        ),
    ] = False,
    out: Annotated[
        str | None, typer.Option(help="where to write (or check); default: schemas")
    ] = None,
) -> None:
    """Write JSON Schemas of the envelope, every command payload and every event, AsyncAPI,
    and (in the repository) docs/contract.md rendered from it."""
    from pathlib import Path

    from gateway.app.schemas import (
        DEFAULT_DIR,
        check_docs,
        check_schemas,
        in_repository,
        schemas_to_check,
        write_docs,
        write_schemas,
    )

    # docs/ is the repository's: written and checked only when run there, on ./schemas.
    with_docs = out is None and in_repository()
    if check:
        copy = schemas_to_check(out)
        drift = check_schemas(copy.root)
        for rel in drift:
            typer.echo(f"out of date: {copy.shown}/{rel}", err=True)
        stale_docs = check_docs(Path()) if with_docs and not copy.packaged else []
        for rel in stale_docs:
            typer.echo(f"out of date: {rel}", err=True)
        which = copy.shown + (" (the copy packaged with the gateway)" if copy.packaged else "")
        if drift:
            why = "differ from the code" if copy.root.is_dir() else "missing: no such directory"
            typer.echo(f"checked {which}: {len(drift)} file(s) {why}", err=True)
        if stale_docs:
            typer.echo(f"checked {', '.join(stale_docs)}: stale", err=True)
        if drift or stale_docs:
            raise typer.Exit(1)
        typer.echo(f"checked {which}: matches the code")
        return
    target = out or DEFAULT_DIR
    for rel in write_schemas(Path(target)):
        typer.echo(f"wrote {target}/{rel}")
    for rel in write_docs(Path()) if with_docs else []:
        typer.echo(f"wrote {rel}")


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
