"""The diffusion engine: a ``Plan`` → N panels through any family adapter, with a set-consistency strategy.

Strategies (``strategy=``):

    anchor            panel 1 from the references; panels 2… from the references + panel 1 (default)
    chain             panel k from the references + panel k-1
    independent       every panel from the references alone
    grid              all panels (N ≤ 4) as one canvas with a joint prompt, then split
    shared_attention  Flux family: panel 1, then the others in batches with panel 1, each attending to
                      panel 1's keys/values in every attention layer (attention.py)

Seeds: panel k always uses ``plan.seed + k - 1`` (a CPU ``torch.Generator``), so the same seed gives
the same bytes, and panel 1 is the same image under ``anchor``, ``chain``, ``independent`` and
``shared_attention``. Panels are generated at the family's native size (``Adapter.native().fit``)
and resampled to ``plan.size``; they are yielded one at a time. Progress is reported after every
denoising step (``callback_on_step_end``); a cancel request raises ``Cancelled`` from that callback,
so a run stops within one step.

References beyond what one call takes (``overflow=``): ``stitch`` (default) keeps the first
``limit - 1`` as they are and stitches the rest into one canvas in the last slot (single-reference
families: everything becomes one canvas); ``truncate`` drops the user's last references; ``error``
refuses the request. With ``anchor``/``chain`` the earlier panel takes a slot of its own.

The model is loaded on first use (or by ``load()``) and reused for every later call — and by every
other engine of the process with the same model and load options (``loader.shared``). The options are
the fields of ``options.DiffusionOptions``; the engine takes them as keyword arguments and never reads
the environment (``Settings`` turns ``SEQEDIT_<OPTION>`` variables into those arguments).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, get_args

from PIL import Image

from seqedit.engines.base import Cancelled, EngineError, Progress, Unsupported, Verdict, parse_options
from seqedit.engines.diffusion import loader, reuse
from seqedit.engines.diffusion.adapter import Adapter, Native, stitch
from seqedit.engines.diffusion.errors import engine_errors
from seqedit.engines.diffusion.options import DiffusionOptions, Strategy
from seqedit.engines.diffusion.speed import Speed
from seqedit.engines.options import secret_fields
from seqedit.plan import Plan

STRATEGIES: tuple[str, ...] = get_args(Strategy)
GRID_LAYOUT = {1: (1, 1), 2: (2, 1), 3: (3, 1), 4: (2, 2)}  # panels -> (columns, rows)
GRID_CELLS = {
    1: ["the image"],
    2: ["left", "right"],
    3: ["left", "middle", "right"],
    4: ["top left", "top right", "bottom left", "bottom right"],
}


class DiffusionEngine:
    name = "diffusion"

    def __init__(self, model: str = "", **options: Any) -> None:
        """``options``: the fields of ``DiffusionOptions`` (checked here too, so a direct call gets the
        same messages as ``create("diffusion", ...)``)."""
        opts: DiffusionOptions = parse_options("diffusion", DiffusionOptions, {"model": model, **options})
        if not opts.model:
            raise EngineError(
                "the diffusion engine needs a model: --model PATH_OR_HUB_ID "
                "(a diffusers pipeline directory or a hub id)",
                code=1400,
            )
        loader.device_name(opts.device)  # names only: a GPU that is missing fails the job, not the factory
        loader.dtype_name(opts.dtype)
        self.options = opts
        self.model = opts.model
        self.strategy = opts.strategy
        self.steps = opts.steps or opts.lora_steps  # a distilled LoRA's step count when steps is unset
        self.guidance = opts.guidance
        self.overflow = opts.overflow
        self.batch_size = opts.batch_size
        self.reuse_references = opts.reuse_references
        self.last_reuse: reuse.ReuseCounts | None = None  # what the latest set encoded and reused
        self.min_pixels = opts.min_pixels
        self.max_pixels = opts.max_pixels
        self.speed = Speed.of(opts, steps=self.steps)
        self._load_options = dict(
            device=opts.device,
            dtype=opts.dtype,
            local_files_only=opts.local_files_only,
            offload=opts.offload,
            vae_tiling=opts.vae_tiling,
            vae_slicing=opts.vae_slicing,
            attention_backend=opts.attention_backend or None,
            speed=self.speed,
        )
        self._local_files_only = opts.local_files_only
        self._loaded: loader.Loaded | None = None
        self._info: loader.ModelInfo | None = None
        self._lock = threading.RLock()
        index = None
        if loader.is_local(
            self.model
        ):  # a missing path or a directory that is no pipeline fails now (serve: at start-up)
            index = self.info().index
        self.speed.check(index)  # a missing package or LoRA file, a UNet with cache: now too

    # --- the model ----------------------------------------------------------------------------
    def info(self) -> loader.ModelInfo:
        """Family of the model from its model_index.json (no torch, no weights)."""
        if self._info is None:
            self._info = loader.inspect_model(self.model, local_files_only=self._local_files_only)
        return self._info

    def load(self) -> loader.Loaded:
        """Load the pipeline once; later calls return the same one."""
        with self._lock:
            if self._loaded is None:
                self._loaded = loader.shared(self.model, **self._load_options)
                index = self._info.index if self._info else {}
                self._info = loader.ModelInfo(
                    self.model, type(self._loaded.pipe).__name__, type(self._loaded.adapter), index
                )
            return self._loaded

    @property
    def adapter(self) -> Adapter:
        return self.load().adapter

    def native(self) -> Native:
        base = self.adapter.native()
        lo = self.min_pixels or base.min_pixels
        hi = max(lo, self.max_pixels or base.max_pixels)
        return Native(lo, hi, base.multiple)

    def describe(self) -> dict[str, Any]:
        loaded = self.load()
        out = loaded.adapter.describe()
        out.update(
            model=self.model,
            device=loaded.device,
            dtype=loaded.dtype,
            offload=loaded.offload,
            speed=self.speed.pixels(),
            native_sizes=self.native().describe(),
            load_seconds=round(loaded.seconds, 2),
            strategies=[s for s in STRATEGIES if s != "shared_attention" or loaded.adapter.shared_attention],
            reference_reuse=reuse.describe(loaded.adapter, self.reuse_references),
        )
        return out

    # --- what a run resolves (``_Run`` and ``provenance`` ask the same questions) -----------------
    def resolved_steps(self, adapter: Adapter) -> int:
        return self.steps or adapter.default_steps()

    def resolved_guidance(self, adapter: Adapter) -> float:
        return adapter.default_guidance() if self.guidance is None else self.guidance

    def generation_size(self, plan: Plan) -> tuple[int, int]:
        """Width and height of one call: a panel's, or under ``grid`` the canvas of the whole set."""
        if self.strategy == "grid":
            from seqedit.sizes import Size

            cols, rows = GRID_LAYOUT.get(plan.count, (1, 1))
            return self.native().fit(Size(plan.size.width * cols, plan.size.height * rows))
        return self.native().fit(plan.size)

    # --- what made a set (the port's optional ``provenance``) ----------------------------------
    def provenance(self, plan: Plan) -> dict[str, Any]:
        """What this engine resolved for ``plan`` that changes pixels (loads the model: the defaults of
        steps, guidance and the native size are the family's, read from the pipeline). Steps, guidance,
        generation size and seeds come from the helpers ``_Run`` uses; a test holds each against what
        the pipeline is called with."""
        import diffusers
        import torch
        import transformers

        from seqedit.engines.diffusion.source import model_source

        loaded = self.load()
        adapter = loaded.adapter
        width, height = self.generation_size(plan)
        return {
            "model": self.model,
            "model_source": model_source(self.model, local=loader.is_local(self.model)),
            "pipeline": type(loaded.pipe).__name__,
            "family": adapter.family,
            "strategy": self.strategy,
            "steps": self.resolved_steps(adapter),
            "guidance": self.resolved_guidance(adapter),
            "seeds": [panel_seed(plan, k) for k in range(1, plan.count + 1)],
            "generation_size": f"{width}x{height}",
            "device": loaded.device,
            "dtype": loaded.dtype,
            "options": _pixel_options(self.options),
            "versions": {
                "torch": torch.__version__,
                "diffusers": diffusers.__version__,
                "transformers": transformers.__version__,
            },
        }

    # --- the engine port ----------------------------------------------------------------------
    def analyse(self, plan: Plan) -> list[Verdict]:
        note = f"{self.strategy} strategy"
        verdicts = [Verdict(None, plan.shared, "generate", "supported", note)] if plan.shared else []
        verdicts += [Verdict(p.index, p.text or plan.shared, "generate", "supported", note) for p in plan.panels]
        return verdicts

    def check(self, plan: Plan, refs: list[Image.Image] | None = None) -> list[str]:
        family = self.info().adapter
        n_refs = len(refs or ())
        warnings: list[str] = []
        if self.strategy == "shared_attention" and not family.shared_attention:
            raise Unsupported(
                f"strategy shared_attention needs a Flux-family model (FLUX.1 Kontext, FLUX.2 [klein]); "
                f"{family.label} has no shared-anchor attention",
                clause="strategy=shared_attention",
                suggestion="use --strategy anchor",
            )
        if self.strategy == "grid" and plan.count > 4:
            raise Unsupported(
                f"strategy grid puts at most 4 panels in one canvas; this request asks for {plan.count}",
                clause="strategy=grid",
                suggestion="use --strategy anchor, or max_images <= 4",
            )
        extra = 1 if self.strategy in ("anchor", "chain") and plan.count > 1 else 0
        total = n_refs + extra
        if total > family.max_refs:
            what = f"{n_refs} reference(s)" + (" + the earlier panel" if extra else "")
            if self.overflow == "error" and family.max_refs > 1:
                raise Unsupported(
                    f"{family.label} takes at most {family.max_refs} reference images per call; this needs {what}",
                    clause="images",
                    suggestion=f"pass at most {family.max_refs - extra} reference images",
                )
            if family.max_refs == 1:
                warnings.append(
                    f"{family.label} takes one reference image: {what} are stitched side by side into one canvas"
                )
            elif self.overflow == "truncate":
                dropped = total - family.max_refs
                warnings.append(
                    f"{family.label} takes at most {family.max_refs} reference images per call: "
                    f"the last {dropped} reference image(s) are ignored"
                )
            else:
                warnings.append(
                    f"{family.label} takes at most {family.max_refs} reference images per call: "
                    f"references {family.max_refs - extra} to {n_refs} are stitched into one canvas"
                )
        return warnings

    @contextmanager
    def _running(self, plan: Plan, refs: list[Image.Image], progress: Progress) -> Iterator[_Run]:
        """One set's run: checked, the model loaded, the references' memo held until the set ends."""
        self.check(plan, refs)
        loaded = self.load()
        with reuse.SetReuse(loaded.pipe, loaded.adapter, enabled=self.reuse_references) as memo:
            self.last_reuse = memo.counts
            yield _Run(self, loaded, plan, [im.convert("RGB") for im in refs], progress, memo)

    def generate(self, plan: Plan, refs: list[Image.Image], progress: Progress) -> Iterator[Image.Image]:
        with self._running(plan, refs, progress) as run:
            yield from getattr(run, self.strategy)()

    # --- the consistency guard (seqedit.consistency) -----------------------------------------------
    def rerender(self, plan: Plan, refs: list[Image.Image], index: int, seed: int, progress: Progress) -> Image.Image:
        """Panel ``index`` again with ``seed``, from the references alone (under ``anchor``/``chain`` it is
        re-anchored on the reference, not on the earlier panel it drifted from). ``grid`` panels are
        cells of one canvas: re-rendered as one ``independent`` panel at the panel's size."""
        with self._running(plan, refs, progress) as run:
            return run.finish(run.call([run.prompt(index)], run.pack([]), [seed])[0])


