"""One loader for every family: a local directory or a hub id → a diffusers pipeline + its adapter.

    info = inspect_model("black-forest-labs/FLUX.2-klein-4B")   # reads model_index.json only
    loaded = load("/models/klein", device="cuda", dtype="bfloat16", offload=False)
    loaded = shared("/models/klein", device="cuda")   # the same pipeline for every caller in the process
    loaded.pipe, loaded.adapter, loaded.device, loaded.dtype

``inspect_model`` needs neither torch nor the weights, so ``check()`` can answer in an API process.
Dispatch is on ``model_index.json``'s ``_class_name``. Device ``None``/``"auto"`` picks cuda, then mps,
then cpu; dtype ``None``/``"auto"`` picks bfloat16 on cuda, float16 on mps, float32 on cpu.
Every failure is an ``EngineError`` (see ``errors.py``).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqedit.engines.base import EngineError, MissingExtra
from seqedit.engines.diffusion.adapter import Adapter
from seqedit.engines.diffusion.errors import (
    DeviceUnavailable,
    ModelNotFound,
    NotAPipeline,
    engine_errors,
)
from seqedit.engines.diffusion.flux2_dev import Flux2Dev
from seqedit.engines.diffusion.flux2_klein import Flux2Klein, Flux2KleinKV
from seqedit.engines.diffusion.flux_kontext import FluxKontext
from seqedit.engines.diffusion.joyimage import JoyImageEditPlus
from seqedit.engines.diffusion.options import EXTRA
from seqedit.engines.diffusion.pix2pix import InstructPix2Pix
from seqedit.engines.diffusion.qwen_edit import QwenImageEdit, QwenImageEditPlus
from seqedit.engines.diffusion.qwen_image_21 import QwenImage21
from seqedit.engines.diffusion.speed import Speed

ADAPTERS: tuple[type[Adapter], ...] = (
    Flux2Klein,
    Flux2KleinKV,
    Flux2Dev,
    QwenImage21,
    QwenImageEditPlus,
    JoyImageEditPlus,
    QwenImageEdit,
    FluxKontext,
    InstructPix2Pix,
)
_BY_CLASS = {cls_name: adapter for adapter in ADAPTERS for cls_name in adapter.pipeline_classes}

DTYPES = {
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "float32": "float32",
    "fp32": "float32",
    "float": "float32",
}


@dataclass(frozen=True)
class ModelInfo:
    source: str  # what the user gave: a path or a hub id
    class_name: str  # model_index.json _class_name
    adapter: type[Adapter]
    index: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)  # model_index.json


@dataclass
class Loaded:
    source: str
    pipe: Any
    adapter: Adapter
    device: str
    dtype: str
    offload: str  # none | model | group | sequential (always none on CPU)
    seconds: float
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)  # one call at a time


_CACHE: dict[tuple, Loaded] = {}
_CACHE_LOCK = threading.Lock()


def shared(source: str, **options: Any) -> Loaded:
    """``load`` once per process for the same model and options: every engine instance (the service
    builds one per consumer thread) reuses the same pipeline and serialises its calls on ``lock``.
    The key holds every option, the ``Speed`` ones included (a frozen dataclass), so a pipeline with a
    cache hook or a LoRA is never handed to an engine that asked for none."""
    key = (str(source), tuple(sorted(options.items())))
    with _CACHE_LOCK:
        loaded = _CACHE.get(key)
        if loaded is None:
            loaded = _CACHE[key] = load(source, **options)
        return loaded


def forget() -> None:
    """Drop every cached pipeline (tests, or to free memory)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def supported_classes() -> list[str]:
    return sorted(_BY_CLASS)


def adapter_for(class_name: str, source: str = "") -> type[Adapter]:
    try:
        return _BY_CLASS[class_name]
    except KeyError:
        raise NotAPipeline(
            f"{source or 'the model'} is a {class_name}, which seqedit does not drive; "
            f"supported pipelines: {', '.join(supported_classes())}"
        ) from None


def _looks_like_path(source: str) -> bool:
    """Hub ids are exactly ``owner/name``; anything else is meant as a local path."""
    return source.startswith(("/", ".", "~")) or "\\" in source or source.count("/") != 1


def is_local(source: str) -> bool:
    """``source`` names a local directory (existing or meant as a path), not a hub id."""
    return Path(source).expanduser().exists() or _looks_like_path(source)


