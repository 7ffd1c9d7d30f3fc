"""Diffusion engine benchmark on tiny random-weight pipelines (CPU, offline). Prints figures.

1. Wrapper overhead: ``DiffusionEngine.generate`` for one panel against calling the same diffusers
   pipeline directly with the same inputs (8 steps, 128×128, one reference), per family. Target ≤ 5 %.
2. Strategy cost: wall time of a 4-panel set per strategy, relative to ``independent``.
3. Reference reuse: a 6-panel ``anchor`` set with two references, ``reuse_references`` on vs off, per
   family, as a ratio, with the encodes each set ran (and, for the KV family, the reference K/V extracts).
4. Step caches: each ``cache`` option against ``cache=none`` at the same steps, per family that takes it.

Timing is process CPU time with torch on one thread (wall time swings with other processes on a shared
machine; CPU time barely does), runs are interleaved (wrapper, direct, wrapper, …) and the median is
reported. ``--wall`` reports wall-clock time instead.

    .venv/bin/python bench/diffusion.py [--repeat 7] [--steps 8] [--size 128] [--panels 4] [--reuse-panels 6] [--wall]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore")

import torch  # noqa: E402

from seqedit.engines import NullProgress, create  # noqa: E402
from seqedit.engines.diffusion import tiny  # noqa: E402
from seqedit.plan import make_plan  # noqa: E402
from seqedit.request import EditRequest  # noqa: E402

PROMPT = "put the red logo on the mug"


def plan(n: int, size: int):
    return make_plan(EditRequest.create(prompt=PROMPT, images=["ref"], size=f"{size}*{size}", max_images=n, seed=3))


CLOCK = time.process_time


def timed(fn) -> float:
    started = CLOCK()
    fn()
    return CLOCK() - started


def overhead(path: Path, steps: int, size: int, repeat: int) -> tuple[float, float, float]:
    engine = create("diffusion", model=str(path), strategy="independent", steps=steps, min_pixels=size * size)
    loaded = engine.load()
    adapter, pipe = loaded.adapter, loaded.pipe
    p, refs = plan(1, size), tiny.references(1, size)

    def wrapper():
        (panel,) = engine.generate(p, refs, NullProgress())

    def direct():
        kwargs = adapter.call_kwargs(
            prompts=[p.instruction(1)],
            refs=refs,
            width=size,
            height=size,
            steps=steps,
            guidance=adapter.default_guidance(),
            generators=[torch.Generator("cpu").manual_seed(p.seed)],
        )
        pipe(**kwargs, output_type="pil").images[0]

    wrapper(), direct()  # warm up
    w, d = [], []
    for _ in range(repeat):
        w.append(timed(wrapper))
        d.append(timed(direct))
    mw, md = statistics.median(w), statistics.median(d)
    return mw, md, (mw / md - 1) * 100


def strategies(path: Path, names: list[str], steps: int, size: int, panels: int, repeat: int) -> dict[str, float]:
    engines = {s: create("diffusion", model=str(path), strategy=s, steps=steps, min_pixels=size * size) for s in names}
    p, refs = plan(panels, size), tiny.references(1, size)
    for engine in engines.values():
        list(engine.generate(p, refs, NullProgress()))  # warm up
    times: dict[str, list[float]] = {s: [] for s in names}
    for _ in range(repeat):
        for s, engine in engines.items():
            times[s].append(timed(lambda: list(engine.generate(p, refs, NullProgress()))))
    return {s: statistics.median(t) for s, t in times.items()}


def reference_reuse(paths: dict[str, Path], steps: int, size: int, panels: int, repeat: int) -> None:
    """Section 3: the same set with and without ``reuse_references``, interleaved, per family."""
    print(
        f"\n3. reference reuse: {panels}-panel anchor set, two references, {steps} steps, {size}×{size} "
        "(reuse on / off; encodes: with reuse → without)"
    )
    print(f"   {'family':<22}{'reuse s':>10}{'off s':>10}{'ratio':>8}   {'VAE encodes':<14}{'K/V extracts':<14}")
    p, refs = plan(panels, size), tiny.references(2, size)
    for family, path in paths.items():
        on, off = (
            create("diffusion", model=str(path), steps=steps, min_pixels=size * size, reuse_references=flag)
            for flag in (True, False)
        )
        list(on.generate(p, refs, NullProgress())), list(off.generate(p, refs, NullProgress()))  # warm up
        t_on, t_off = [], []
        for _ in range(repeat):
            t_on.append(timed(lambda: list(on.generate(p, refs, NullProgress()))))
            t_off.append(timed(lambda: list(off.generate(p, refs, NullProgress()))))
        counts = on.last_reuse
        assert counts is not None
        # every encode of the set passes through the memo: ran + reused is what the set runs without it
        vae = f"{counts.encodes} → {counts.encodes + counts.encodes_reused}"
        kv = f"{counts.kv_extracts} → {counts.kv_extracts + counts.kv_reused}" if counts.kv_extracts else "-"
        mon, moff = statistics.median(t_on), statistics.median(t_off)
        print(f"   {family:<22}{mon:>10.3f}{moff:>10.3f}{mon / moff:>7.2f}×   {vae:<14}{kv:<14}")
    print(
        "   note: tiny pipelines have tiny VAEs and few reference tokens, so the time here is mostly the\n"
        "   denoiser's, which reuse does not touch. What reuse saves per later panel is one VAE encode per\n"
        "   reference (and, for the KV family, the reference tokens' step-0 pass through the transformer); on a\n"
        "   real model at ~1 MP per reference those are a much larger share of a panel, so the saving is\n"
        "   expected to be larger than this ratio. No real-model figure is printed: none was run here."
    )


# family -> the caches it takes (speed.py refuses the others: see docs/gpu.md) and their options
CACHES = {
    "qwen_image_edit_plus": {
        "first_block": {},
        "taylorseer": {},
        "magcache": {"cache_ratios": "calibrate"},  # skips nothing: the hook's own cost
        "magcache_flux": {"cache": "magcache", "cache_ratios": "flux"},
    },
    "flux2_klein": {"taylorseer": {}, "magcache_flux": {"cache": "magcache", "cache_ratios": "flux"}},
    "flux_kontext": {
        "first_block": {},
        "taylorseer": {},
        "magcache_flux": {"cache": "magcache", "cache_ratios": "flux"},
    },
}


def caches(paths: dict[str, Path], steps: int, size: int, panels: int, repeat: int) -> None:
    """Each cache option vs none at the same steps, interleaved, as ratios (one run)."""
    print(
        f"\n4. step caches: {panels} panels (independent), {steps} steps, {size}×{size}, one reference "
        "(relative to cache=none)"
    )
    p, refs = plan(panels, size), tiny.references(1, size)
    for family, kinds in CACHES.items():
        common = dict(model=str(paths[family]), strategy="independent", steps=steps, min_pixels=size * size)
        engines = {"none": create("diffusion", **common)}
        for name, extra in kinds.items():
            engines[name] = create("diffusion", **common, **{"cache": name, **extra})
        times: dict[str, list[float]] = {name: [] for name in engines}
        with contextlib.redirect_stdout(io.StringIO()):  # MagCache's calibration prints its ratios
            for engine in engines.values():
                list(engine.generate(p, refs, NullProgress()))  # warm up
            for _ in range(repeat):
                for name, engine in engines.items():
                    times[name].append(timed(lambda: list(engine.generate(p, refs, NullProgress()))))
        base = statistics.median(times["none"])
        cells = "  ".join(f"{n} {statistics.median(t) / base:.2f}×" for n, t in times.items() if n != "none")
        print(f"   {family:<22}none {base:.3f}s  {cells}")
    print(
        "   magcache (calibrate) computes every step: its ratio is the hooks' own overhead. On these tiny models "
        "the\n   hooks' own cost dominates what a block saves: first_block (a check every step, few skips at 8 "
        "steps)\n   is slower than none; taylorseer and magcache skip whole steps and still gain. A real model's "
        "blocks cost\n   far more, so the savings there are larger (random weights: these are costs, not quality)."
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--panels", type=int, default=4)
    ap.add_argument("--reuse-panels", type=int, default=6)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--wall", action="store_true", help="wall-clock time instead of process CPU time")
    args = ap.parse_args(argv)
    global CLOCK
    CLOCK = time.perf_counter if args.wall else time.process_time
    torch.set_num_threads(args.threads)
    tiny.shrink_qwen_reference_area(args.size * args.size)
    root = Path(tempfile.mkdtemp(prefix="seqedit-bench-"))
    paths = tiny.save_all(root)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, tiny random-weight pipelines, "
        f"{'wall' if args.wall else 'CPU'} time, median of {args.repeat} interleaved runs"
    )

    print(
        f"\n1. wrapper overhead: one panel, {args.steps} steps, {args.size}×{args.size}, one reference "
        "(reuse_references on, the default)"
    )
    print(f"   {'family':<22}{'engine s':>10}{'direct s':>10}{'overhead':>10}")
    overheads = []
    for family, path in paths.items():
        mw, md, pct = overhead(path, args.steps, args.size, args.repeat)
        print(f"   {family:<22}{mw:>10.4f}{md:>10.4f}{pct:>9.1f}%")
        overheads.append(pct)
    print(f"   worst {max(overheads):.1f}% (target <= 5%)")

    print(
        f"\n2. strategy cost: {args.panels} panels, {args.steps} steps, {args.size}×{args.size}, one reference "
        "(relative to independent)"
    )
    all_names = ["independent", "anchor", "chain", "grid", "shared_attention"]
    for family in ("flux2_klein", "flux_kontext", "qwen_image_edit_plus", "instruct_pix2pix"):
        names = all_names if family in ("flux2_klein", "flux_kontext") else all_names[:-1]
        result = strategies(paths[family], names, args.steps, args.size, args.panels, max(3, args.repeat // 2))
        base = result["independent"]
        cells = "  ".join(f"{s} {result[s]:.3f}s ({result[s] / base:.2f}×)" for s in names)
        print(f"   {family:<22}{cells}")

    reference_reuse(paths, args.steps, args.size, args.reuse_panels, max(3, args.repeat // 2))
    caches(paths, args.steps, args.size, args.panels, max(3, args.repeat // 2))


if __name__ == "__main__":
    main()