# Declared options that cannot change a pixel: where the weights are read from, or where they wait
# between uses (the same computation on the same device). Every other declared option is recorded.
NOT_PIXELS = frozenset({"local_files_only", "offload", "offload_group_type", "offload_group_blocks", "offload_stream"})


def _pixel_options(options: DiffusionOptions) -> dict[str, Any]:
    """The declared options that change pixels, as given (None: the family's or the machine's value)."""
    skip = NOT_PIXELS | secret_fields(type(options))
    return {k: v for k, v in options.model_dump(mode="json").items() if k not in skip}


def panel_seed(plan: Plan, k: int) -> int:
    """Panel ``k``'s seed (1-based): ``plan.seed + k − 1``, so panel 1 is the same under every strategy."""
    return (plan.seed + k - 1) % 2**63


class _Run:
    """One ``generate`` call: the plan, its references, and the bookkeeping for progress."""

    def __init__(
        self,
        engine: DiffusionEngine,
        loaded: loader.Loaded,
        plan: Plan,
        refs: list[Image.Image],
        progress: Progress,
        memo: reuse.SetReuse,
    ) -> None:
        self.engine, self.loaded, self.plan, self.refs, self.progress = engine, loaded, plan, refs, progress
        self.memo = memo  # reference latents / K/V kept for this set (reuse.py)
        self.adapter = loaded.adapter
        self.steps = engine.resolved_steps(self.adapter)
        self.guidance = engine.resolved_guidance(self.adapter)
        self.width, self.height = engine.native().fit(plan.size)
        self.done = 0.0  # panels' worth of work finished

    # --- pieces -------------------------------------------------------------------------------
    def prompt(self, k: int) -> str:
        text = self.plan.instruction(k)
        if self.plan.count > 1:
            text = f"{text} (image {k} of {self.plan.count} of one consistent set)"
        return text

    def seed(self, k: int) -> int:
        return panel_seed(self.plan, k)

    def pack(self, extras: list[Image.Image]) -> list[Image.Image]:
        """The user's references plus ``extras`` (an earlier panel) within the family's limit. The earlier
        panel keeps a slot of its own unless the family takes only one image."""
        limit = self.adapter.max_refs
        room = limit - len(extras)
        if len(self.refs) <= room:
            return self.refs + extras
        if room <= 0:
            return [stitch(self.refs + extras, max_pixels=self.engine.native().max_pixels)]
        if self.engine.overflow == "truncate":
            return self.refs[:room] + extras
        tail = stitch(self.refs[room - 1 :], max_pixels=self.engine.native().max_pixels)
        return self.refs[: room - 1] + [tail] + extras

    def finish(self, image: Image.Image) -> Image.Image:
        image = image.convert("RGB")
        size = (self.plan.size.width, self.plan.size.height)
        return image if image.size == size else image.resize(size, Image.Resampling.LANCZOS)

    def call(
        self,
        prompts: list[str],
        refs: list[Image.Image],
        seeds: list[int],
        *,
        width: int | None = None,
        height: int | None = None,
        panels: float | None = None,
        shared: bool = False,
    ) -> list[Image.Image]:
        """One pipeline call: ``len(prompts)`` images at native size. ``panels`` = panels' worth of work."""
        import torch

        if self.progress.cancelled():
            raise Cancelled("cancelled before the next panel")
        worth = float(len(prompts) if panels is None else panels)
        total = self.plan.count
        steps = self.steps

        def on_step_end(pipe: Any, i: int, t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            self.progress.report(min(1.0, (self.done + worth * (i + 1) / steps) / total))
            if self.progress.cancelled():
                raise Cancelled(f"cancelled after denoising step {i + 1} of {steps}")
            return {}

        generators = [torch.Generator("cpu").manual_seed(s) for s in seeds]
        kwargs = self.adapter.call_kwargs(
            prompts=prompts,
            refs=refs,
            width=width or self.width,
            height=height or self.height,
            steps=steps,
            guidance=self.guidance,
            generators=generators,
        )
        with self.loaded.lock, engine_errors(f"generating with {self.adapter.label}"), self.memo.applied():
            if shared:
                from seqedit.engines.diffusion.attention import shared_anchor

                with shared_anchor(self.adapter.transformer):
                    out = self.loaded.pipe(**kwargs, output_type="pil", callback_on_step_end=on_step_end)
            else:
                out = self.loaded.pipe(**kwargs, output_type="pil", callback_on_step_end=on_step_end)
        self.done += worth
        return list(out.images)

    # --- strategies ---------------------------------------------------------------------------
    def independent(self) -> Iterator[Image.Image]:
        for k in range(1, self.plan.count + 1):
            yield self.finish(self.call([self.prompt(k)], self.pack([]), [self.seed(k)])[0])

    def anchor(self) -> Iterator[Image.Image]:
        first = self.call([self.prompt(1)], self.pack([]), [self.seed(1)])[0]
        yield self.finish(first)
        for k in range(2, self.plan.count + 1):
            yield self.finish(self.call([self.prompt(k)], self.pack([first]), [self.seed(k)])[0])

    def chain(self) -> Iterator[Image.Image]:
        previous = self.call([self.prompt(1)], self.pack([]), [self.seed(1)])[0]
        yield self.finish(previous)
        for k in range(2, self.plan.count + 1):
            previous = self.call([self.prompt(k)], self.pack([previous]), [self.seed(k)])[0]
            yield self.finish(previous)

    def shared_attention(self) -> Iterator[Image.Image]:
        """Panel 1 alone (exactly as under ``anchor``), then batches of panel 1 + up to ``batch_size - 1``
        others in which panel 1 is recomputed as the attention anchor and its copy discarded. Batched
        kernels are not bit-for-bit batch-invariant, so generating panel 1 alone is what keeps it
        identical to the other strategies' panel 1."""
        refs = self.pack([])
        n = self.plan.count
        yield self.finish(self.call([self.prompt(1)], refs, [self.seed(1)])[0])
        per_batch = self.engine.batch_size - 1
        for start in range(2, n + 1, per_batch):
            members = list(range(start, min(n, start + per_batch - 1) + 1))
            images = self.call(
                [self.prompt(1)] + [self.prompt(k) for k in members],
                refs,
                [self.seed(1)] + [self.seed(k) for k in members],
                panels=len(members),
                shared=True,
            )
            for image in images[1:]:
                yield self.finish(image)

    def grid(self) -> Iterator[Image.Image]:
        n = self.plan.count
        cols, rows = GRID_LAYOUT[n]
        width, height = self.engine.generation_size(self.plan)
        prompt = self.plan.instruction(1)
        if n > 1:
            layout = f"{cols}×{rows}" if rows > 1 else f"{cols} side by side"
            cells = "; ".join(
                f"{where}: {self.plan.panels[i].text or self.plan.shared}" for i, where in enumerate(GRID_CELLS[n])
            )
            shared = self.plan.shared.strip().rstrip(".:")
            prompt = f"A grid of {n} panels ({layout}) showing one consistent set"
            prompt += f": {shared}. " if shared else ". "
            prompt += f"Panels — {cells}"
        canvas = self.call([prompt], self.pack([]), [self.seed(1)], width=width, height=height, panels=n)[0]
        for r in range(rows):
            for c in range(cols):
                box = (
                    math.floor(c * canvas.width / cols),
                    math.floor(r * canvas.height / rows),
                    math.floor((c + 1) * canvas.width / cols),
                    math.floor((r + 1) * canvas.height / rows),
                )
                yield self.finish(canvas.crop(box))
