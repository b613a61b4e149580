"""``/media_server/user_count``."""

from __future__ import annotations

from ..state import VendorState
from ..wire import Answer, Args, EndpointTable, ok

__all__ = ["table"]

table = EndpointTable()


@table.endpoint("/media_server/user_count")
def user_count(state: VendorState, args: Args) -> Answer:
    """Users per online media server; 11003 when none is online."""
    return ok(server_user_count=state.media_servers.counts(state.rooms))