def read_model_index(source: str, *, local_files_only: bool | None = None) -> dict[str, Any]:
    """``model_index.json`` of a local directory or a hub repository (downloads that file only)."""
    if not source or not str(source).strip():
        raise ModelNotFound("no model given: pass --model PATH_OR_HUB_ID (a diffusers pipeline directory)")
    source = str(source)
    path = Path(source).expanduser()
    if path.exists():
        if path.is_file():
            raise NotAPipeline(
                f"{source} is a file; give the diffusers pipeline directory that holds "
                "model_index.json (single-file checkpoints are not supported)"
            )
        index = path / "model_index.json"
        if not index.is_file():
            raise NotAPipeline(f"{source} is not a diffusers pipeline: no model_index.json in that directory")
        text = index.read_text(encoding="utf-8")
    elif _looks_like_path(source):
        raise ModelNotFound(f"model path {source} does not exist")
    else:
        if local_files_only is None:
            local_files_only = _offline()
        try:
            from huggingface_hub import hf_hub_download

            text = Path(hf_hub_download(source, "model_index.json", local_files_only=local_files_only)).read_text(
                encoding="utf-8"
            )
        except Exception as exc:  # noqa: BLE001 - hub errors are many; all mean "cannot get it"
            hint = (
                (
                    " (offline: only models already in the Hugging Face cache can be used; "
                    "unset HF_HUB_OFFLINE or pass a local directory)"
                )
                if local_files_only
                else ""
            )
            raise ModelNotFound(
                f"cannot find model {source} on the hub or in the cache{hint}: {type(exc).__name__}"
            ) from exc
    try:
        index_data = json.loads(text)
        if not isinstance(index_data.get("_class_name"), str):
            raise KeyError("_class_name")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise NotAPipeline(f"{source}: model_index.json has no _class_name; not a diffusers pipeline") from None
    return index_data


def inspect_model(source: str, *, local_files_only: bool | None = None) -> ModelInfo:
    """Family of ``source`` from its model_index.json, without torch and without weights."""
    index = read_model_index(source, local_files_only=local_files_only)
    return ModelInfo(str(source), index["_class_name"], adapter_for(index["_class_name"], str(source)), index)


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")


def require_extra() -> None:
    """torch, diffusers and transformers importable, or ``MissingExtra`` naming the one that is not
    installed. Any other import error (a broken install, a missing system library) propagates as it is."""
    try:
        import diffusers  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        if not EXTRA.provides(exc):
            raise
        raise MissingExtra("diffusion", EXTRA, (exc.name or "").split(".")[0]) from None


def device_name(device: str | None) -> str:
    """``device`` normalised (``auto``, ``cpu``, ``mps``, ``cuda``, ``cuda:N``), or ``DeviceUnavailable``;
    no torch: names are checked when the engine is built, hardware when the model loads."""
    wanted = (device or "auto").strip().lower()
    if not re.fullmatch(r"auto|cpu|mps|cuda(?::\d+)?", wanted):
        raise DeviceUnavailable(f"unknown device {device!r}; use auto, cuda, cuda:N, mps or cpu")
    return wanted


def dtype_name(dtype: str | None) -> str:
    """``dtype`` as ``auto``, ``bfloat16``, ``float16`` or ``float32`` (aliases accepted), or an ``EngineError``."""
    wanted = (dtype or "auto").strip().lower().removeprefix("torch.")
    if wanted == "auto":
        return wanted
    try:
        return DTYPES[wanted]
    except KeyError:
        raise EngineError(f"unknown dtype {dtype!r}; use auto, bfloat16, float16 or float32", code=1400) from None


def resolve_device(device: str | None) -> str:
    import torch

    wanted = device_name(device)
    if wanted == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    kind = wanted.split(":", 1)[0]
    if kind == "cuda":
        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
            raise DeviceUnavailable(
                f"device {device!r} was requested but torch sees no CUDA GPU (torch {torch.__version__}, "
                f"{build}); use --device cpu, or install a CUDA build of torch on a GPU machine"
            )
        index = int(wanted.split(":", 1)[1]) if ":" in wanted else 0
        if index >= torch.cuda.device_count():
            raise DeviceUnavailable(
                f"device {device!r} was requested but only {torch.cuda.device_count()} CUDA GPU(s) are visible"
            )
        return wanted
    if kind == "mps":
        if not torch.backends.mps.is_available():
            raise DeviceUnavailable(f"device {device!r} was requested but Apple MPS is not available here")
        return "mps"
    return "cpu"


