"""A typed producer of commands for Python services.

::

    from gateway.client import Commands
    from gateway.client.commands import RoomCreate

    async with Commands.connect(settings.kafka) as commands:
        room = await commands.send(RoomCreate(topic="Weekly", room_id="12345123456"), wait=10)

:mod:`gateway.client.commands` has one class per command type; errors are in
:mod:`gateway.client.errors`.
"""

from gateway.client.command import Command
from gateway.client.errors import (
    CommandError,
    CommandFailedError,
    CommandRejectedError,
    CommandResultError,
    ResultTimeoutError,
)
from gateway.client.producer import Commands, Sent

__all__ = [
    "Command",
    "CommandError",
    "CommandFailedError",
    "CommandRejectedError",
    "CommandResultError",
    "Commands",
    "ResultTimeoutError",
    "Sent",
]
