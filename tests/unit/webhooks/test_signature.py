"""Standard Webhooks signatures: the spec's vector, rotation, tampering, time, malformed headers."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from gateway.webhooks.errors import SignatureError
from gateway.webhooks.signature import SigningKey, Verifier, request_content, signed_headers
from tests.unit.webhooks.fakes import NEW_SECRET, OLD_SECRET

# The reference library's published vector (standard-webhooks, libraries/python tests).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

BODY = b'{"id":"c-1","type":"RoomList","payload":{}}'
NOW = 1_800_000_000


def verifier(*secrets: str, now: float = NOW, tolerance_s: float = 300.0) -> Verifier:
    """A verifier whose clock stands still at ``now``."""
    return Verifier(tuple(SigningKey.parse(s) for s in secrets), tolerance_s, clock=lambda: now)


def spec_headers(signature: str = SPEC_SIGNATURE) -> dict[str, str]:
    """The headers of the spec's vector."""
    return {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": signature,
    }


def test_signing_reproduces_the_spec_vector() -> None:
    """Our signature of the published message is the published signature."""
    assert SigningKey.parse(SPEC_SECRET).sign(SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_spec_vector_verifies_at_its_time() -> None:
    """The published message passes with the clock at its time, with or without whsec_."""
    for secret in (SPEC_SECRET, SPEC_SECRET.removeprefix("whsec_")):
        message = verifier(secret, now=SPEC_TIMESTAMP).verify(spec_headers(), SPEC_BODY)
        assert (message.msg_id, message.timestamp) == (SPEC_ID, SPEC_TIMESTAMP)


def test_spec_multi_signature_header_passes_on_its_valid_entry() -> None:
    """Wrong v1, unknown v2 and a valid v1 side by side: the valid one is found (spec test)."""
    junk = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
    header = " ".join([junk, junk.replace("v1", "v2"), SPEC_SIGNATURE, junk])
    verifier(SPEC_SECRET, now=SPEC_TIMESTAMP).verify(spec_headers(header), SPEC_BODY)


def test_spec_invalid_signature_is_refused() -> None:
    """The spec's near-miss signature (last character changed) does not pass."""
    near_miss = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="
    with pytest.raises(SignatureError, match="no v1 signature matches"):
        verifier(SPEC_SECRET, now=SPEC_TIMESTAMP).verify(spec_headers(near_miss), SPEC_BODY)


def test_wrong_secret_is_refused() -> None:
    """A body signed with a secret the gateway does not hold fails."""
    other = "whsec_" + base64.b64encode(b"x" * 32).decode()
    headers = signed_headers(other, BODY, timestamp=NOW)
    with pytest.raises(SignatureError, match="no v1 signature matches"):
        verifier(OLD_SECRET, NEW_SECRET).verify(headers, BODY)


def test_rotation_accepts_old_and_new_secret() -> None:
    """While rotating, messages signed with either configured secret pass."""
    both = verifier(OLD_SECRET, NEW_SECRET)
    for secret in (OLD_SECRET, NEW_SECRET):
        both.verify(signed_headers(secret, BODY, timestamp=NOW), BODY)
    with pytest.raises(SignatureError):
        verifier(NEW_SECRET).verify(signed_headers(OLD_SECRET, BODY, timestamp=NOW), BODY)


def test_tampered_body_is_refused() -> None:
    """One byte changed after signing breaks the signature."""
    headers = signed_headers(NEW_SECRET, BODY, timestamp=NOW)
    with pytest.raises(SignatureError):
        verifier(NEW_SECRET).verify(headers, BODY.replace(b"RoomList", b"RoomLisT"))


def test_tampered_id_or_timestamp_is_refused() -> None:
    """The id and the timestamp are signed too."""
    headers = signed_headers(NEW_SECRET, BODY, msg_id="msg_1", timestamp=NOW)
    for name, value in (("webhook-id", "msg_2"), ("webhook-timestamp", str(NOW - 1))):
        with pytest.raises(SignatureError):
            verifier(NEW_SECRET).verify({**headers, name: value}, BODY)


@pytest.mark.parametrize(
    ("offset", "reason"),
    [(-301, "older than 300 s"), (301, "more than 300 s ahead")],
)
def test_timestamp_outside_tolerance_is_refused(offset: int, reason: str) -> None:
    """Older than the tolerance or further ahead than it: refused, whatever the signature."""
    headers = signed_headers(NEW_SECRET, BODY, timestamp=NOW + offset)
    with pytest.raises(SignatureError, match=reason):
        verifier(NEW_SECRET).verify(headers, BODY)


@pytest.mark.parametrize("offset", [-300, 300, 0])
def test_timestamp_at_the_edges_of_tolerance_passes(offset: int) -> None:
    """Exactly the tolerance away, either way, still passes."""
    verifier(NEW_SECRET).verify(signed_headers(NEW_SECRET, BODY, timestamp=NOW + offset), BODY)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_named(missing: str) -> None:
    """A missing header is refused and named."""
    headers = signed_headers(NEW_SECRET, BODY, timestamp=NOW)
    del headers[missing]
    with pytest.raises(SignatureError, match=missing):
        verifier(NEW_SECRET).verify(headers, BODY)


@pytest.mark.parametrize("stamp", ["hello", "1e9", "-5", "1800000000.5", " 1800000000", ""])
def test_timestamp_must_be_whole_seconds(stamp: str) -> None:
    """Floats, exponents, signs and blanks are not whole seconds."""
    headers = {**signed_headers(NEW_SECRET, BODY, timestamp=NOW), "webhook-timestamp": stamp}
    with pytest.raises(SignatureError):
        verifier(NEW_SECRET).verify(headers, BODY)


@pytest.mark.parametrize("msg_id", ["has space", "x" * 257, "tab\there", "é"])
def test_message_id_must_be_short_visible_ascii(msg_id: str) -> None:
    """Ids with spaces, control or non-ASCII characters, or over 256 characters are refused."""
    headers = signed_headers(NEW_SECRET, BODY, msg_id="ok", timestamp=NOW)
    key = SigningKey.parse(NEW_SECRET)
    headers.update({"webhook-id": msg_id, "webhook-signature": key.sign(msg_id, NOW, BODY)})
    with pytest.raises(SignatureError, match="webhook-id"):
        verifier(NEW_SECRET).verify(headers, BODY)


@pytest.mark.parametrize("entry", ["v1", "v1,", "v1,!!notbase64!!", "nocomma", "v1a,abc", ","])
def test_malformed_signature_entries_are_skipped_not_crashing(entry: str) -> None:
    """Garbage entries neither crash nor pass; a valid entry beside them still passes."""
    good = signed_headers(NEW_SECRET, BODY, timestamp=NOW)
    with pytest.raises(SignatureError, match="no v1 signature matches"):
        verifier(NEW_SECRET).verify({**good, "webhook-signature": entry}, BODY)
    mixed = {**good, "webhook-signature": f"{entry} {good['webhook-signature']}"}
    verifier(NEW_SECRET).verify(mixed, BODY)


def test_no_configured_secret_refuses_everything() -> None:
    """Without a secret nothing can be verified, so nothing passes."""
    with pytest.raises(SignatureError, match="no signing secret"):
        verifier().verify(signed_headers(NEW_SECRET, BODY, timestamp=NOW), BODY)


@pytest.mark.parametrize("bad", ["", "whsec_", "whsec_!!!", "whsec_a b"])
def test_bad_secret_is_refused_without_echo(bad: str) -> None:
    """A secret that is not whsec_<base64> raises, and the message does not contain it."""
    with pytest.raises(ValueError, match="whsec_<base64>") as caught:
        SigningKey.parse(bad)
    if bad.removeprefix("whsec_"):
        assert bad.removeprefix("whsec_") not in str(caught.value)


def test_reasons_and_reprs_never_carry_secret_or_signature() -> None:
    """Neither the error text nor the key's repr shows key bytes, secret or signature."""
    key = SigningKey.parse(NEW_SECRET)
    assert "new-secret" not in repr(key)
    assert NEW_SECRET not in repr(key)
    headers = signed_headers(OLD_SECRET, BODY, timestamp=NOW)
    with pytest.raises(SignatureError) as caught:
        verifier(NEW_SECRET).verify(headers, BODY + b" ")
    text = str(caught.value)
    assert headers["webhook-signature"].split(",")[1] not in text
    assert NEW_SECRET.removeprefix("whsec_") not in text


@settings(max_examples=50, deadline=None)
@given(
    body=st.text(max_size=200),
    msg_id=st.from_regex(r"[A-Za-z0-9_\-]{1,40}", fullmatch=True),
    key=st.binary(min_size=24, max_size=64),
)
def test_interoperates_with_the_reference_library(body: str, msg_id: str, key: bytes) -> None:
    """The reference library's signatures pass here, and ours pass there."""
    secret = "whsec_" + base64.b64encode(key).decode()
    now = int(datetime.now(UTC).timestamp())
    reference = Webhook(secret)
    theirs = reference.sign(msg_id, datetime.fromtimestamp(now, UTC), body)
    ours = SigningKey.parse(secret).sign(msg_id, now, body.encode())
    assert ours == theirs
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(now), "webhook-signature": ours}
    Verifier.from_secrets([secret]).verify(headers, body.encode())
    reference.verify(body, headers, json_parse=False)


