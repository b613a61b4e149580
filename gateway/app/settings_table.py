"""The README's settings table, rendered from the settings models so the two cannot drift."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from gateway.settings import GatewaySettings

__all__ = ["settings_rows", "settings_table", "update_readme"]


# Defaults computed when the settings are read, said in words: the value on this machine
# would be wrong in the README.
_FACTORY_WORDS: dict[Any, str] = {socket.gethostname: "the host name (the pod name in Kubernetes)"}


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        if field.default_factory in _FACTORY_WORDS:
            return _FACTORY_WORDS[field.default_factory]
        value = field.default_factory()  # type: ignore[call-arg]
    else:
        value = field.default
    if isinstance(value, SecretStr):
        return "(secret)"
    if value is None or value == [] or value == {}:
        return "none"
    return f"`{json.dumps(value, default=str)}`"


def settings_rows(
    model: type[BaseModel] = GatewaySettings, prefix: str = "GATEWAY_"
) -> list[tuple[str, str, str]]:
    """(environment variable, default, description) for every leaf setting."""
    rows: list[tuple[str, str, str]] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        env = f"{prefix}{name.upper()}"
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows += settings_rows(annotation, f"{env}__")
        else:
            rows.append((env, _default(field), field.description or ""))
    return rows


def settings_table() -> str:
    """The markdown table."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    lines += [f"| `{env}` | {default} | {meaning} |" for env, default, meaning in settings_rows()]
    return "\n".join(lines)


def update_readme(path: str = "README.md") -> bool:
    """Rewrite the table between the README's markers; True if it changed."""
    readme = Path(path)
    text = readme.read_text(encoding="utf-8")
    new = re.sub(
        r"(<!-- settings-table:start[^>]*-->\n).*?(<!-- settings-table:end -->)",
        lambda m: m.group(1) + settings_table() + "\n" + m.group(2),
        text,
        flags=re.S,
    )
    readme.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    print("README.md updated" if update_readme() else "README.md already up to date")
