"""seqedit: self-hosted sequential multi-image editing.

Public API:

    from seqedit import Client, AsyncClient, ImageSet      # the HTTP SDK (seqedit.sdk)
    from seqedit import EditRequest, RequestError, make_plan  # the protocol-neutral core

The SDK names are imported on first use (PEP 562), so ``import seqedit`` — and every command of the
CLI that does not talk to a server — never imports httpx.
"""

from typing import TYPE_CHECKING, Any

from seqedit.errors import RequestError, SeqeditError
from seqedit.plan import Panel, Plan, make_plan
from seqedit.request import EditRequest, Limits

if TYPE_CHECKING:
    from seqedit.sdk import AsyncClient, Client, ImageSet

__all__ = [
    "EditRequest",
    "Limits",
    "RequestError",
    "SeqeditError",
    "Panel",
    "Plan",
    "make_plan",
    "Client",
    "AsyncClient",
    "ImageSet",
]
__version__ = "0.1.0"

_SDK = ("Client", "AsyncClient", "ImageSet")


def __getattr__(name: str) -> Any:
    if name in _SDK:
        from seqedit import sdk

        return getattr(sdk, name)
    raise AttributeError(f"module 'seqedit' has no attribute {name!r}")
