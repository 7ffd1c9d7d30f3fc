"""Faces: dlib's HOG detector, its 5-point landmarks and its ResNet face embedding (128-d).

The model files come from the ``face-recognition-models`` package and run on ``dlib-bin`` (the
``consistency`` extra); nothing is downloaded. Only files whose licence allows commercial use are
loaded (LICENSES.md beside this module): ``shape_predictor_5_face_landmarks.dat`` and
``dlib_face_recognition_resnet_model_v1.dat`` (both released into the public domain by Davis King; the
5-point model is trained on his own annotated dataset). The 68-point model that package also ships is
trained on iBUG 300-W, whose licence excludes commercial use: it is never loaded.

Faces are found on a copy at most ``DETECT_SIDE`` pixels long (the main face of a portrait panel is
large), the largest is the panel's main face, and the embedding is computed from that copy, aligned by
the 5 landmarks (dlib's own 150×150 chip). Loading takes about a second, once per process.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from seqedit.consistency.pixels import rgb

DETECT_SIDE = 480
LANDMARKS = "shape_predictor_5_face_landmarks.dat"
EMBEDDING = "dlib_face_recognition_resnet_model_v1.dat"
NOT_INSTALLED = "not installed (pip install 'seqedit[consistency]': dlib-bin and face-recognition-models)"


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]  # left, top, right, bottom in the source image's pixels
    embedding: np.ndarray  # 128 floats


def _models_dir() -> Path | None:
    try:
        spec = importlib.util.find_spec("face_recognition_models")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def missing() -> str | None:
    """Why faces cannot be measured here (the reason a null identity figure carries), or None."""
    try:
        if importlib.util.find_spec("dlib") is None:
            return NOT_INSTALLED
    except (ImportError, ValueError):
        return NOT_INSTALLED
    models = _models_dir()
    if models is None or not all((models / name).is_file() for name in (LANDMARKS, EMBEDDING)):
        return NOT_INSTALLED
    return None


class _Models:
    def __init__(self) -> None:
        import dlib  # type: ignore[import-untyped]

        models = _models_dir()
        assert models is not None
        self.detector: Any = dlib.get_frontal_face_detector()
        self.landmarks: Any = dlib.shape_predictor(str(models / LANDMARKS))
        self.embedding: Any = dlib.face_recognition_model_v1(str(models / EMBEDDING))
        self.lock = threading.Lock()  # dlib's objects are not documented as thread-safe


_models: _Models | None = None
_load_lock = threading.Lock()


def _load() -> _Models:
    global _models
    with _load_lock:
        if _models is None:
            _models = _Models()
        return _models


def main_face(image: Image.Image) -> Face | None:
    """The largest face in ``image`` with its embedding, or None when there is none."""
    models = _load()
    arr = rgb(image, DETECT_SIDE)
    scale = max(image.size) / max(arr.shape[:2])
    with models.lock:
        found = list(models.detector(arr, 0))
        if not found and max(arr.shape[:2]) < DETECT_SIDE:  # a small panel: look once more, upsampled
            found = list(models.detector(arr, 1))
        if not found:
            return None
        rect = max(found, key=lambda r: r.area())
        shape = models.landmarks(arr, rect)
        vector = np.asarray(models.embedding.compute_face_descriptor(arr, shape), dtype=np.float64)
    box = tuple(round(v * scale) for v in (rect.left(), rect.top(), rect.right(), rect.bottom()))
    return Face((box[0], box[1], box[2], box[3]), vector)


def distance(a: Face, b: Face) -> float:
    """Euclidean distance of two embeddings (dlib's metric: the same person is within 0.6)."""
    return float(np.linalg.norm(a.embedding - b.embedding))
