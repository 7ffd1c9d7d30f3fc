"""``RemoteEngine``: a plan → exactly ``plan.count`` panels from an upstream, with the count locked.

Lifecycle of one ``generate``:

1. Ask for every panel: the user's prompt as written, ``max_images = plan.count``, the references as
   data URIs, the plan's seed and size — scaled, aspect kept, into the upstream's pixel range
   (``upstream_min_pixels``/``upstream_max_pixels``; Ark documents 921 600-16 777 216), which
   ``check`` says in a warning.
2. Keep what came back: an image is panel k when its aspect ratio is within ``COLLAGE_TOLERANCE`` of
   the plan's (it is then resized to ``plan.size``); one that is clearly not (a collage of several
   panels in one image) is dropped. A refused image (moderation) fails the task naming its panel.
   Panels are yielded in order as soon as every earlier one is there.
3. Top-ups: while panels are missing and fewer than ``top_ups`` top-ups were made, ask again for the
   missing panels only — the shared instruction plus *their own* panel lines, renumbered 1…m, with
   ``max_images = m`` and seed ``plan.seed + k - 1`` of the first missing panel k. Still missing after
   the last top-up: the task fails naming them ("… did not return panel(s) 3, 4 of 4 after 3
   submit(s) …"), never with fewer panels.
   A panel set is submitted at most once with the panel lines (the first ask, with the user's
   prompt, may be followed by one for the same set: after a collage): when a top-up brings nothing,
   the same set is not asked again (a deduplicating upstream would only return the same answer; any
   other would bill twice), and the task fails.

Billing: every submit carries an ``Idempotency-Key`` derived from the job (``progress.id``, the
runner's prediction id, when the progress has one; otherwise a digest of the plan and references)
and the panel set of that ask. A retry of the job after a crash sends the same keys, so a WaveSpeed
upstream that honours them (seqedit does) answers with the prediction it already has instead of
billing again; within a run each missing set is submitted once (transport retries are replay-safe
only where the upstream deduplicates: ``transport``).

Cost: the upstream's cost (WaveSpeed ``cost``), summed over the asks, becomes one warning
``upstream cost 0.270 USD (2 submits)`` on the prediction (``progress.warn``, also when the task
then fails), so it is in the prediction's ``warnings`` and set.json without a change to the engine
port; the upstream's own warnings follow as ``upstream: …`` lines. Cancel: the poll stops, the
upstream is asked to cancel, the warning says whether it could, and ``Cancelled`` is raised.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from PIL import Image

from seqedit import imaging
from seqedit.engines.base import Cancelled, EngineError, Progress, Unsupported, Verdict, parse_options
from seqedit.engines.remote.ark import ArkClient
from seqedit.engines.remote.options import DEFAULT_MODEL, DEFAULT_PIXELS, RemoteOptions
from seqedit.engines.remote.transport import Transport, UpstreamAuth
from seqedit.engines.remote.upstream import Ask, Client, Outcome
from seqedit.engines.remote.wavespeed import WaveSpeedClient
from seqedit.errors import RequestError
from seqedit.plan import Plan

COLLAGE_TOLERANCE = 0.08  # relative aspect-ratio difference above which an image is not one panel
MAX_IMAGES = 15  # what Seedream 4 returns per call, at most; references + images ≤ 15 on Ark
MAX_REFS = 10


class RemoteEngine:
    name = "remote"

    def __init__(self, **options: Any) -> None:
        opts: RemoteOptions = parse_options("remote", RemoteOptions, options)
        if not opts.upstream_url.startswith(("http://", "https://")):
            raise EngineError(
                "the remote engine needs upstream_url: an http(s) base URL (--opt upstream_url=https://…)"
                + (f", got {opts.upstream_url!r}" if opts.upstream_url else ""),
                code=1400,
            )
        if not opts.upstream_key:
            raise EngineError("the remote engine needs upstream_key: the upstream API key", code=1400)
        self.options = opts
        self.model = opts.upstream_model or DEFAULT_MODEL[opts.upstream_protocol]
        low, high = DEFAULT_PIXELS[opts.upstream_protocol]
        self.min_pixels = opts.upstream_min_pixels or low
        self.max_pixels = opts.upstream_max_pixels or high
        if self.min_pixels and self.max_pixels and self.min_pixels > self.max_pixels:
            raise EngineError(
                f"upstream_min_pixels ({self.min_pixels}) is above upstream_max_pixels ({self.max_pixels})",
                code=1400,
            )
        transport = Transport(opts.upstream_url, opts.upstream_key, retries=opts.retries, backoff=opts.backoff)
        self.client: Client = (
            WaveSpeedClient(transport, self.model, poll_interval=opts.poll_interval, timeout=opts.timeout)
            if opts.upstream_protocol == "wavespeed"
            else ArkClient(transport, self.model, timeout=opts.timeout, stream=opts.upstream_stream)
        )
        try:
            self.client.check()
        except UpstreamAuth as exc:
            raise OptionRefused(str(exc)) from None
        except EngineError as exc:
            raise EngineError(f"the remote engine cannot reach its upstream: {exc}", code=1400) from None

    # ------------------------------------------------------------------ the port

    def analyse(self, plan: Plan) -> list[Verdict]:
        note = f"sent to {self.client.protocol} upstream model {self.model}"
        verdicts = [Verdict(None, plan.shared, "generative", "supported", note)]
        verdicts += [Verdict(p.index, p.text, "generative", "supported", note) for p in plan.panels if p.text]
        return verdicts

    def check(self, plan: Plan, refs: list[Image.Image] | None = None) -> list[str]:
        n_refs = len(refs or [])
        if plan.count > MAX_IMAGES:
            raise Unsupported(f"the upstream returns at most {MAX_IMAGES} images per set, asked {plan.count}")
        if n_refs > MAX_REFS:
            raise Unsupported(f"the upstream takes at most {MAX_REFS} references, got {n_refs}")
        if self.client.protocol == "ark" and n_refs + plan.count > MAX_IMAGES:
            raise Unsupported(
                f"Ark takes references + max_images ≤ {MAX_IMAGES}, got {n_refs} + {plan.count}",
                clause="max_images",
            )
        w, h = self._upstream_size(plan)
        if (w, h) != (plan.size.width, plan.size.height):
            return [f"the upstream is asked for {w}x{h} (its size range) and the panels resized to {plan.size}"]
        return []

    def _upstream_size(self, plan: Plan) -> tuple[int, int]:
        """The plan's size scaled, aspect kept, into the upstream's pixel range (multiples of 16)."""
        w, h = plan.size.width, plan.size.height
        if self.min_pixels and w * h < self.min_pixels:
            scale = math.sqrt(self.min_pixels / (w * h))
            return math.ceil(w * scale / 16) * 16, math.ceil(h * scale / 16) * 16
        if self.max_pixels and w * h > self.max_pixels:
            scale = math.sqrt(self.max_pixels / (w * h))
            return math.floor(w * scale / 16) * 16, math.floor(h * scale / 16) * 16
        return w, h

    def provenance(self, plan: Plan) -> dict[str, Any]:
        """What made the set: the upstream (its URL without credentials or query), protocol and model, and
        the size it is asked for. Never the key. The upstream's own pixels are its business: a replay
        against a hosted model reproduces the request, not necessarily the bytes."""
        w, h = self._upstream_size(plan)
        return {
            "upstream_url": _public_url(self.options.upstream_url),
            "upstream_protocol": self.client.protocol,
            "upstream_model": self.model,
            "upstream_size": f"{w}x{h}",
            "top_ups": self.options.top_ups,
        }

    def generate(self, plan: Plan, refs: list[Image.Image], progress: Progress) -> Iterator[Image.Image]:
        images = tuple(_data_uri(r) for r in refs)
        job = str(getattr(progress, "id", "") or _digest(plan, images))
        run = _Run()  # per call: one engine serves every consumer thread
        missing = list(range(1, plan.count + 1))
        asked: set[tuple[bool, tuple[int, ...]]] = set()  # (the user's prompt?, panels) submitted: once each
        try:
            for round_ in range(self.options.top_ups + 1):
                ask = self._ask(plan, missing, images, job, whole=round_ == 0)
                asked.add((round_ == 0, tuple(missing)))
                yield from self._one_ask(plan, ask, missing, run, progress)
                if progress.cancelled():
                    raise Cancelled()
                got = ask.count
                missing = [k for k in missing if k >= run.next and k not in run.have]
                if not missing:
                    return
                if round_ == self.options.top_ups or (False, tuple(missing)) in asked:
                    break
                progress.warn(
                    f"the upstream returned {got - len(missing)} of {got} images; "
                    f"asking again for panel(s) {', '.join(map(str, missing))}"
                )
        finally:
            if run.costs:
                n = len(run.costs)
                progress.warn(f"upstream cost {sum(run.costs):.3f} USD ({n} submit{'s' if n > 1 else ''})")
        detail = f" ({'; '.join(run.reasons)})" if run.reasons else ""
        raise EngineError(
            f"the upstream did not return panel(s) {', '.join(map(str, missing))} of {plan.count} after "
            f"{len(asked)} submit(s){detail}; no shorter set is returned"
        )

    def _one_ask(
        self, plan: Plan, ask: Ask, missing: list[int], run: _Run, progress: Progress
    ) -> Iterator[Image.Image]:
        """Run ``ask`` for the panels ``missing``; yield every panel that is next in order."""
        outcome = Outcome()
        done = plan.count - len(missing)

        def report(fraction: float) -> None:
            run.shown = max(run.shown, (done + fraction * ask.count) / plan.count)
            progress.report(run.shown)

        try:
            for got in self.client.run(ask, progress.cancelled, outcome, report):
                if got.position >= len(missing):
                    continue  # more than asked: the count is ours
                panel = missing[got.position]
                if got.error:
                    raise EngineError(f"the upstream refused panel {panel}: {got.error}", code=5000)
                image, why = _panel(got.data or b"", plan)
                if image is None:
                    run.reasons.append(f"panel {panel}: {why}")
                    continue
                run.have[panel] = image
                while run.next in run.have:
                    run.shown = max(run.shown, run.next / plan.count)
                    progress.report(run.shown)
                    yield run.have.pop(run.next)
                    run.next += 1
        finally:
            if outcome.cost is not None:
                run.costs.append(outcome.cost)
            if outcome.cancel_note:
                progress.warn(outcome.cancel_note)
            for warning in outcome.warnings:
                progress.warn(f"upstream: {warning}")

    # ------------------------------------------------------------------ helpers

    # --- the consistency guard (seqedit.consistency) -----------------------------------------------
    def rerender(self, plan: Plan, refs: list[Image.Image], index: int, seed: int, progress: Progress) -> Image.Image:
        """Panel ``index`` again: one upstream submit of that panel's own line with ``seed`` (its own
        Idempotency-Key: a retried job finds it instead of paying again)."""
        images = tuple(_data_uri(r) for r in refs)
        job = str(getattr(progress, "id", "") or _digest(plan, images))
        ask = replace(self._ask(plan, [index], images, f"{job}|rerender|{seed}", whole=False), seed=seed)
        run = _Run(next=index)
        try:
            for image in self._one_ask(plan, ask, [index], run, progress):
                return image
        finally:
            if run.costs:
                progress.warn(f"upstream cost {sum(run.costs):.3f} USD (re-render of panel {index})")
        detail = f" ({'; '.join(run.reasons)})" if run.reasons else ""
        raise EngineError(f"the upstream did not return panel {index} when asked to re-render it{detail}")

    def _ask(self, plan: Plan, missing: list[int], images: tuple[str, ...], job: str, *, whole: bool) -> Ask:
        if whole:
            prompt, seed = plan.prompt, plan.seed
        else:
            lines = [
                f"Panel {i} — {plan.panels[k - 1].text}" for i, k in enumerate(missing, 1) if plan.panels[k - 1].text
            ]
            prompt = " ".join([plan.shared.strip(), *lines]).strip() or plan.prompt
            if not lines and len(missing) > 1:
                prompt = f"{prompt} A set of {len(missing)} images."
            seed = plan.seed + missing[0] - 1
        panels = ",".join(map(str, missing))
        kind = "prompt" if whole else "lines"  # the user's prompt, or the panels' own lines
        key = hashlib.sha256(f"{job}|{self.model}|{kind}|{panels}".encode()).hexdigest()[:40]
        width, height = self._upstream_size(plan)
        return Ask(
            prompt=prompt,
            count=len(missing),
            images=images,
            width=width,
            height=height,
            seed=seed,
            output_format=plan.output_format,
            idempotency_key=f"seqedit-remote-{key}",
        )


@dataclass
class _Run:
    """The state of one ``generate``: panels waiting for an earlier one, the next panel to yield, the
    progress shown (monotonic), the cost of each submit and why images were dropped."""

    have: dict[int, Image.Image] = field(default_factory=dict)
    next: int = 1
    shown: float = 0.0
    costs: list[float] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


class OptionRefused(EngineError):
    """The upstream refused ``upstream_key`` (401/403): a configuration error, found at start."""

    code = 1400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.option = "upstream_key"


def _panel(data: bytes, plan: Plan) -> tuple[Image.Image | None, str]:
    """The image as panel ``plan.size``, or None and why (unreadable, or a collage)."""
    try:  # the project's one decoder: format allow-list, byte and pixel caps before allocation
        opened = imaging.decode(data, field="upstream image")
    except RequestError as exc:
        return None, f"unreadable image ({exc.message})"
    want = plan.size.width / plan.size.height
    got = opened.width / opened.height
    if abs(got - want) / want > COLLAGE_TOLERANCE:
        return (
            None,
            f"a {opened.width}x{opened.height} image where {plan.size.width}x{plan.size.height} was asked (a collage?)",
        )
    image = opened.convert("RGB")
    if image.size != (plan.size.width, plan.size.height):
        image = image.resize((plan.size.width, plan.size.height), Image.Resampling.LANCZOS)
    return image, ""


def _data_uri(image: Image.Image) -> str:
    return "data:image/png;base64," + imaging.b64(imaging.encode(image.convert("RGB"), "png"))


def _digest(plan: Plan, images: tuple[str, ...]) -> str:
    h = hashlib.sha256(f"{plan.prompt}|{plan.seed}|{plan.size}|{plan.output_format}".encode())
    for uri in images:
        h.update(uri.encode())
    return h.hexdigest()[:24]


def _public_url(url: str) -> str:
    """``url`` without user info, query or fragment (where a token could hide): fit for a record."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