@pytest.mark.parametrize("key_bytes", [1, 16, 23])
def test_short_keys_are_refused(key_bytes: int) -> None:
    """whsec_AA (one key byte) and anything under 24 bytes is no signing key. Fails on the
    old code, which accepted any non-empty key."""
    with pytest.raises(ValueError, match="fewer than 24 key bytes"):
        SigningKey.parse("whsec_" + base64.b64encode(b"k" * key_bytes).decode())
    with pytest.raises(ValueError, match="fewer than 24 key bytes"):
        SigningKey.parse("whsec_AA")


def test_the_verified_message_names_its_sender() -> None:
    """A named sender's secrets (old and new) both yield its name; a bare secret yields
    key-<hash> (stable, not the secret); one secret for two senders is refused."""
    v = Verifier.from_senders({"crm": [OLD_SECRET]}, [NEW_SECRET])
    v = Verifier(v.keys, clock=lambda: NOW)
    old = v.verify(signed_headers(OLD_SECRET, BODY, timestamp=NOW), BODY)
    new = v.verify(signed_headers(NEW_SECRET, BODY, timestamp=NOW), BODY)
    assert old.sender == "crm"
    assert new.sender.startswith("key-")
    assert len(new.sender) == len("key-") + 12
    assert new.sender == SigningKey.parse(NEW_SECRET).sender
    assert NEW_SECRET.removeprefix("whsec_")[:8] not in new.sender
    with pytest.raises(ValueError, match="twice"):
        Verifier.from_senders({"a": [OLD_SECRET], "b": [OLD_SECRET]})


def test_a_get_is_signed_over_method_and_path() -> None:
    """GET content is "GET <path>": a signature for one path does not verify another."""
    content = request_content("GET", "/v1/commands/c-1")
    assert content == b"GET /v1/commands/c-1"
    headers = signed_headers(NEW_SECRET, content, timestamp=NOW)
    verifier(NEW_SECRET).verify(headers, content)
    with pytest.raises(SignatureError):
        verifier(NEW_SECRET).verify(headers, request_content("GET", "/v1/commands/c-2"))
