"""Composition root: wiring, lifespan, CLI. The only package that reads settings."""

__all__: list[str] = []
