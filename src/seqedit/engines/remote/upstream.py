"""What the engine asks an upstream and what comes back, protocol-neutral (``wavespeed``, ``ark``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Ask:
    """One upstream submit: ``count`` images for ``prompt`` (the shared instruction and the panel lines
    of exactly the panels asked for), with the references inlined as data URIs."""

    prompt: str
    count: int
    images: tuple[str, ...]  # data URIs
    width: int
    height: int
    seed: int
    output_format: str  # jpeg | png | webp
    idempotency_key: str


@dataclass(frozen=True)
class Got:
    """Image ``position`` (0-based, within the ask) arrived: its bytes, or why the upstream refused it."""

    position: int
    data: bytes | None = None
    error: str = ""


@dataclass
class Outcome:
    """Filled in while a run is consumed: the upstream's id (for cancel and logs), its cost in USD
    where the protocol reports one, whether the run was cancelled upstream, and its warnings."""

    upstream_id: str = ""
    cost: float | None = None
    cancel_note: str = ""
    warnings: tuple[str, ...] = ()  # the upstream's own warnings on the set (seqedit's extension)


class Client(Protocol):
    protocol: str

    def check(self) -> None:
        """One cheap authenticated call; raises ``transport.UpstreamAuth`` for a refused key."""

    def run(
        self, ask: Ask, cancelled: Callable[[], bool], outcome: Outcome, report: Callable[[float], None]
    ) -> Iterator[Got]:
        """Submit ``ask`` and yield images as they arrive; a whole-set failure raises ``EngineError``.
        Stops (after trying to cancel upstream, noted in ``outcome.cancel_note``) when ``cancelled()``.
        ``report(fraction)``: the upstream's own progress of this ask, where it says (0.0-1.0)."""
