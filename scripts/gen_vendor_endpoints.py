"""Generate the vendor endpoint modules and the typed command classes from the vendor spec.

The vendor API is described once, as data, in ``gateway/vendor_api/spec/endpoints.json``; the
command name and kind of each path in ``gateway/vendor_api/spec/commands.json``. Both live in
the repository and nothing here reads outside it. This script turns both into typed
request/response models and endpoint descriptors, one module per vendor area, plus the
client's one-method-per-endpoint mixin and the producer's one class per command type
(``gateway/client/commands.py``). The output is committed, so readers and type checkers see
plain code; a unit test runs ``--check`` so the code never drifts from the data.

Usage: python scripts/gen_vendor_endpoints.py [--check]
"""

from __future__ import annotations

import argparse
import json
import keyword
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "gateway" / "vendor_api" / "spec" / "endpoints.json"
COMMANDS = ROOT / "gateway" / "vendor_api" / "spec" / "commands.json"
OUT = ROOT / "gateway" / "vendor_api" / "generated" / "endpoints"
CLIENT_OUT = ROOT / "gateway" / "vendor_api" / "generated" / "client_methods.py"
COMMANDS_OUT = ROOT / "gateway" / "client" / "commands.py"

AREA_MODULES = {
    "app/auth": "app",
    "room": "room",
    "participants": "participants",
    "recording": "recording",
    "live": "live",
    "avc": "avc",
    "media": "media",
    "transcode/files": "transcode",
    "sip": "sip",
    "device": "device",
    "upload": "upload",
    "media_server": "media_server",
    "chat log": "chat",
}

# Endpoints that are no Kafka command (spec/commands.json): the gateway manages tokens itself, and
# /attachment is a file download. They still get a client method.
NON_COMMAND_NAMES = {"/app/get_token": "TokenGet", "/attachment": "AttachmentDownload"}

# Where the reference's printed type is not what the gateway sends, and why.
TYPE_OVERRIDES = {
    # /room/get_record_list types room_id as int, every other endpoint as string; room ids
    # are digit strings that may carry leading zeros, so the gateway keeps them as text.
    ("/room/get_record_list", "room_id"): "string",
}

# Parameters the vendor's own tables omit but its changelog or example requests use
# (docs/vendor-reference-audit.md, item 2): optional, sent only when the caller sets them.
ADDED_PARAMS: dict[str, list[tuple[str, str, str]]] = {
    "/room/create": [("enable_voice_activated", "bool", "changelog 2024/11/14")],
    "/room/update": [("enable_voice_activated", "bool", "changelog 2024/11/14")],
    "/room/get_record": [("enable_fuzzy_query", "bool", "changelog")],
    "/room/mix_live/start": [
        ("audio_mixer_users", "json-string", "changelog"),
        ("record_id", "string", "example request"),
    ],
    "/sip/account/create": [("number", "string", "example request (number=23)")],
    "/sip/account/update": [("number", "string", "example request (number=23)")],
    "/room/delete_record": [("room_id", "string", "example request")],
    "/media/play": [("name", "string", "example request")],
}

# Parameters whose value is secret: typed SecretStr so repr, logs and errors never show them.
SECRET_PARAMS = {"password", "host_password", "access_key", "secret_key"}

PY_TYPES = {
    "string": "str",
    "int": "int",
    "bool": "bool",
    "json-string": "JsonParam",
    "file": "UploadFile",
}


