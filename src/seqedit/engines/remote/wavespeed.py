"""The WaveSpeed protocol client: submit, then poll ``urls.get`` until the prediction is terminal.

``POST {upstream}/api/v3/{model}`` with ``{prompt, images, size: "W*H", max_images, seed,
output_format}`` and an ``Idempotency-Key`` header (seqedit's own WaveSpeed route honours it: a submit
repeated after a crash gets the first prediction back, so it is replay-safe and never billed twice).
Then ``GET data.urls.get`` every ``poll_interval`` until ``completed`` / ``failed`` / ``cancelled``;
outputs are downloaded in order; the upstream's ``progress.fraction`` (a seqedit extension) is passed on
while it runs. Cancel: ``POST /api/v3/predictions/{id}/cancel`` (seqedit has it;
hosted WaveSpeed may answer 404, and the note says so). Start-up check: ``GET /api/v3/models``, which
needs the key. Cost: the prediction's ``cost`` field where the upstream reports one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from seqedit.engines.base import EngineError
from seqedit.engines.remote.transport import Transport
from seqedit.engines.remote.upstream import Ask, Got, Outcome

TERMINAL = ("completed", "failed", "cancelled", "canceled")


class WaveSpeedClient:
    protocol = "wavespeed"

    def __init__(self, transport: Transport, model: str, *, poll_interval: float, timeout: float) -> None:
        self.transport, self.model = transport, model
        self.poll_interval, self.timeout = poll_interval, timeout

    def check(self) -> None:
        self.transport.call("GET", "/api/v3/models")

    def run(
        self, ask: Ask, cancelled: Callable[[], bool], outcome: Outcome, report: Callable[[float], None]
    ) -> Iterator[Got]:
        body: dict[str, Any] = {
            "prompt": ask.prompt,
            "images": list(ask.images),
            "size": f"{ask.width}*{ask.height}",
            "max_images": ask.count,
            "seed": ask.seed,
            "output_format": ask.output_format,
        }
        answer = self.transport.call(
            "POST", f"/api/v3/{self.model}", json=body, headers={"Idempotency-Key": ask.idempotency_key}
        )
        data = _data(answer.json())
        outcome.upstream_id = str(data.get("id", ""))
        poll = (data.get("urls") or {}).get("get") or f"/api/v3/predictions/{outcome.upstream_id}/result"
        deadline = time.monotonic() + self.timeout
        while str(data.get("status")) not in TERMINAL:
            if cancelled():
                outcome.cancel_note = self._cancel(outcome.upstream_id)
                return
            if time.monotonic() > deadline:
                raise EngineError(f"upstream prediction {outcome.upstream_id} did not finish in {self.timeout:g} s")
            time.sleep(self.poll_interval)
            data = _data(self.transport.call("GET", poll).json())
            fraction = (data.get("progress") or {}).get("fraction")  # seqedit's extension; hosted: absent
            if isinstance(fraction, int | float):
                report(min(1.0, max(0.0, float(fraction))))
        status = str(data["status"])
        if isinstance(data.get("cost"), int | float):
            outcome.cost = float(data["cost"])
        if isinstance(data.get("warnings"), list):
            outcome.warnings = tuple(str(w)[:500] for w in data["warnings"][:20])
        if status != "completed":
            raise EngineError(
                f"upstream prediction {outcome.upstream_id} {status}: {data.get('error') or 'no reason given'}"
            )
        for position, url in enumerate(data.get("outputs") or []):
            yield Got(position, self.transport.call("GET", str(url)).content)

    def _cancel(self, upstream_id: str) -> str:
        try:
            self.transport.call("POST", f"/api/v3/predictions/{upstream_id}/cancel")
        except EngineError as exc:
            return f"the upstream prediction {upstream_id} could not be cancelled ({exc}); it may still be billed"
        return f"the upstream prediction {upstream_id} was cancelled"


def _data(body: Any) -> dict[str, Any]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise EngineError(f"the upstream answered without a prediction: {str(body)[:200]}")
    return data
