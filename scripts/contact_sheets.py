"""Contact sheets of what the classic engine makes of real requests, so anyone can look at them.

    .venv/bin/python scripts/contact_sheets.py [-o out/contact-sheets] [--only NAME ...] [--list]

One PNG per request: the prompt, the references, then every panel (or the one-line refusal), with the
verdicts and warnings printed under them, exactly as ``seqedit edit`` would produce them (the same
``seqedit.edit`` run loop, in process). The requests are the README's example prompts
(``examples/prompts/*.txt``) and real-photo requests on the bundled photos and scikit-image's data
(public domain / CC0: ``examples/LICENSES.md``). Nothing is asserted: this is for eyes. Two of the sheets
are in the README (``docs/images/contact-*.jpg``, written with ``--docs``).
"""

from __future__ import annotations

import argparse
import io
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"
THUMB = 224  # panel height on a sheet
MARGIN = 12


@dataclass(frozen=True)
class Request:
    name: str
    refs: tuple[str, ...]  # examples/<file> or skimage:<name>
    prompt: str
    n: int
    size: str | None = None


def _example(name: str) -> str:
    return (EX / "prompts" / f"{name}.txt").read_text().strip()


REQUESTS: tuple[Request, ...] = (
    # the README's example prompts (the product's own wording), on the refs the tests use
    Request("readme-shoe-colorway", ("sneaker.png",), _example("shoe-colorway"), 4),
    Request("readme-magazine-covers", ("astronaut.jpg", "grace_hopper.jpg"), _example("magazine-covers"), 2, "576*768"),
    Request("readme-manga-storyboard", ("astronaut.jpg",), _example("manga-storyboard"), 4, "512*384"),
    Request("readme-cyberpunk-life", ("astronaut.jpg",), _example("cyberpunk-life"), 3, "448*448"),
    # ten real-photo requests a shop, brand team or illustrator would write
    Request("mug-four-colours", ("coffee.jpg",), "Show this mug in 4 colours: red, blue, green and yellow", 4),
    Request(
        "coffee-bbox",
        ("coffee.jpg",),
        "recolour the coffee <bbox>342 238 617 488</bbox> teal, keep the cup",
        1,
    ),
    Request("saucer-untagged", ("coffee.jpg",), "recolour the saucer in navy blue, keep the cup", 1),
    Request("portrait-background-bw", ("grace_hopper.jpg",), "make the background black and white", 1),
    Request("cat-on-white", ("skimage:chelsea",), "put the cat on a pure white background", 1),
    Request("sneaker-backgrounds", ("sneaker.png",), "the same sneaker on white, grey, black and beige backgrounds", 4),
    Request("portrait-looks", ("grace_hopper.jpg",), "3 versions: B&W, sepia and cold blue", 3),
    Request(
        "art-prints",
        ("skimage:chelsea",),
        "4 art prints of this cat: 1. pencil 2. watercolor 3. oil painting 4. ink",
        4,
    ),
    Request("social-crops", ("skimage:astronaut",), "1:1, 4:5 and 9:16 crops of this photo for social media", 3),
    Request("basic-fixes", ("skimage:rocket",), "brighter, more contrast and sharpen", 1),
    Request("contact-sheet", ("skimage:chelsea", "coffee.jpg", "astronaut.jpg"), "a contact sheet of these photos", 1),
    Request("cover-title", ("skimage:chelsea",), 'a magazine cover of this cat titled "FELINE"', 1, "576*768"),
)

DOCS = {"readme-shoe-colorway": "contact-shoe-colorway.jpg", "art-prints": "contact-art-prints.jpg"}


def load_ref(ref: str) -> Image.Image:
    if ref.startswith("skimage:"):
        from skimage import data

        return Image.fromarray(getattr(data, ref.split(":", 1)[1])()).convert("RGB")
    with Image.open(EX / ref) as im:
        return im.convert("RGB")