def command_names() -> dict[str, tuple[str, str]]:
    """Map vendor path -> (command type, kind), from spec/commands.json."""
    data = json.loads(COMMANDS.read_text(encoding="utf-8"))
    return {path: (name, kind) for path, (name, kind) in data["commands"].items()}


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def is_identifier(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def field_line(path: str, p: dict) -> str:
    vtype = TYPE_OVERRIDES.get((path, p["name"]), p["type"])
    py = "SecretStr" if p["name"] in SECRET_PARAMS and vtype == "string" else PY_TYPES[vtype]
    meaning = p.get("meaning") or ""
    extra: dict[str, object] = {"x-vendor-type": vtype, "x-printed-type": p["type_as_printed"]}
    if p.get("default") is not None:
        # Documented vendor defaults are recorded, not sent: the vendor applies its own.
        extra["x-vendor-default"] = p["default"]
    args = [f"description={meaning!r}", f"json_schema_extra={extra!r}"]
    if p["required"]:
        return f"    {p['name']}: {py} = Field({', '.join(args)})"
    return f"    {p['name']}: {py} | None = Field(None, {', '.join(args)})"


def response_fields(e: dict) -> list[str]:
    """Top-level answer fields: the success example's keys, in order (ret/code/msg are base)."""
    keys: list[str] = []
    examples = [e.get("success_example")] + [
        a.get("example") for a in e.get("additional_examples", []) if isinstance(a, dict)
    ]
    for ex in examples:
        if isinstance(ex, dict):
            for k in ex:
                if k not in ("ret", "code", "msg") and is_identifier(k) and k not in keys:
                    keys.append(k)
    return keys


def render_area(area: str, endpoints: list[dict], names: dict[str, tuple[str, str]]) -> str:
    out: list[str] = []
    exported: list[str] = []
    descriptors: list[str] = []
    for e in endpoints:
        path = e["path"]
        ctype, kind = names.get(path, (NON_COMMAND_NAMES.get(path, ""), "query"))
        if path == "/attachment":
            kind = "query"
        req, resp = f"{ctype}Request", f"{ctype}Response"
        const = snake(ctype).upper()
        exported += [req, resp, const]
        params = [p for p in e["params"] if p["name"] != "token"] + [
            {
                "name": name,
                "type": vtype,
                "type_as_printed": "(not in the table)",
                "required": False,
                "default": None,
                "meaning": f"Not in the vendor's parameter table; used in its {source}.",
            }
            for name, vtype, source in ADDED_PARAMS.get(path, [])
        ]
        skipped = [p["name"] for p in params if not is_identifier(p["name"])]
        purpose = (e.get("purpose") or "").replace('"""', "'")
        out += ["", f"class {req}(VendorRequest):", f'    """Parameters of `{path}`: {purpose}']
        if skipped:
            out.append("")
            out.append("    Left out (no legible name in the reference, so it cannot be sent):")
            out += [f"    {s!r}." for s in skipped]
        out.append('    """')
        out.append("")
        fields = [field_line(path, p) for p in params if is_identifier(p["name"])]
        out += fields or ["    pass"]
        rfields = response_fields(e)
        out += ["", "", f"class {resp}(VendorAnswer):", f'    """Answer of `{path}`."""', ""]
        out += [f"    {k}: Any = None" for k in rfields] or ["    pass"]
        out.append("")
        method = "POST" if "POST" in e["methods"] else "GET"
        body = "multipart" if path == "/uploadfile" else ("form" if method == "POST" else "query")
        descriptors.append(
            f"{const}: Endpoint[{req}, {resp}] = Endpoint(\n"
            f"    path={path!r},\n"
            f"    methods={tuple(e['methods'])!r},\n"
            f"    method={method!r},\n"
            f"    encoding={body!r},\n"
            f"    at_root={path in ('/uploadfile', '/attachment')!r},\n"
            f"    needs_token={path != '/app/get_token'!r},\n"
            f"    command_type={ctype!r},\n"
            f"    kind={kind!r},\n"
            f"    is_command={path not in NON_COMMAND_NAMES!r},\n"
            f"    request_model={req},\n"
            f"    response_model={resp},\n"
            f"    skipped_params={tuple(skipped)!r},\n"
            ")"
        )
    out.append("")
    out += descriptors
    consts = [n for n in exported if n.upper() == n]
    out += ["", f"ENDPOINTS = ({', '.join(consts)},)", ""]
    body = "\n".join(out)
    used = [n for n in ("JsonParam", "UploadFile") if f": {n}" in body]
    pyd = (["Field"] if "Field(" in body else []) + (["SecretStr"] if "SecretStr" in body else [])
    header = [
        f'"""Vendor area `{area}`: request/response models and endpoint descriptors.',
        "",
        "Generated by scripts/gen_vendor_endpoints.py from gateway/vendor_api/spec/endpoints.json;",
        "do not edit by hand.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        *(["from typing import Any", ""] if ": Any" in body else []),
        *([f"from pydantic import {', '.join(pyd)}", ""] if pyd else []),
        "from gateway.vendor_api.endpoint import "
        + ", ".join(["Endpoint", *used, "VendorAnswer", "VendorRequest"]),
        "",
        "__all__ = [" + ", ".join(repr(n) for n in sorted([*exported, "ENDPOINTS"])) + "]",
        "",
    ]
    return "\n".join(header) + "\n" + body


def render_client(all_endpoints: list[tuple[str, dict]], names: dict) -> str:
    out = [
        '"""One public method per vendor endpoint (generated; do not edit by hand).',
        "",
        "Generated by scripts/gen_vendor_endpoints.py. Each method takes the endpoint's request",
        "model and returns its answer model; `VendorClient.call` does the work.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from abc import ABC, abstractmethod",
        "",
        "from gateway.vendor_api.generated import endpoints as ep",
        "from gateway.vendor_api.endpoint import AnswerT, Endpoint, RequestT",
        "",
        '__all__ = ["VendorEndpointMethods"]',
        "",
        "",
        "class VendorEndpointMethods(ABC):",
        '    """The vendor API, one coroutine per endpoint."""',
        "",
        "    @abstractmethod",
        "    async def call(",
        "        self, endpoint: Endpoint[RequestT, AnswerT], request: RequestT",
        "    ) -> AnswerT:",
        '        """Send one request to the vendor and return its (successful) answer."""',
    ]
    for module, e in all_endpoints:
        path = e["path"]
        ctype = names.get(path, (NON_COMMAND_NAMES.get(path, ""), ""))[0]
        const = snake(ctype).upper()
        meth = snake(ctype)
        out += [
            "",
            f"    async def {meth}(\n"
            f"        self, request: ep.{module}.{ctype}Request\n"
            f"    ) -> ep.{module}.{ctype}Response:",
            f'        """`{"POST" if "POST" in e["methods"] else "GET"} {path}`."""',
            f"        return await self.call(ep.{module}.{const}, request)",
        ]
    out.append("")
    return "\n".join(out)


# The Kafka payload of a command whose payload is not the vendor request model.
PAYLOAD_MODELS = {"FileUpload": ("gateway.commands.upload", "FileUploadPayload")}


def render_commands(all_endpoints: list[tuple[str, dict]], names: dict) -> str:
    """gateway/client/commands.py: one class per command type, named as the type."""
    commands = [
        (module, e, names[e["path"]][0])
        for module, e in all_endpoints
        if e["path"] not in NON_COMMAND_NAMES
    ]
    extra_imports = sorted({f"from {m} import {c}" for m, c in PAYLOAD_MODELS.values()})
    out = [
        '"""One class per command type, named as the type (generated; do not edit by hand).',
        "",
        "Generated by scripts/gen_vendor_endpoints.py. Each class is the payload model the",
        "gateway validates the command with, plus :class:`~gateway.client.command.Command`:",
        "its ``command_type`` and the answer model :meth:`Commands.send` returns.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import ClassVar",
        "",
        *extra_imports,
        "from gateway.client.command import Command",
        "from gateway.vendor_api.endpoint import VendorAnswer",
        "from gateway.vendor_api.generated import endpoints as ep",
        "",
        "__all__ = ["
        + ", ".join(repr(c) for _, _, c in sorted(commands, key=lambda t: t[2]))
        + "]",
    ]
    for module, e, ctype in commands:
        payload = PAYLOAD_MODELS.get(ctype, (None, f"ep.{module}.{ctype}Request"))[1]
        answer = f"ep.{module}.{ctype}Response"
        method = "POST" if "POST" in e["methods"] else "GET"
        out += [
            "",
            "",
            f"class {ctype}({payload}, Command[{answer}]):",
            f'    """The `{ctype}` command: `{method} {e["path"]}`."""',
            "",
            f"    command_type: ClassVar[str] = {ctype!r}",
            f"    answer_model: ClassVar[type[VendorAnswer]] = {answer}",
        ]
    out.append("")
    return "\n".join(out)


def render_init(modules: list[str]) -> str:
    lines = [
        '"""Vendor endpoints by area (generated by scripts/gen_vendor_endpoints.py)."""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Any",
        "",
        "from gateway.vendor_api.endpoint import Endpoint",
        "from gateway.vendor_api.generated.endpoints import " + ", ".join(modules),
        "",
        "__all__ = ["
        + ", ".join(repr(n) for n in ["ALL_ENDPOINTS", "BY_COMMAND", "BY_PATH", *modules])
        + "]",
        "",
        "ALL_ENDPOINTS: tuple[Endpoint[Any, Any], ...] = (",
        *[f"    *{m}.ENDPOINTS," for m in modules],
        ")",
        "BY_PATH: dict[str, Endpoint[Any, Any]] = {e.path: e for e in ALL_ENDPOINTS}",
        "BY_COMMAND: dict[str, Endpoint[Any, Any]] = {",
        "    e.command_type: e for e in ALL_ENDPOINTS if e.is_command",
        "}",
        "",
    ]
    return "\n".join(lines)


def generate() -> dict[Path, str]:
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    names = command_names()
    by_area: dict[str, list[dict]] = {}
    for e in spec["endpoints"]:
        by_area.setdefault(AREA_MODULES[e["area"]], []).append(e)
    files: dict[Path, str] = {}
    ordered: list[tuple[str, dict]] = []
    for module, eps in by_area.items():
        files[OUT / f"{module}.py"] = render_area(module, eps, names)
        ordered += [(module, e) for e in eps]
    files[OUT / "__init__.py"] = render_init(list(by_area))
    files[CLIENT_OUT] = render_client(ordered, names)
    files[COMMANDS_OUT] = render_commands(ordered, names)
    return files


def formatted(files: dict[Path, str]) -> dict[Path, str]:
    """Run ruff format over the generated text so the committed code reads like hand code."""
    result = {}
    for path, text in files.items():
        for step in (["check", "--fix-only", "--exit-zero"], ["format"]):
            text = subprocess.run(  # noqa: S603 - our own interpreter running ruff
                [sys.executable, "-m", "ruff", *step, "--stdin-filename", str(path), "-"],
                input=text,
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            ).stdout
        result[path] = text
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed code drifted")
    args = parser.parse_args()
    files = formatted(generate())
    drift = [p for p, t in files.items() if not p.exists() or p.read_text(encoding="utf-8") != t]
    if args.check:
        for p in drift:
            print(f"out of date: {p.relative_to(ROOT)}", file=sys.stderr)
        return 1 if drift else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for p in drift:
        p.write_text(files[p], encoding="utf-8")
        print(f"wrote {p.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
