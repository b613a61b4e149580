"""`python -m gateway` is the `gateway` command."""

from gateway.app.cli import main

__all__: list[str] = []

main()
