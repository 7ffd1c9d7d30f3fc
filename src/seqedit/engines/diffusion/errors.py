"""How failures inside torch / diffusers / the hub become ``EngineError`` with a message for the user.

Nothing raised by this package's engine escapes as a bare third-party exception: the job runner turns
an ``EngineError`` into a failed prediction and the worker keeps running.

    ModelNotFound      (EngineError, 1400)  the path or hub id does not exist / is not cached offline
    NotAPipeline       (EngineError, 1400)  a directory without a usable model_index.json
    DeviceUnavailable  (EngineError, 1400)  cuda/mps asked for and not present
    OutOfMemory        (EngineError, 5000)  the accelerator (or host) ran out of memory mid-run
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from seqedit.engines.base import Cancelled, EngineError


class ModelNotFound(EngineError):
    code = 1400


class NotAPipeline(EngineError):
    code = 1400


class DeviceUnavailable(EngineError):
    code = 1400


class OutOfMemory(EngineError):
    code = 5000


def _is_oom(exc: BaseException) -> bool:
    if type(exc).__name__ in ("OutOfMemoryError", "OutOfMemory") or isinstance(exc, MemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def translate(exc: BaseException, *, doing: str) -> EngineError:
    """``exc`` (raised while ``doing`` …) as an ``EngineError`` the user can act on."""
    if isinstance(exc, EngineError):
        return exc
    if _is_oom(exc):
        return OutOfMemory(
            f"out of memory while {doing}: try a smaller size, fewer panels per batch "
            "(strategy anchor instead of shared_attention/grid), offload=True, or a GPU with more memory"
        )
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return EngineError(f"diffusion engine failed while {doing}: {type(exc).__name__}: {first}")


def free_accelerator_memory() -> None:
    """Give cached blocks back after a failure so the next job starts clean (no-op without torch/cuda)."""
    import gc

    gc.collect()
    try:
        import torch
    except ImportError:  # pragma: no cover - the extra is installed whenever this runs
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    mps = getattr(torch, "mps", None)
    if mps is not None and torch.backends.mps.is_available():
        mps.empty_cache()


@contextmanager
def engine_errors(doing: str) -> Iterator[None]:
    """Re-raise anything but ``Cancelled``/``EngineError`` as a translated ``EngineError``."""
    try:
        yield
    except Cancelled:
        raise
    except EngineError:
        raise
    except Exception as exc:  # noqa: BLE001 - the point of this module
        error = translate(exc, doing=doing)
        if isinstance(error, OutOfMemory):
            free_accelerator_memory()
        raise error from exc
