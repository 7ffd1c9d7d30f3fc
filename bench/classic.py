"""Benchmark the classic (CPU) engine. Prints figures; asserts nothing (machines here are noisy).

    .venv/bin/python bench/classic.py [--quick]

1. per-operation time at 1024² and 2048² (masks timed separately, as the engine computes them once);
2. a 4-panel colorway set at 2048² (target ≤ 4 s wall on 2 cores);
3. a 15-panel set at 4096² (target: peak RSS ≤ 2.5 GB);
4. one 8192² panel (time, peak RSS).
Sets 2-4 run in a fresh subprocess each so that peak RSS is that set's own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"


def per_op(sizes: list[int]) -> None:
    from PIL import Image

    from seqedit.engines.classic import background, framing, inpaint, layouts, looks, recolor, styles, typography
    from seqedit.engines.classic.arrays import resize, to_float
    from seqedit.engines.classic.colors import parse_color
    from seqedit.engines.classic.located import located_mask
    from seqedit.engines.classic.masks import MaskSet
    from seqedit.engines.classic.ops.adjust import adjust
    from seqedit.engines.classic.ops.rotate import rotate
    from seqedit.engines.classic.ops.sharpen import denoise, sharpen

    src = to_float(Image.open(EX / "astronaut.jpg"))
    t = time.perf_counter()
    MaskSet(resize(src, 256, 256)).person()  # warm-up: mediapipe graphs load once per process
    print(f"mediapipe graphs loaded once per process in {time.perf_counter() - t:.2f}s")
    print(f"{'operation':<28}" + "".join(f"{s}²".rjust(10) for s in sizes))
    rows: dict[str, list[float]] = {}
    for s in sizes:
        img = resize(src, s, s)
        ms = MaskSet(img, seed=1)
        t = time.perf_counter()
        faces = ms.faces()
        rows.setdefault("mask: faces", []).append(time.perf_counter() - t)
        t = time.perf_counter()
        person = ms.person()
        rows.setdefault("mask: person", []).append(time.perf_counter() - t)
        t = time.perf_counter()
        ms.sky()
        rows.setdefault("mask: sky", []).append(time.perf_counter() - t)
        m = person.mask
        boxes = [f.box for f in faces] if faces and hasattr(faces[0], "box") else None
        navy = parse_color("navy").rgb
        ops = {
            "recolor (navy)": lambda: recolor.recolor(img, ms.clothes().mask, navy),
            "background studio": lambda: background.replace_background(img, m, "studio", seed=1),
            "background city": lambda: background.replace_background(img, m, "city", seed=1),
            "style pencil": lambda: styles.stylize(img, "pencil", 1),
            "style manga": lambda: styles.stylize(img, "manga", 1),
            "style comic": lambda: styles.stylize(img, "comic", 1),
            "style popart": lambda: styles.stylize(img, "popart", 1),
            "style cartoon": lambda: styles.stylize(img, "cartoon", 1),
            "style watercolor": lambda: styles.stylize(img, "watercolor", 1),
            "style oil": lambda: styles.stylize(img, "oil", 1),
            "look cyberpunk": lambda: looks.apply_look(img, "cyberpunk", 1),
            "look golden_hour": lambda: looks.apply_look(img, "golden_hour", 1),
            "look noir": lambda: looks.apply_look(img, "noir", 1),
            "look vintage": lambda: looks.apply_look(img, "vintage", 1),
            "time of day: night": lambda: looks.time_of_day(img, "night", None, 1),
            "framing closeup": lambda: framing.reframe(img, "closeup", face_boxes=boxes),
            "caption": lambda: typography.caption(img, "Mission day 12"),
            "magazine cover": lambda: typography.magazine_cover(
                img, m, boxes[0] if boxes else None, "ORBIT", ["The long way up"], 1
            ),
            "comic page (4)": lambda: layouts.comic_page([img] * 4, ["one", "two", "three", "four"], 1),
            "inpaint text": lambda: inpaint.inpaint(img, inpaint.defect_mask(img, "text")),
            # the located mask (GrabCut at ≤ 512 px + two estimates + guided filter at full size), uncached
            "located mask: bbox (helmet)": lambda: located_mask(img, ("bbox", (543.0, 670.0, 1000.0, 1000.0)), 1),
            "located mask: point (face)": lambda: located_mask(img, ("point", (440.0, 230.0)), 1),
            "adjust brightness": lambda: adjust(img, "brightness", 1),
            "adjust contrast": lambda: adjust(img, "contrast", 1),
            "adjust white balance": lambda: adjust(img, "white_balance", 1),
            "rotate 90°": lambda: rotate(img, 90.0),
            "rotate 5° (fill)": lambda: rotate(img, 5.0),
            "sharpen": lambda: sharpen(img, 1.0),
            "denoise": lambda: denoise(img, 1.0),
            "resize ×2 (Lanczos)": lambda: resize(img, 2 * s, 2 * s),
        }
        for name, fn in ops.items():
            t = time.perf_counter()
            try:
                fn()
                rows.setdefault(name, []).append(time.perf_counter() - t)
            except Exception as exc:  # a bench reports, it does not stop
                rows.setdefault(name, []).append(float("nan"))
                print(f"  {name} at {s}²: {type(exc).__name__}: {exc}", file=sys.stderr)
    for name, times in rows.items():
        print(f"{name:<28}" + "".join(f"{t:9.3f}s" for t in times))


def one_set(ref: str, prompt: str, n: int, size: str) -> dict:
    """Run one set in this process and report wall time and peak RSS."""
    from seqedit.edit import decode_refs, prepare, render
    from seqedit.engines import NullProgress, create
    from seqedit.request import EditRequest

    t0 = time.perf_counter()
    engine = create("classic")
    req = EditRequest.create(prompt=prompt, images=[ref], max_images=n, size=size, seed=1)
    refs = decode_refs([Path(ref).read_bytes()])
    t1 = time.perf_counter()
    prepared = prepare(req, refs, engine)
    total_bytes = 0
    per_panel = []
    t = time.perf_counter()
    for out in render(prepared, engine, NullProgress()):
        total_bytes += len(out.data)
        per_panel.append(time.perf_counter() - t)
        t = time.perf_counter()
    t2 = time.perf_counter()
    return {
        "panels": n,
        "size": size,
        "setup_s": round(t1 - t0, 3),
        "render_s": round(t2 - t1, 3),
        "per_panel_s": round(sum(per_panel) / len(per_panel), 3),
        "bytes": total_bytes,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def in_subprocess(ref: str, prompt: str, n: int, size: str) -> dict:
    code = (
        f"import json,sys; sys.path.insert(0, {str(ROOT)!r}); from bench.classic import one_set; "
        f"print(json.dumps(one_set({ref!r}, {prompt!r}, {n:d}, {size!r})))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ})
    if r.returncode != 0:
        return {"error": r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}"}
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="1024² ops only and a small set (smoke run)")
    args = ap.parse_args()
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}")
    per_op([1024] if args.quick else [1024, 2048])
    shoe = (EX / "prompts" / "shoe-colorway.txt").read_text()
    cyber = (EX / "prompts" / "cyberpunk-life.txt").read_text()
    sets = [("4-panel colorway @2048² (target ≤ 4 s)", str(EX / "sneaker.png"), shoe, 4, "2048*2048")]
    if not args.quick:
        sets += [
            ("15-panel set @4096² (target peak RSS ≤ 2.5 GB)", str(EX / "astronaut.jpg"), cyber, 15, "4096*4096"),
            ("1 panel @8192²", str(EX / "astronaut.jpg"), "make it noir", 1, "8192*8192"),
        ]
    for title, ref, prompt, n, size in sets:
        print(f"\n{title}: {json.dumps(in_subprocess(ref, prompt, n, size))}")


if __name__ == "__main__":
    main()
