"""``seqedit edit`` / ``plan`` / ``presets`` run as a user runs them: the console script in a subprocess."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seqedit.engines.classic.colors import parse_color
from tests.support.metrics import (
    delta_e,
    edge_agreement,
    max_pairwise_palette_distance,
    mean_lab,
    palette_distance,
    rgb_to_lab,
)

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples"
SEQEDIT = shutil.which("seqedit", path=str(Path(sys.executable).parent)) or "seqedit"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([SEQEDIT, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def prompt(name: str) -> str:
    return (EX / "prompts" / f"{name}.txt").read_text()


def outputs(d: Path, ext: str = "jpg") -> list[Image.Image]:
    files = sorted(d.glob(f"*.{ext}"), key=lambda p: int(p.stem))
    return [Image.open(f).convert("RGB") for f in files]


def check_set(d: Path, n: int, size: tuple[int, int]) -> dict:
    files = sorted(p.name for p in d.iterdir() if p.suffix == ".jpg")
    assert files == sorted(f"{k}.jpg" for k in range(1, n + 1))
    for im in outputs(d):
        assert im.size == size
    record = json.loads((d / "set.json").read_text())
    for key in ("request", "plan", "seed", "verdicts", "warnings", "outputs", "timings", "engine"):
        assert key in record, key
    assert record["plan"]["count"] == n and len(record["outputs"]) == n
    for o in record["outputs"]:
        assert hashlib.sha256((d / o["file"]).read_bytes()).hexdigest() == o["sha256"]
    assert record["timings"]["total"] > 0
    return record


def sneaker_masks() -> dict[str, np.ndarray]:
    """Ground-truth part masks of the drawn sneaker, from the source image itself."""
    src = np.asarray(Image.open(EX / "sneaker.png").convert("RGB")).astype(int)
    bg = np.abs(src - np.array([240, 240, 240])).max(axis=2) > 25
    h, w = bg.shape
    yy, xx = np.mgrid[:h, :w]
    red = (src[..., 0] > 150) & (src[..., 1] < 90)
    sole = bg & (yy >= 386) & (yy <= 414) & (xx > 130) & (xx < 650) & (src.max(axis=2) < 90)
    upper = bg & ~red & (yy < 360) & (src.min(axis=2) > 180)
    import cv2

    upper = cv2.erode(upper.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    return {"subject": bg, "upper": upper, "logo": red, "sole": sole}


def test_shoe_colorway_four_panels(tmp_path):
    out = tmp_path / "set"
    r = run(
        "edit",
        str(EX / "sneaker.png"),
        "-p",
        prompt("shoe-colorway"),
        "-n",
        "4",
        "--size",
        "768*512",
        "--seed",
        "7",
        "-o",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    record = check_set(out, 4, (768, 512))
    assert any(v["operation"] == "recolor" for v in record["verdicts"])
    src = Image.open(EX / "sneaker.png").convert("RGB")
    masks = sneaker_masks()
    panels = outputs(out)
    names = ["white", "navy", "matte red", "forest green"]
    # independent sanity of what each name means (Lab): lightness and hue direction
    expect = [
        lambda L, a, b: L > 85 and abs(a) < 8 and abs(b) < 8,  # white
        lambda L, a, b: L < 35 and b < -10,  # navy: dark and blue
        lambda L, a, b: a > 40,  # red
        lambda L, a, b: a < -15 and L < 50,
    ]  # forest green: dark green
    for k, im in enumerate(panels):
        # the recoloured upper lands near the named colour (ΔE2000 in Lab, the engine's own colour table)
        lab = mean_lab(im, masks["upper"])
        de = delta_e(lab, rgb_to_lab(parse_color(names[k]).rgb))
        print(f"panel {k + 1}: {names[k]}: ΔE2000 {de:.1f}, Lab {lab.round(1)}")
        assert de < 15, (k, de)
        assert expect[k](*lab), (names[k], lab)
        # the shoe's structure is kept: edges inside the subject agree with the source
        assert edge_agreement(src, im, masks["subject"]) > 0.6
        # the backdrop is untouched
        diff = np.abs(np.asarray(im, int) - np.asarray(src, int))[~masks["subject"]].mean()
        assert diff < 4, diff
    # panel 4: gum sole (a tan brown), not the source's near-black sole
    sole = mean_lab(panels[3], masks["sole"])
    assert delta_e(sole, rgb_to_lab(parse_color("gum").rgb)) < 15 and sole[2] > 15  # tan: yellow-brown
    # panels differ from each other (a colorway, not four copies)
    assert min(palette_distance(a, b) for i, a in enumerate(panels) for b in panels[i + 1 :]) > 0.2


def test_same_seed_same_bytes(tmp_path):
    args = (
        "edit",
        str(EX / "astronaut.jpg"),
        "-p",
        "pencil sketch, then add a thin white border",
        "-n",
        "2",
        "--size",
        "320*320",
        "--seed",
        "11",
    )
    a, b = run(*args, "-o", str(tmp_path / "a")), run(*args, "-o", str(tmp_path / "b"))
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    for k in (1, 2):
        assert (tmp_path / "a" / f"{k}.jpg").read_bytes() == (tmp_path / "b" / f"{k}.jpg").read_bytes()


def test_magazine_covers_for_two_people(tmp_path):
    out = tmp_path / "covers"
    r = run(
        "edit",
        str(EX / "astronaut.jpg"),
        str(EX / "grace_hopper.jpg"),
        "-p",
        prompt("magazine-covers"),
        "-n",
        "2",
        "--size",
        "576*768",
        "--seed",
        "3",
        "-o",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    record = check_set(out, 2, (576, 768))
    assert any(v["operation"] == "cover" for v in record["verdicts"])
    a, b = outputs(out)
    # each cover shows its own person: the two covers are clearly different pictures
    assert palette_distance(a, b) > 0.05 or edge_agreement(a, b) < 0.5


def test_manga_storyboard_four_panels(tmp_path):
    out = tmp_path / "manga"
    r = run(
        "edit",
        str(EX / "astronaut.jpg"),
        "-p",
        prompt("manga-storyboard"),
        "-n",
        "4",
        "--size",
        "512*384",
        "--seed",
        "5",
        "-o",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    record = check_set(out, 4, (512, 384))
    ops = {v["operation"] for v in record["verdicts"]}
    assert "style" in ops
    panels = outputs(out)
    # one look across the set: ink-and-screentone panels share a palette
    assert max_pairwise_palette_distance(panels) < 0.3
    # and they are not copies of one another
    assert len({hashlib.sha256(p.tobytes()).hexdigest() for p in panels}) == 4


def test_cyberpunk_series_of_one_person(tmp_path):
    out = tmp_path / "cyber"
    r = run(
        "edit",
        str(EX / "astronaut.jpg"),
        "-p",
        prompt("cyberpunk-life"),
        "-n",
        "3",
        "--size",
        "448*448",
        "--seed",
        "9",
        "-o",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    record = check_set(out, 3, (448, 448))
    assert record["warnings"], "an approximation must say so"
    panels = outputs(out)
    assert max_pairwise_palette_distance(panels) < 0.35
    src = Image.open(EX / "astronaut.jpg").convert("RGB").resize((448, 448))
    assert all(palette_distance(src, p) > 0.3 for p in panels)  # the look really changed


@pytest.mark.parametrize(
    "text, clause_word",
    [
        ("Generate a series of 3 images depicting this little girl at ages 25, 45, and 65.", "age"),
        ("Generate a series of 4 different hairstyle images for this girl.", "hairstyle"),
        ("Generate a series of 3 images for this character: left view, once view, and right view.", "view"),
        ("Swap her face with the face of the second person.", "face"),
    ],
)
def test_unsupported_prompts_fail_naming_the_clause(tmp_path, text, clause_word):
    out = tmp_path / "no"
    r = run("edit", str(EX / "astronaut.jpg"), "-p", text, "-n", "3", "-o", str(out))
    assert r.returncode == 3, r.stdout + r.stderr
    assert clause_word in r.stderr.lower() and "generative" in r.stderr.lower()
    assert len(r.stderr.strip().splitlines()) == 1
    assert not out.exists() or not any(out.iterdir())


def _png_bomb() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def test_bad_input_names_field_and_limit(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    jpg = io.BytesIO()
    Image.open(EX / "astronaut.jpg").save(jpg, "JPEG")
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(jpg.getvalue()[:5000])
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_bomb())
    ok = str(EX / "astronaut.jpg")
    cases = [
        ([str(text)], [], "images[0]", "JPEG, PNG"),
        ([str(truncated)], [], "images[0]", "a complete, valid image file"),
        ([str(bomb)], [], "images[0]", "40000000 pixels"),
        ([ok] * 11, [], "images", "1-10 images"),
        ([ok], ["-n", "0"], "max_images", "1-15"),
        ([ok], ["-n", "16"], "max_images", "1-15"),
        ([ok], ["--size", "8193*10"], "size", "64-8192"),
        ([ok], ["--size", "0*0"], "size", "64-8192"),
        ([ok], ["--size", "abc"], "size", "W*H"),
        ([ok], ["-p", ""], "prompt", "1-10000 characters"),
        ([str(tmp_path / "missing.jpg")], [], "images[0]", "readable file"),
    ]
    for refs, extra, field, limit in cases:
        args = ["edit", *refs, "-p", "make it noir", *extra, "-o", str(tmp_path / "o")]
        if "-p" in extra:
            args = ["edit", *refs, *extra, "-o", str(tmp_path / "o")]
        r = run(*args)
        assert r.returncode == 2, (field, r.stdout, r.stderr)
        line = r.stderr.strip()
        assert len(line.splitlines()) == 1 and field in line and limit in line, (field, line)
    assert not (tmp_path / "o").exists()


def test_plan_prints_verdicts_without_rendering(tmp_path):
    r = run("plan", str(EX / "sneaker.png"), "-p", prompt("shoe-colorway"), "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["plan"]["count"] == 4  # the CLI's default count is what the prompt states
    assert [p["text"] for p in doc["plan"]["panels"]][3] == "forest green + gum sole"
    assert not list(tmp_path.iterdir())
    bad = run("plan", str(EX / "astronaut.jpg"), "-p", "show her at age 80")
    assert bad.returncode == 3 and "age" in bad.stderr


def test_presets_table():
    r = run("presets")
    assert r.returncode == 0 and "16:9@2mp" in r.stdout and "1920*1088" in r.stdout


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--engine", "nope"], "unknown engine 'nope'"),
        (["--model", "some/model"], "takes no model option"),
        (["--opt", "guidance=2"], "the classic engine takes no guidance option"),
        (["--opt", "nothing"], "--opt takes KEY=VALUE, got 'nothing'"),
    ],
)
def test_wrong_engine_options_are_bad_input(tmp_path, extra, needle):
    r = run("edit", str(EX / "astronaut.jpg"), "-p", "make it noir", *extra, "-o", str(tmp_path / "o"))
    assert r.returncode == 2 and needle in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_warnings_found_while_rendering_are_printed_and_recorded(tmp_path):
    """Panel 2 repeats panel 1's instruction: the engine varies it by framing and says so, on the
    terminal and in set.json, not only in its own verdict notes."""
    r = run(
        "edit",
        str(EX / "coffee.jpg"),
        "-p",
        "make it black and white",
        "-n",
        "2",
        "--size",
        "256*192",
        "--seed",
        "3",
        "-o",
        str(tmp_path / "out"),
    )
    assert r.returncode == 0, r.stderr
    record = check_set(tmp_path / "out", 2, (256, 192))
    note = "panel 2: approximate framing: same picture as an earlier panel; varied by a closeup framing"
    note += " (never a mirror)"
    assert note in record["warnings"], record["warnings"]
    assert note in " ".join((r.stdout + r.stderr).split())


def test_engines_lists_declared_options_with_their_variables():
    r = run("engines", "diffusion")
    assert r.returncode == 0, r.stderr
    assert "needs `pip install 'seqedit[diffusion]'`" in r.stdout and "$SEQEDIT_<KEY>" in r.stdout
    for option in (
        "guidance",
        "vae_tiling",
        "attention_backend",
        "overflow",
        "batch_size",
        "offload",
        "min_pixels",
        "max_pixels",
    ):
        assert option in r.stdout, option
    assert "anchor | chain | independent | grid | shared_attention" in r.stdout
    listing = run("engines")
    assert listing.returncode == 0 and "classic" in listing.stdout and "diffusion" in listing.stdout
    unknown = run("engines", "nope")
    assert unknown.returncode == 2 and "unknown engine 'nope'" in unknown.stderr


def test_engines_never_cuts_an_option_name_on_a_narrow_terminal():
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}
    r = subprocess.run([SEQEDIT, "engines", "diffusion"], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    for option in ("attention_backend", "local_files_only", "vae_slicing", "min_pixels"):
        assert option in r.stdout.split(), option


def test_an_output_path_that_is_a_file_is_bad_input_not_a_traceback(tmp_path):
    target = tmp_path / "taken"
    target.write_text("not a folder")
    for out in (target, target / "sub"):
        r = run("edit", str(EX / "sneaker.png"), "-p", "the sneaker in red", "-n", "1", "-o", str(out), "-q")
        assert r.returncode == 2, r.stderr
        assert "Traceback" not in r.stderr and "-o:" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert target.read_text() == "not a folder"


@pytest.mark.parametrize(
    ("refs", "text"),
    [
        (["sneaker.png"], "add a navy blue border"),
        (["grace_hopper.jpg"], "dye her hair platinum blonde"),
        (["astronaut.jpg"], "dye her hair blonde"),
        (["astronaut.jpg", "coffee.jpg"], "lay the shots out as a comic page"),
        (["coffee.jpg"], "a comic page with 4 panels of this cup"),
    ],
)
def test_the_reported_crashes_end_in_exit_0_or_3_with_one_line(tmp_path, refs, text):
    """Issue 10's crash list: each exited 1 with a traceback."""
    r = run(
        "edit",
        *(str(EX / ref) for ref in refs),
        "-p",
        text,
        "-n",
        "1",
        "--size",
        "256*256",
        "-o",
        str(tmp_path / "out"),
        "-q",
    )
    assert r.returncode in (0, 3), r.stderr
    assert "Traceback" not in r.stderr
    if r.returncode == 3:
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    else:
        assert (tmp_path / "out" / "1.jpg").is_file()


def test_a_warning_with_brackets_prints_them(capsys):
    """Rich markup would swallow "[stylenet]" in an install hint: warnings are printed as text."""
    from rich.console import Console
    from rich.progress import Progress

    from seqedit.client.cli_edit import _BarProgress

    console = Console(file=io.StringIO(), width=200)
    with Progress(console=console) as bar:
        progress = _BarProgress(bar, bar.add_task("x", total=1), 1, [], quiet=False)
        progress.warn("pip install 'seqedit[stylenet]' for the network")
    assert "seqedit[stylenet]" in console.file.getvalue()
