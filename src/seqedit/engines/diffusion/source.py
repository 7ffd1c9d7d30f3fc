"""Where a model's weights came from, for a set's provenance: a hub revision, or a hash of a local folder.

    model_source("black-forest-labs/FLUX.2-klein-4B")
    # {"kind": "hub", "id": "black-forest-labs/FLUX.2-klein-4B", "revision": "<commit of the cached snapshot>"}
    model_source("/models/klein")
    # {"kind": "local", "path": "/models/klein", "sha256": "…", "covers": COVERS}

A hub id's revision is the commit of the snapshot in the Hugging Face cache that ``model_index.json``
was read from (``huggingface_hub.try_to_load_from_cache``: nothing is downloaded); null when that
file is not cached. A local folder's hash is cheap (no weight values are read) and covers what
``COVERS`` says; every file is taken by its path relative to the folder, in sorted order.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

__all__ = ["COVERS", "WEIGHT_SUFFIXES", "folder_sha256", "hub_revision", "model_source"]

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf", ".onnx", ".msgpack", ".h5")
COVERS = (
    "every file but the weights in full (model_index.json, each component's config, tokenizer and scheduler "
    "files); for each weight file its name and size, and for .safetensors also its header (tensor names, "
    "dtypes, shapes, offsets); not the weight values"
)
_MAX_HEADER = 100 * 1024 * 1024  # the safetensors format's own limit on the header


def model_source(model: str, *, local: bool) -> dict[str, Any]:
    """What ``model`` (a local folder when ``local``, else a hub id) is, as recorded in a set's provenance."""
    if local:
        path = Path(model).expanduser().resolve()
        try:
            digest: str | None = folder_sha256(path)
            problem = None
        except OSError as exc:
            digest, problem = None, f"cannot read {exc.filename or path}: {exc.strerror or exc}"
        out: dict[str, Any] = {"kind": "local", "path": str(path), "sha256": digest, "covers": COVERS}
        if problem:
            out["error"] = problem
        return out
    return {"kind": "hub", "id": model, "revision": hub_revision(model)}


def hub_revision(repo_id: str, cache_dir: str | Path | None = None) -> str | None:
    """The commit of the cached snapshot holding ``repo_id``'s model_index.json, or None (not cached).
    ``cache_dir``: the Hugging Face cache (default: huggingface_hub's, from ``HF_HUB_CACHE``/``HF_HOME``)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    try:
        found = try_to_load_from_cache(repo_id, "model_index.json", cache_dir=cache_dir)
    except Exception:  # noqa: BLE001 - a malformed id or cache: the revision is just unknown
        return None
    if not isinstance(found, str):
        return None
    snapshot = Path(found).parent
    return snapshot.name if snapshot.parent.name == "snapshots" else None


def folder_sha256(root: Path) -> str:
    """sha256 over the folder as ``COVERS`` says (hidden files and folders, e.g. ``.cache``, skipped)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not _hidden(p.relative_to(root))):
        name = path.relative_to(root).as_posix()
        digest.update(b"\0file\0" + name.encode())
        if path.name.endswith(WEIGHT_SUFFIXES):
            digest.update(b"\0size\0" + str(path.stat().st_size).encode())
            if path.name.endswith(".safetensors"):
                digest.update(b"\0header\0" + _safetensors_header(path))
        else:
            with path.open("rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _safetensors_header(path: Path) -> bytes:
    """The JSON header of a safetensors file (8-byte little-endian length, then the header), normalised;
    a file too short or malformed for one gives a marker instead (its size is hashed anyway)."""
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) < 8:
            return b"(no header)"
        (length,) = struct.unpack("<Q", head)
        if length > _MAX_HEADER:
            return b"(no header)"
        raw = f.read(length)
    try:
        return json.dumps(json.loads(raw), sort_keys=True).encode()
    except ValueError:
        return b"(no header)"
