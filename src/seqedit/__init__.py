"""seqedit: self-hosted sequential multi-image editing.

Public core API (protocol-neutral; see ARCHITECTURE.md for the map):

    from seqedit import EditRequest, RequestError, make_plan
"""

from seqedit.errors import RequestError
from seqedit.plan import Panel, Plan, make_plan
from seqedit.request import EditRequest, Limits

__all__ = ["EditRequest", "Limits", "RequestError", "Panel", "Plan", "make_plan"]
__version__ = "0.1.0"
