"""Reference reuse across a set: what a set of N panels computes from the same references once, not N times.

A set calls the pipeline once per panel with the same user references (plus, under ``anchor``, the same
panel 1 for panels 2…). Two things are computed from the references alone and are memoised per set:

* **VAE latents.** The adapter names the pipeline method that encodes one reference tensor
  (``Adapter.reference_encoder``, e.g. ``_encode_vae_image``); every family's method takes the latent
  distribution's *mode* (``sample_mode="argmax"``), never a sample, so its result is a function of its
  input alone and the seeded generator is not drawn from. The memo is keyed by the exact input: a hash of
  every tensor argument's bytes with its shape, dtype and device, and the other arguments' values (of a
  ``generator`` only whether it is one or a list, and how long). A hit returns a copy of the stored
  result, which is the same bytes the encode would give: outputs are unchanged bit for bit.
* **Reference K/V** (``Adapter.reference_kv``: ``Flux2KleinKVPipeline``). On step 0 of each call the
  pipeline runs the transformer in ``kv_cache_mode="extract"`` over [reference tokens, noise tokens] and
  keeps the reference tokens' K/V for steps 1…. Those K/V depend on the reference tokens, their position
  ids and the fixed reference timestep only: the reference tokens attend only to themselves, and FLUX.2's
  modulation comes from the timestep (no pooled text), so neither the panel's prompt nor its noise reaches
  them. The first extract of a set is kept; a later extract whose reference tokens, ids, reference
  timestep and guidance are identical is answered by a ``cached`` call on the noise tokens alone — the
  path the pipeline itself takes on steps 1… — with a copy of the kept cache (the pipeline clears the
  copy it gets at the end of its call, never the kept one). Same math; the step-0 matrix products run on
  a shorter sequence, so float rounding may differ in the last bits (tests compare pixels within a
  tolerance for this family).

``SetReuse`` is the per-set context the engine enters around one ``generate``; ``applied()`` installs
the wrappers on the pipeline for ONE pipeline call, while the caller holds ``Loaded.lock``, and removes
them when the call ends (also on an exception or ``Cancelled``). So other sets that share the pipeline
never run through another set's wrappers, and the pipeline is left as it was between calls.
``ReuseCounts`` says what ran and what was reused. Nothing here imports torch at import time.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from seqedit.engines.diffusion.adapter import Adapter

Key = tuple[Any, ...]


@dataclass
class ReuseCounts:
    """What one set computed from its references, and what it took from the memo."""

    encodes: int = 0  # reference VAE encodes that ran
    encodes_reused: int = 0  # reference VAE encodes answered from the memo
    kv_extracts: int = 0  # step-0 transformer calls that extracted reference K/V
    kv_reused: int = 0  # step-0 calls answered in cached mode with the set's K/V


def describe(adapter: type[Adapter] | Adapter, enabled: bool) -> str:
    """What ``reuse_references`` does for this family, in one line (``seqedit engines``/``describe()``)."""
    if not enabled:
        return "off (reuse_references=false): every panel encodes its references again"
    parts = []
    if adapter.reference_encoder:
        parts.append("reference VAE latents once per distinct reference per set (bit-exact)")
    if adapter.reference_kv:
        parts.append(
            "reference K/V once per distinct reference set; later panels' first step runs cached "
            "(same math, float rounding may differ)"
        )
    return "; ".join(parts) if parts else "none for this family"


def digest(value: Any) -> Any:
    """A hashable stand-in for an argument: tensors by shape, dtype, device and a hash of their bytes."""
    import torch

    if isinstance(value, torch.Tensor):
        flat = value.detach().contiguous().reshape(-1)
        raw = flat.view(torch.uint8).cpu().numpy() if flat.numel() else b""
        return ("tensor", tuple(value.shape), str(value.dtype), str(value.device), hashlib.blake2b(raw).hexdigest())
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(digest(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((str(k), digest(v)) for k, v in value.items())))
    if value is None or isinstance(value, (bool, int, float, str)):
        return (type(value).__name__, value)  # True, 1 and 1.0 are equal keys otherwise
    return (type(value).__name__, repr(value))


def _argument(value: Any) -> Any:
    """``digest``, except that of a generator (or a list of them) only its structure counts: the declared
    encoders take the mode (argmax) and never draw from it."""
    import torch

    if isinstance(value, torch.Generator):
        return "generator"
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, torch.Generator) for v in value):
        return ("generators", len(value))
    return digest(value)


def _copy(value: Any) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _kv_copy(cache: Any) -> Any:
    """A new ``Flux2KVCache`` holding the same K/V tensors: clearing it leaves the original intact."""
    out = copy.copy(cache)
    out.double_block_caches = [copy.copy(layer) for layer in cache.double_block_caches]
    out.single_block_caches = [copy.copy(layer) for layer in cache.single_block_caches]
    return out


class _Patch:
    """An instance attribute set for the duration of a call and put back exactly as it was."""

    def __init__(self, owner: Any, name: str) -> None:
        self.owner, self.name = owner, name
        self.had = name in vars(owner)
        self.previous = vars(owner).get(name)
        self.original: Callable[..., Any] = getattr(owner, name)

    def install(self, replacement: Callable[..., Any]) -> None:
        setattr(self.owner, self.name, replacement)

    def restore(self) -> None:
        if self.had:
            setattr(self.owner, self.name, self.previous)
        else:
            try:
                delattr(self.owner, self.name)
            except AttributeError:
                pass


class SetReuse:
    """The memo of one set. ``enabled=False`` installs nothing (the pipeline runs as it is)."""

    def __init__(self, pipe: Any, adapter: Adapter, *, enabled: bool = True) -> None:
        self.pipe = pipe
        self.adapter = adapter
        self.enabled = enabled
        self.counts = ReuseCounts()
        self._latents: dict[Key, Any] = {}
        self._kv: tuple[Key, Any] | None = None  # the latest extract only: anchor reuses it, chain cannot

    def __enter__(self) -> SetReuse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop what the set kept (the K/V of a large model's references can be a few GB)."""
        self._latents.clear()
        self._kv = None

    @contextmanager
    def applied(self) -> Iterator[None]:
        """The wrappers installed for one pipeline call (the caller holds ``Loaded.lock``)."""
        patches: list[_Patch] = []
        try:
            if self.enabled:
                name = type(self.adapter).reference_encoder
                if name and callable(getattr(self.pipe, name, None)):
                    patch = _Patch(self.pipe, name)
                    patch.install(self._memoised(patch.original))
                    patches.append(patch)
                transformer = getattr(self.pipe, "transformer", None)
                if type(self.adapter).reference_kv and transformer is not None:
                    patch = _Patch(transformer, "forward")
                    patch.install(self._kv_forward(patch.original))
                    patches.append(patch)
            yield
        finally:
            for patch in reversed(patches):
                patch.restore()

    # --- VAE latents --------------------------------------------------------------------------
    def _memoised(self, encode: Callable[..., Any]) -> Callable[..., Any]:
        def memoised(*args: Any, **kwargs: Any) -> Any:
            # as called: the pipelines pass the same arguments the same way (by keyword) every call
            key = (tuple(_argument(a) for a in args), tuple(sorted((k, _argument(v)) for k, v in kwargs.items())))
            if key in self._latents:
                self.counts.encodes_reused += 1
                return _copy(self._latents[key])
            out = encode(*args, **kwargs)
            self.counts.encodes += 1
            self._latents[key] = _copy(out)
            return out

        return memoised

    # --- reference K/V ------------------------------------------------------------------------
    def _kv_forward(self, forward: Callable[..., Any]) -> Callable[..., Any]:
        def kv_forward(*args: Any, **kwargs: Any) -> Any:
            n = int(kwargs.get("num_ref_tokens") or 0)
            hidden, ids = kwargs.get("hidden_states"), kwargs.get("img_ids")
            if args or kwargs.get("kv_cache_mode") != "extract" or n <= 0 or hidden is None or ids is None:
                return forward(*args, **kwargs)
            if kwargs.get("joint_attention_kwargs"):  # extra processor inputs: not proven panel-independent
                return forward(*args, **kwargs)
            key = (
                digest(hidden[:, :n]),
                digest(ids[..., :n, :]),
                digest(kwargs.get("ref_fixed_timestep", 0.0)),
                digest(kwargs.get("guidance")),
                digest(hidden.shape[0]),
            )
            if self._kv is None or self._kv[0] != key:
                out = forward(**kwargs)
                cache = out[1] if isinstance(out, tuple) else out.kv_cache
                self._kv = (key, _kv_copy(cache))
                self.counts.kv_extracts += 1
                return out
            cache = _kv_copy(self._kv[1])
            cached = {k: v for k, v in kwargs.items() if k not in ("num_ref_tokens", "ref_fixed_timestep")}
            cached.update(hidden_states=hidden[:, n:], img_ids=ids[..., n:, :], kv_cache=cache, kv_cache_mode="cached")
            out = forward(**cached)
            self.counts.kv_reused += 1
            if isinstance(out, tuple):
                return (out[0], cache)
            return type(out)(sample=out.sample, kv_cache=cache)

        return kv_forward
