"""SIP gateways and their accounts (``/sip/gate/*``, ``/sip/account/*``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .errors import VendorError
from .ids import IdFactory

__all__ = ["AUDIO_CODECS", "SipAccount", "SipGate", "SipStore"]

# Canonical spellings as the reference prints them; matched case-insensitively.
AUDIO_CODECS = {c.lower(): c for c in ("PCMA", "PCMU", "g722", "opus")}


def audio_codec(value: str) -> str:
    """The canonical codec name; 40002 for one the vendor does not list."""
    codec = AUDIO_CODECS.get(value.lower())
    if codec is None:
        raise VendorError(40002, "args required or error")
    return codec


def flag(value: str) -> str:
    """A ``"0"``/``"1"`` string parameter; 40002 otherwise."""
    if value not in ("0", "1"):
        raise VendorError(40002, "args required or error")
    return value


@dataclass(slots=True)
class SipGate:
    """A SIP gateway."""

    id: int
    name: str
    url: str
    status: str = "1"

    def answer(self) -> dict[str, Any]:
        """An entry of ``sip_gates`` in ``/sip/gate/list``."""
        return {"id": self.id, "name": self.name, "status": self.status, "url": self.url}


@dataclass(slots=True)
class SipAccount:
    """A SIP account registered through a gateway."""

    account_id: int
    gate_id: int
    name: str
    password: str
    recv_audio_codec: str = "PCMU"
    send_audio_codec: str = "PCMU"
    bind_media_server: str = ""
    is_default: str = "0"

    def answer(self) -> dict[str, Any]:
        """An entry of ``accounts`` in ``/sip/account/read`` (the vendor returns passwords)."""
        answer = asdict(self)
        answer["is_default"] = int(self.is_default)
        return answer


class SipStore:
    """Gates and accounts with sequential integer ids, as in the reference's examples."""

    def __init__(self, ids: IdFactory) -> None:
        self._ids = ids
        self._gates: dict[int, SipGate] = {}
        self._accounts: dict[int, SipAccount] = {}

    # -- gates -------------------------------------------------------------------------

    def create_gate(self, name: str, url: str) -> SipGate:
        """A new gate; 40019 when another gate has ``url``."""
        self._check_url(url, None)
        gate = SipGate(id=self._ids.next_int("sip_gate"), name=name, url=url)
        self._gates[gate.id] = gate
        return gate

    def _check_url(self, url: str, own_id: int | None) -> None:
        if any(g.url == url and g.id != own_id for g in self._gates.values()):
            raise VendorError(40019, "sip gate url exists")

    def gate(self, gate_id: int, msg: str = "no such sip_gate_id") -> SipGate:
        """The gate; 40020 when unknown."""
        gate = self._gates.get(gate_id)
        if gate is None:
            raise VendorError(40020, msg)
        return gate

    def update_gate(self, gate_id: int, name: str, url: str, status: str) -> SipGate:
        """Rename / re-address / switch a gate."""
        gate = self.gate(gate_id)
        self._check_url(url, gate_id)
        gate.name, gate.url, gate.status = name, url, flag(status)
        return gate

    def delete_gate(self, gate_id: int) -> None:
        """Delete a gate and its accounts."""
        self.gate(gate_id)
        del self._gates[gate_id]
        for account_id in [a.account_id for a in self._accounts.values() if a.gate_id == gate_id]:
            del self._accounts[account_id]

    def gates(self) -> list[SipGate]:
        """All gates by id."""
        return sorted(self._gates.values(), key=lambda g: g.id)

    # -- accounts ----------------------------------------------------------------------

    def create_account(self, gate_id: int, name: str, password: str, **options: Any) -> SipAccount:
        """A new account on a gate; 40020 for an unknown gate, 40021 for a taken name."""
        self.gate(gate_id, "no such sip_gate")
        if any(a.gate_id == gate_id and a.name == name for a in self._accounts.values()):
            raise VendorError(40021, "phone number has already exist")
        account = SipAccount(
            account_id=self._ids.next_int("sip_account"),
            gate_id=gate_id,
            name=name,
            password=password,
            **self._options(options),
        )
        self._accounts[account.account_id] = account
        return account

    @staticmethod
    def _options(options: dict[str, Any]) -> dict[str, Any]:
        checked = {k: v for k, v in options.items() if v is not None}
        for key in ("recv_audio_codec", "send_audio_codec"):
            if key in checked:
                checked[key] = audio_codec(checked[key])
        if "is_default" in checked:
            checked["is_default"] = flag(checked["is_default"])
        return checked

    def account(self, account_id: int) -> SipAccount:
        """The account; 40022 when unknown."""
        account = self._accounts.get(account_id)
        if account is None:
            raise VendorError(40022, "no such account_id")
        return account

    def update_account(self, account_id: int, name: str, password: str, **options: Any) -> None:
        """Change an account."""
        account = self.account(account_id)
        if any(
            a.gate_id == account.gate_id and a.name == name and a.account_id != account_id
            for a in self._accounts.values()
        ):
            raise VendorError(40021, "phone number has already exist")
        account.name, account.password = name, password
        for key, value in self._options(options).items():
            setattr(account, key, value)

    def accounts(self, gate_id: int, account_id: int | None = None) -> list[SipAccount]:
        """A gate's accounts (or one); 40020 / 40022 when unknown."""
        self.gate(gate_id)
        found = [a for a in self._accounts.values() if a.gate_id == gate_id]
        if account_id is not None:
            found = [a for a in found if a.account_id == account_id]
            if not found:
                raise VendorError(40022, "no such account_id")
        return found

    def delete_account(self, account_id: int) -> None:
        """Delete an account; 40022 when unknown."""
        self.account(account_id)
        del self._accounts[account_id]

    def snapshot(self) -> dict[str, Any]:
        """For the scenario API's state dump (passwords masked)."""
        return {
            "gates": [g.answer() for g in self.gates()],
            "accounts": [a.answer() | {"password": "***"} for a in self._accounts.values()],
        }
