"""Benchmark the consistency figures and the guard. Prints figures; asserts nothing (machines here are noisy).

    .venv/bin/python bench/consistency.py [--quick]

1. per panel at 1024² and 2048²: a classic panel's time (a 4-panel grade set on the astronaut) against
   the figures' time on that panel in the same run (target ≤ 10 %); panel 1 also pays the set's one-off
   work (the reference's face, subject mask, edges and ORB keypoints) and is shown apart;
2. the figures' cost per panel for N = 2, 4, 8, 15 (target: flat, not growing with N);
3. the guard: a set of 4 from an instant engine with 0 and with 1 drifting panel (the other portrait in
   panel 3 on its first render): the figures and the re-render it costs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from PIL import Image, ImageEnhance

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
EX = ROOT / "examples"
GRADES = ["warm grade", "black and white", "cool blue tint", "high contrast"]

from seqedit.consistency import Watch, faces  # noqa: E402
from seqedit.edit import prepare  # noqa: E402
from seqedit.engines import NullProgress, create  # noqa: E402
from seqedit.plan import make_plan  # noqa: E402
from seqedit.request import EditRequest  # noqa: E402


def request(n: int, size: int, prompt: str | None = None) -> EditRequest:
    lines = " ".join(f"{k}. {GRADES[(k - 1) % len(GRADES)]}" for k in range(1, n + 1))
    return EditRequest.create(
        prompt=prompt or f"a series of {n} images: {lines}", images=["x"], max_images=n, size=f"{size}*{size}", seed=1
    )


def timed_set(n: int, size: int, ref: Image.Image) -> tuple[list[float], list[float]]:
    """(classic seconds per panel, figures seconds per panel) for one set, measured in the same run."""
    engine = create("classic")
    prepared = prepare(request(n, size), [ref], engine)
    watch = Watch(prepared.plan, prepared.refs, prepared.verdicts, engine, NullProgress())
    panels = engine.generate(prepared.plan, prepared.refs, NullProgress())
    render, figures = [], []
    for k in range(1, n + 1):
        t0 = time.perf_counter()
        panel = next(panels)
        t1 = time.perf_counter()
        watch.panel(k, panel)
        t2 = time.perf_counter()
        render.append(t1 - t0)
        figures.append(t2 - t1)
    return render, figures


class Instant:
    """An engine that costs nothing: the reference at the plan's size; panel 3 is the other portrait
    on its first render when ``drifting``."""

    name = "bench-instant"

    def __init__(self, drifting: bool) -> None:
        from pydantic import BaseModel

        class Options(BaseModel):
            consistency_guard: bool = True
            consistency_retries: int = 2

        self.options, self.drifting, self.renders = Options(), drifting, 0
        self.other = Image.open(EX / "grace_hopper.jpg").convert("RGB")

    def analyse(self, plan):
        return []

    def check(self, plan, refs=None):
        return []

    def _panel(self, plan, refs, index, first):
        self.renders += 1
        source = self.other if (self.drifting and index == 3 and first) else refs[0]
        return source.resize((plan.size.width, plan.size.height))

    def generate(self, plan, refs, progress):
        for k in range(1, plan.count + 1):
            yield self._panel(plan, refs, k, True)

    def rerender(self, plan, refs, index, seed, progress):
        return self._panel(plan, refs, index, False)


def per_metric(sizes: list[int], ref: Image.Image) -> None:
    """Each metric alone on one panel (a product set, so every figure applies; median of 3)."""
    from seqedit.consistency import Context, metrics

    print("\neach figure alone on one panel (median of 3; the set's one-off work done before)")
    print(f"{'figure':<12}" + "".join(f"{s}²".rjust(10) for s in sizes))
    rows: dict[str, list[float]] = {}
    for size in sizes:
        image = ref.resize((size, size))
        plan = make_plan(request(4, size, "4 shots of this product with its logo"), [image.size])
        context = Context.create(plan, [image])
        context.first = image
        for metric in metrics():
            metric.measure(image, 2, context)  # the set's one-off work
            times = []
            for _ in range(3):
                t = time.perf_counter()
                metric.measure(image, 2, context)
                times.append(time.perf_counter() - t)
            rows.setdefault(metric.name, []).append(statistics.median(times))
    for name, values in rows.items():
        print(f"{name:<12}" + "".join(f"{v:>10.3f}" for v in values))


def guard(size: int, ref: Image.Image) -> None:
    print(f"\nguard, a set of 4 at {size}² from an instant engine (the figures and the re-render are the cost)")
    for drifting in (False, True):
        engine = Instant(drifting)
        prepared = prepare(request(4, size, "a series of 4 portraits of this person"), [ref], engine)
        watch = Watch(prepared.plan, prepared.refs, prepared.verdicts, engine, NullProgress())
        t = time.perf_counter()
        for k, panel in enumerate(engine.generate(prepared.plan, prepared.refs, NullProgress()), 1):
            watch.panel(k, panel)
        took = time.perf_counter() - t
        retries = len(watch.report.retries)
        print(
            f"  {int(drifting)} drifting panel(s): {took:.3f}s for the set, {engine.renders} renders, "
            f"{retries} re-render(s), warnings {watch.report.warnings or 'none'}"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="1024² only, N up to 4")
    args = ap.parse_args()
    print(f"faces: {faces.missing() or 'dlib installed'}")
    ref = Image.open(EX / "astronaut.jpg").convert("RGB")
    t = time.perf_counter()
    if faces.missing() is None:
        faces.main_face(ref)
    print(f"dlib models loaded (once per process) and one face embedded in {time.perf_counter() - t:.2f}s")
    timed_set(2, 256, ref)  # warm-up: the classic engine's masks and models
    sizes = [1024] if args.quick else [1024, 2048]
    print("\nper panel, a 4-panel grade set (classic) — median of panels 2-4; panel 1 carries the set's one-off work")
    print(f"{'size':>6} {'classic s':>10} {'figures s':>10} {'share':>7} {'panel 1 figures s':>18}")
    for size in sizes:
        render, figures = timed_set(4, size, ImageEnhance.Color(ref).enhance(1.0).resize((size, size)))
        r, f = statistics.median(render[1:]), statistics.median(figures[1:])
        print(f"{size:>5}² {r:>10.3f} {f:>10.3f} {f / r:>6.1%} {figures[0]:>18.3f}")
    per_metric(sizes, ref)
    print("\nthe figures per panel against N (1024², panels 2…N, median)")
    for n in [2, 4] if args.quick else [2, 4, 8, 15]:
        render, figures = timed_set(n, 1024, ref.resize((1024, 1024)))
        f, r = statistics.median(figures[1:]), statistics.median(render[1:])
        print(f"  N={n:>2}: {f:.3f}s per panel (classic {r:.3f}s)")
    guard(1024, ref.resize((1024, 1024)))


if __name__ == "__main__":
    main()
