"""Generative engines: open-weight editing models through diffusers (the ``[diffusion]`` extra).

Registers the ``diffusion`` engine with its options (``options.DiffusionOptions``) and its extra
(torch, diffusers, transformers: ``create`` reports the first one missing by name, before anything is
loaded). Importing this package imports neither torch nor diffusers: the factory builds a
``DiffusionEngine`` that loads its model on first use (or at ``engine.load()``) and keeps it for every
later job — a ``seqedit serve`` worker loads once, never per job.

    engine = seqedit.engines.create("diffusion", model="/models/FLUX.2-klein-4B", strategy="anchor")

Layout: ``options`` (the declared options), ``loader`` (path/hub id → pipeline + adapter), one adapter
file per family (``flux2_klein``, ``qwen_edit``, ``flux_kontext``, ``pix2pix``), ``sequence``
(strategies, the engine), ``attention`` (shared-anchor attention for Flux-family transformers),
``errors`` (failures → ``EngineError``).
"""

from __future__ import annotations

from typing import Any

from seqedit.engines.base import register
from seqedit.engines.diffusion.options import EXTRA, DiffusionOptions


def create_engine(**options: Any):
    """Factory for ``seqedit.engines.create("diffusion", model=…, strategy=…, steps=…, …)``: the registry
    has already checked ``options`` against ``DiffusionOptions``."""
    from seqedit.engines.diffusion.sequence import DiffusionEngine

    return DiffusionEngine(**options)


register("diffusion", create_engine, options=DiffusionOptions, extra=EXTRA)

__all__ = ["DiffusionOptions", "create_engine"]
