"""The seqedit Python SDK: ``Client`` and ``AsyncClient`` for a ``seqedit serve`` over HTTP.

::

    from seqedit import Client, ImageSet

    client = Client("http://127.0.0.1:8000", "sk_…")          # or api_key from $SEQEDIT_API_KEY
    preview = client.plan({"prompt": "…", "images": ["a.jpg"], "max_images": 3})   # no task created
    result: ImageSet = client.edit(["a.jpg"], "three seasons of this street", 3, size="1024*768")
    result.images      # PIL images        result.urls       the server's signed URLs
    result.seed        # repeat with it    result.warnings   approximations: read them
    result.save("out") # 1.jpg … 3.jpg + set.json

    client.run("bytedance/seedream-v4/edit-sequential", {...})   # the wavespeed SDK's run()

It imports httpx, Pillow and seqedit's core only (an import-linter contract in pyproject.toml), so it
runs on a machine without the engines. Modules: ``client`` (sync), ``aclient`` (asyncio), ``core``
(what both decide), ``wire`` (bodies, references, retries), ``types`` (answers), ``errors`` (the tree).
"""

from seqedit.sdk.aclient import AsyncClient
from seqedit.sdk.client import Client
from seqedit.sdk.errors import (
    ApiError,
    ClientError,
    Refused,
    TaskCancelled,
    TaskFailed,
    Timeout,
    TransportError,
)
from seqedit.sdk.types import History, ImageSet, Output, PlanPreview, Prediction, Verdict
from seqedit.sdk.wire import MODEL, Retries, edit_input

__all__ = [
    "Client",
    "AsyncClient",
    "ImageSet",
    "Output",
    "Prediction",
    "PlanPreview",
    "Verdict",
    "History",
    "Retries",
    "MODEL",
    "edit_input",
    "ClientError",
    "ApiError",
    "TransportError",
    "TaskFailed",
    "Refused",
    "TaskCancelled",
    "Timeout",
]
