"""``python -m gateway.simulator [--host H] [--port P] [--seed N]``."""

from __future__ import annotations

import argparse

from .config import SimulatorSettings
from .server import serve

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Parse the command line over the environment's settings and serve."""
    parser = argparse.ArgumentParser(prog="python -m gateway.simulator", description=__doc__)
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 9610)")
    parser.add_argument("--seed", type=int, help="seed for ids and faults (reproducible runs)")
    options = parser.parse_args(argv)
    overrides = {k: v for k, v in vars(options).items() if v is not None}
    serve(SimulatorSettings(**overrides))


if __name__ == "__main__":
    main()
