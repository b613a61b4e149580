"""What the typed command classes of :mod:`gateway.client.commands` have in common.

Each class there is the gateway's own payload model of one command type (the model the
commands role validates the payload with) plus this mixin, which names the command type and
the vendor answer model a success is parsed into. A payload that type-checks and validates
here is therefore one the gateway accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar, cast

import pydantic_core
from pydantic import BaseModel, SecretStr

from gateway.vendor_api.endpoint import VendorAnswer

__all__ = ["AnswerT", "Command"]

AnswerT = TypeVar("AnswerT", bound=VendorAnswer)


class Command(Generic[AnswerT]):
    """A command to send: the payload (the model's fields), its type and its answer model."""

    #: The command type, the envelope's ``type`` (e.g. ``RoomCreate``).
    command_type: ClassVar[str]
    #: The model a succeeded result's ``result`` is parsed into (``AnswerT`` at runtime: a
    #: class variable cannot name a type variable).
    answer_model: ClassVar[type[VendorAnswer]]

    def payload(self) -> dict[str, Any]:
        """The envelope's ``payload``: the fields set, under the vendor's names, as JSON values.

        Secrets are written out in clear: the payload is what the gateway sends the vendor
        (pydantic's JSON mode would write ``**********``)."""
        model = cast(BaseModel, self)
        fields = model.model_dump(exclude_none=True, by_alias=True)
        revealed = {
            name: value.get_secret_value() if isinstance(value, SecretStr) else value
            for name, value in fields.items()
        }
        return cast(dict[str, Any], pydantic_core.to_jsonable_python(revealed))

    def parse_answer(self, result: Mapping[str, Any] | None) -> AnswerT:
        """A succeeded result's vendor answer as this command's answer model."""
        return cast(AnswerT, self.answer_model.model_validate(result or {}))
