"""The client covers the vendor reference exactly: every path, every documented parameter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from gateway.vendor_api import ALL_ENDPOINTS, BY_COMMAND, BY_PATH, VendorClient
from gateway.vendor_api.endpoint import UploadFile

ROOT = Path(__file__).resolve().parents[3]
PACKAGED_SPEC = ROOT / "gateway" / "vendor_api" / "spec" / "endpoints.json"
COMMANDS = ROOT / "gateway" / "vendor_api" / "spec" / "commands.json"

# Documented exceptions to "the model matches the table", each with its reason in the generator.
TYPE_OVERRIDES = {("/room/get_record_list", "room_id"): "string"}
# Parameters the tables omit but the changelog or examples use (docs/vendor-reference-audit.md).
ADDED = {
    "/room/create": {"enable_voice_activated"},
    "/room/update": {"enable_voice_activated"},
    "/room/get_record": {"enable_fuzzy_query"},
    "/room/mix_live/start": {"audio_mixer_users", "record_id"},
    "/sip/account/create": {"number"},
    "/sip/account/update": {"number"},
    "/room/delete_record": {"room_id"},
    "/media/play": {"name"},
}
SECRET_PARAMS = {"password", "host_password", "access_key", "secret_key"}
PY_TYPES: dict[str, Any] = {"string": str, "int": int, "bool": bool, "file": UploadFile}


SPEC_ENDPOINTS = json.loads(PACKAGED_SPEC.read_text(encoding="utf-8"))["endpoints"]


def test_every_command_name_has_its_endpoint() -> None:
    """The 71 command types of spec/commands.json are the client's commands, path for path."""
    commands = json.loads(COMMANDS.read_text(encoding="utf-8"))["commands"]
    assert len(commands) == 71
    assert {name: path for path, (name, _) in commands.items()} == {
        name: e.path for name, e in BY_COMMAND.items()
    }


def test_generated_code_is_up_to_date() -> None:
    """The endpoint modules are what the generator makes of the spec today."""
    proc = subprocess.run(
        [sys.executable, "scripts/gen_vendor_endpoints.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_every_path_has_exactly_one_endpoint() -> None:
    """The client knows the 73 documented paths and no others."""
    assert sorted(e["path"] for e in SPEC_ENDPOINTS) == sorted(e.path for e in ALL_ENDPOINTS)
    assert len(ALL_ENDPOINTS) == 73


@pytest.mark.parametrize("entry", SPEC_ENDPOINTS, ids=lambda e: e["path"])
def test_endpoint_has_client_method_and_documented_parameters(entry: dict[str, Any]) -> None:
    """Each path has a client method whose request model is the documented parameter table."""
    endpoint = BY_PATH[entry["path"]]
    method_name = "".join(
        f"_{c.lower()}" if c.isupper() else c for c in endpoint.command_type
    ).lstrip("_")
    assert callable(getattr(VendorClient, method_name, None)), f"no client method {method_name}"
    documented = {p["name"]: p for p in entry["params"] if p["name"] != "token"}
    fields = endpoint.request_model.model_fields
    added = {
        name
        for name, f in fields.items()
        if isinstance(f.json_schema_extra, dict)
        and f.json_schema_extra.get("x-printed-type") == "(not in the table)"
    }
    assert added <= ADDED.get(entry["path"], set()), "only the audited additions"
    assert set(fields) - added == set(documented) - set(endpoint.skipped_params)
    for name, field in fields.items():
        if name in added:
            assert not field.is_required()
            continue
        param = documented[name]
        assert field.is_required() == param["required"], name
        vendor_type = TYPE_OVERRIDES.get((entry["path"], name), param["type"])
        extra = field.json_schema_extra
        assert isinstance(extra, dict)
        assert extra["x-vendor-type"] == vendor_type, name
        expected = PY_TYPES.get(vendor_type)
        if name in SECRET_PARAMS:
            expected = SecretStr  # secrets are typed so that no repr shows them
        if expected is not None:
            assert expected in (field.annotation, *getattr(field.annotation, "__args__", ())), name
    # Methods: POST wherever the vendor accepts it, GET only where it is the only method.
    assert endpoint.method == ("POST" if "POST" in entry["methods"] else "GET")
    assert endpoint.at_root == (entry["path"] in ("/uploadfile", "/attachment"))


def test_only_the_unreadable_parameter_is_left_out() -> None:
    """The one parameter without a legible name is the only one the client cannot send."""
    skipped = {(e.path, p) for e in ALL_ENDPOINTS for p in e.skipped_params}
    assert len(skipped) == 1
    assert next(iter(skipped))[0] == "/room/mix_record/start"
