"""The gateway engine: seqedit in front of a hosted Seedream (WaveSpeed or Ark protocol).

``--engine remote --opt upstream_url=URL --opt upstream_key=K --opt upstream_protocol=wavespeed|ark
--opt upstream_model=ID`` sends each plan upstream and yields the panels that come back, so a team
behind one upstream key gets seqedit's guarantees (count lock, durable jobs, webhooks, history, per-key
limits, files on its own storage).

Layout: ``options`` (the declared options), ``transport`` (one HTTP call with bounded backoff and the
error mapping), ``wavespeed`` and ``ark`` (one client per upstream protocol), ``engine`` (the count
lock, idempotency keys, decoding to the plan's size). Only ``httpx``, Pillow and the core
(``imaging``) are used: an engine never knows seqedit's own HTTP layer, queue or storage.
"""

from __future__ import annotations

from typing import Any

from seqedit.engines.base import Engine, register
from seqedit.engines.remote.options import RemoteOptions


def create_engine(**options: Any) -> Engine:
    """Factory for ``seqedit.engines.create("remote", upstream_url=…, upstream_key=…, …)``; the
    constructor makes one cheap authenticated call, so a wrong key fails ``serve`` at start."""
    from seqedit.engines.remote.engine import RemoteEngine

    return RemoteEngine(**options)


register("remote", create_engine, options=RemoteOptions)

__all__ = ["RemoteOptions", "create_engine"]
