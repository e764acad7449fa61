"""``xr.open_dataset(path, engine="igor_ibw")`` / ``xr.open_datatree(...)``: glue over `reader` only."""

from __future__ import annotations

from pycrox._backend import TreeBackendEntrypoint

__all__ = ["IgorIBWBackendEntrypoint"]


class IgorIBWBackendEntrypoint(TreeBackendEntrypoint):
    """``xr.open_dataset(path, engine="igor_ibw")`` for Igor Pro binary waves."""

    format_name = "igor_ibw"
    description = "Igor Pro binary waves (.ibw v2, v3, v5; Asylum Research images and force curves)"
