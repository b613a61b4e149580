"""``/app/*``: tokens, licence and system information."""

from __future__ import annotations

import hmac

from ..state import VendorError, VendorState
from ..wire import Answer, Args, EndpointTable, text

__all__ = ["table"]

table = EndpointTable()


@table.endpoint("/app/get_token", text("access_key", True), text("secret_key", True), auth=False)
def get_token(state: VendorState, args: Args) -> Answer:
    """Issue a token for the configured access/secret key pair; 40001 otherwise."""
    settings = state.settings
    key_ok = hmac.compare_digest(args["access_key"].encode(), settings.access_key.encode())
    secret_ok = hmac.compare_digest(
        args["secret_key"].encode(), settings.secret_key.get_secret_value().encode()
    )
    if not (key_ok and secret_ok):
        # The reference's example prints 401; its error table says 40001.
        raise VendorError(40001, "Authenticate failed, access_key or secret_key error")
    # As the reference shows it: no msg on success.
    return {"ret": 0, "token": state.tokens.issue()}


@table.endpoint("/app/get_licence_info")
def get_licence_info(state: VendorState, args: Args) -> Answer:
    """Active users (everyone in an open room) and the licensed maximum."""
    return {
        "ret": 0,
        "msg": "success",
        "active_usernum": state.active_users(),
        "max_users": state.licence.max_users,
    }


@table.endpoint("/app/get_system_info")
def get_system_info(state: VendorState, args: Args) -> Answer:
    """The opaque system-information blob."""
    return {"ret": 0, "msg": "success", "sys_info": state.licence.system_info}


@table.endpoint("/app/apply_file_permit", text("licence_cert", True))
def apply_file_permit(state: VendorState, args: Args) -> Answer:
    """Install a licence certificate."""
    state.licence.apply(args["licence_cert"])
    return {"ret": 0, "msg": "success"}


@table.endpoint("/app/delete_file_permit", text("licence_cert", True))
def delete_file_permit(state: VendorState, args: Args) -> Answer:
    """Remove a licence certificate; 40072 when it was never applied."""
    state.licence.delete(args["licence_cert"])
    return {"ret": 0, "msg": "success"}