def resolve_dtype(dtype: str | None, device: str) -> str:
    wanted = dtype_name(dtype)
    if wanted == "auto":
        if device.startswith("cuda"):
            return "bfloat16"
        return "float16" if device == "mps" else "float32"
    return wanted


def patch_qwen_vl_processors_without_torchvision() -> None:
    """transformers 5 cannot build, save or load Qwen2VL/Qwen2.5VL/Qwen3VL processors when torchvision is
    absent (their video sub-processor needs it). Image pipelines never pass videos, so drop the video
    sub-processor from the attribute list. No-op when torchvision is installed."""
    from transformers.utils import is_torchvision_available

    if is_torchvision_available():
        return
    import transformers

    for name in ("Qwen2VLProcessor", "Qwen2_5_VLProcessor", "Qwen3VLProcessor"):
        cls = getattr(transformers, name, None)
        if cls is not None and "video_processor" in cls.get_attributes():
            attrs = tuple(a for a in cls.get_attributes() if a != "video_processor")
            cls.get_attributes = classmethod(lambda c, _a=attrs: list(_a))


def _quiet() -> None:
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import transformers
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.set_verbosity_error()
    diffusers_logging.disable_progress_bar()
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def offload_kind(offload: bool | str | None) -> str:
    """``offload`` as none | model | group | sequential (``True``/``False`` from before the kinds)."""
    if offload is None or offload is False:
        return "none"
    return "model" if offload is True else str(offload)


def load(
    source: str,
    *,
    device: str | None = None,
    dtype: str | None = None,
    local_files_only: bool | None = None,
    offload: bool | str = False,
    vae_tiling: bool = False,
    vae_slicing: bool = False,
    attention_backend: str | None = None,
    speed: Speed | None = None,
) -> Loaded:
    """Load the pipeline at ``source`` onto ``device`` and wrap it in its family's adapter. ``speed``:
    quantisation (at ``from_pretrained``), LoRA, step cache, offload kind and compilation (``speed.py``);
    offload is ignored on CPU (recorded as ``none``)."""
    from seqedit.engines.diffusion import speed as speedups

    speed = speed or Speed()
    info = inspect_model(source, local_files_only=local_files_only)
    require_extra()
    device = resolve_device(device)
    dtype = resolve_dtype(dtype, device)
    placement = "none" if device == "cpu" else offload_kind(offload)
    with engine_errors(f"loading {source}"):
        import diffusers
        import torch

        _quiet()
        patch_qwen_vl_processors_without_torchvision()
        started = time.perf_counter()
        pipeline_cls = getattr(diffusers, info.class_name, None) or diffusers.DiffusionPipeline
        quantization = speedups.quantization(speed, dtype, info.index)
        extra = {"quantization_config": quantization} if quantization is not None else {}
        pipe = pipeline_cls.from_pretrained(
            str(Path(source).expanduser()) if Path(source).expanduser().exists() else source,
            dtype=getattr(torch, dtype),
            local_files_only=_offline() if local_files_only is None else local_files_only,
            **extra,
        )
        pipe.set_progress_bar_config(disable=True)
        adapter = info.adapter(pipe)
        speedups.lora(pipe, speed)
        speedups.cache(pipe, speed, speed.steps or adapter.default_steps())
        speedups.offload(pipe, placement, device, speed)
        vae = getattr(pipe, "vae", None)
        if vae_tiling and vae is not None and hasattr(vae, "enable_tiling"):
            vae.enable_tiling()
        if vae_slicing and vae is not None and hasattr(vae, "enable_slicing"):
            vae.enable_slicing()
        if attention_backend:
            denoiser = getattr(pipe, "transformer", None) or getattr(pipe, "unet", None)
            if denoiser is None or not hasattr(denoiser, "set_attention_backend"):
                raise EngineError(f"{info.class_name} does not support choosing an attention backend", code=1400)
            try:
                denoiser.set_attention_backend(attention_backend)
            except (ValueError, RuntimeError, ImportError) as exc:
                raise EngineError(f"attention backend {attention_backend!r} unavailable: {exc}", code=1400) from exc
        speedups.compile_denoiser(pipe, speed)
    return Loaded(
        source=str(source),
        pipe=pipe,
        adapter=adapter,
        device=device,
        dtype=dtype,
        offload=placement,
        seconds=time.perf_counter() - started,
    )