def run(req: Request) -> tuple[list[Image.Image], list[str], float]:
    """The panels (or none) and the lines to print under them: verdicts, warnings or the refusal."""
    from seqedit.edit import prepare, render
    from seqedit.engines.base import NullProgress, create
    from seqedit.errors import SeqeditError
    from seqedit.request import EditRequest

    refs = [load_ref(r) for r in req.refs]
    engine = create("classic")
    t0 = time.perf_counter()
    lines: list[str] = []
    panels: list[Image.Image] = []
    try:
        request = EditRequest.create(
            prompt=req.prompt, images=[f"ref{i}.png" for i in range(len(refs))], max_images=req.n, size=req.size
        )
        prepared = prepare(request, refs, engine)
        for v in prepared.verdicts:
            where = "shared" if v.panel is None else f"panel {v.panel}"
            lines.append(f"{where}: {v.operation} [{v.verdict}] {v.clause!r}" + (f" - {v.note}" if v.note else ""))
        lines += [f"warning: {w}" for w in prepared.warnings]
        progress = NullProgress()
        for out in render(prepared, engine, progress):
            with Image.open(io.BytesIO(out.data)) as im:
                panels.append(im.convert("RGB"))
        lines += [f"warning: {w}" for w in progress.warnings]
    except SeqeditError as e:
        lines.append(f"REFUSED ({type(e).__name__}): {e}")
    return panels, lines, time.perf_counter() - t0


def _thumb(im: Image.Image) -> Image.Image:
    w = max(1, round(im.width * THUMB / im.height))
    return im.resize((w, THUMB), Image.LANCZOS)


def sheet(
    req: Request, refs: list[Image.Image], panels: list[Image.Image], lines: list[str], secs: float
) -> Image.Image:
    from seqedit.engines.classic.fonts import get_font

    body = get_font("body", 15)
    head = get_font("headline", 17)
    thumbs = [_thumb(r) for r in refs]
    outs = [_thumb(p) for p in panels]
    row_w = sum(t.width for t in thumbs) + sum(t.width for t in outs) + MARGIN * (len(thumbs) + len(outs) + 2)
    width = max(900, row_w)
    chars = max(60, width // 8)
    prompt = textwrap.wrap(f"{req.name}: {req.prompt}", chars) or [req.name]
    notes = [w for line in lines for w in textwrap.wrap(line, chars + 10)] + [f"{len(panels)} panel(s) in {secs:.1f}s"]
    height = MARGIN * 4 + 22 * len(prompt) + THUMB + 20 + 18 * len(notes)
    page = Image.new("RGB", (width, height), (250, 250, 248))
    d = ImageDraw.Draw(page)
    y = MARGIN
    for line in prompt:
        d.text((MARGIN, y), line, fill=(20, 20, 20), font=head)
        y += 22
    y += MARGIN
    x = MARGIN
    for t in thumbs:
        page.paste(t, (x, y))
        d.text((x, y + THUMB + 2), "reference", fill=(90, 90, 90), font=body)
        x += t.width + MARGIN
    x += MARGIN
    d.line([(x - MARGIN, y), (x - MARGIN, y + THUMB)], fill=(180, 180, 180), width=2)
    for k, t in enumerate(outs, start=1):
        page.paste(t, (x, y))
        d.text((x, y + THUMB + 2), f"panel {k}", fill=(90, 90, 90), font=body)
        x += t.width + MARGIN
    y += THUMB + 20 + MARGIN
    for line in notes:
        colour = (170, 20, 20) if line.startswith("REFUSED") else (40, 40, 40)
        d.text((MARGIN, y), line, fill=colour, font=body)
        y += 18
    return page


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--out", default=str(ROOT / "out" / "contact-sheets"))
    ap.add_argument("--only", nargs="*", help="request names to run (see --list)")
    ap.add_argument("--list", action="store_true", help="list the requests and exit")
    ap.add_argument("--docs", action="store_true", help="also write the README's two sheets to docs/images/")
    args = ap.parse_args(argv)
    if args.list:
        for r in REQUESTS:
            print(f"{r.name:<26} {', '.join(r.refs):<40} n={r.n}  {r.prompt[:70]!r}")
        return 0
    wanted = set(args.only or [r.name for r in REQUESTS])
    unknown = wanted - {r.name for r in REQUESTS}
    if unknown:
        print(f"unknown request(s): {', '.join(sorted(unknown))} (see --list)", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for req in REQUESTS:
        if req.name not in wanted:
            continue
        refs = [load_ref(r) for r in req.refs]
        panels, lines, secs = run(req)
        page = sheet(req, refs, panels, lines, secs)
        path = out / f"{req.name}.png"
        page.save(path, optimize=True)
        if args.docs and req.name in DOCS:
            docs = ROOT / "docs" / "images"
            docs.mkdir(parents=True, exist_ok=True)
            # the README's copy as JPEG keeps the repository small (a palette PNG shifted the cat's green eyes)
            page.save(docs / DOCS[req.name], quality=88, optimize=True)
        status = "refused" if any(x.startswith("REFUSED") for x in lines) else f"{len(panels)} panels"
        print(f"{req.name:<26} {status:<10} {secs:5.1f}s  {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
