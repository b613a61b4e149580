"""Generated from ``gateway/vendor_api/spec/endpoints.json`` by scripts/gen_vendor_endpoints.py.

Nothing here is edited by hand: change the spec or the generator and run ``make generate``.
"""

__all__: list[str] = []
