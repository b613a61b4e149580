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
def simulator(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 9610,
) -> None:
    """Run the vendor simulator (settings: GATEWAY_SIMULATOR_*)."""
    from gateway.simulator import SimulatorSettings, serve

    serve(SimulatorSettings(host=host, port=port))


@app.command()
def demo(
    vendor_url: Annotated[
        str | None,
        typer.Option(help="use a simulator already running here instead of starting one"),
    ] = None,
) -> None:
    """Walk through a short scenario against the simulator, printing each call and answer."""
    from gateway.app.demo import run_demo

    raise typer.Exit(asyncio.run(run_demo(vendor_url)))


def main() -> None:
    """Entry point of the ``gateway`` script."""
    app()
