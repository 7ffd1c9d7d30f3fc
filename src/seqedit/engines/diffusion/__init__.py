"""Generative engines: open-weight editing models through diffusers (the ``[diffusion]`` extra).

Registers the ``diffusion`` engine. Importing this package imports neither torch nor diffusers: the
factory builds a ``DiffusionEngine`` that loads its model on first use (or at ``engine.load()``) and
keeps it for every later job — a ``seqedit serve`` worker loads once, never per job.

    engine = seqedit.engines.create("diffusion", model="/models/FLUX.2-klein-4B", strategy="anchor")

Layout: ``loader`` (path/hub id → pipeline + adapter), one adapter file per family
(``flux2_klein``, ``qwen_edit``, ``flux_kontext``, ``pix2pix``), ``sequence`` (strategies, the engine),
``attention`` (shared-anchor attention for Flux-family transformers), ``errors`` (failures →
``EngineError``).
"""
from __future__ import annotations

from typing import Any

from seqedit.engines.base import register


def create_engine(**options: Any):
    """Factory for ``seqedit.engines.create("diffusion", model=…, strategy=…, steps=…, …)``."""
    from seqedit.engines.diffusion.sequence import DiffusionEngine

    return DiffusionEngine(**{k: v for k, v in options.items() if v is not None})


register("diffusion", create_engine)

__all__ = ["create_engine"]
