"""Tiny pipelines of all four families, built offline ONCE per session, saved with save_pretrained into a
temp dir and loaded back through the real loader by the tests. Without the extra every test module
skips itself (pytest.importorskip); nothing here imports torch at import time."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.diffusion)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """family -> directory of a saved tiny pipeline."""
    import torch

    from seqedit.engines.diffusion import tiny as diffusion_tiny

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    diffusion_tiny.shrink_qwen_reference_area()
    return diffusion_tiny.save_all(tmp_path_factory.mktemp("tiny-pipelines"))


@pytest.fixture(scope="session")
def engines(tiny_models):
    """A cache of engines keyed by (family, strategy, extra options): each model loads once per key."""
    from seqedit.engines import create

    cache = {}

    def get(family: str, strategy: str = "anchor", **options):
        key = (family, strategy, tuple(sorted(options.items())))
        if key not in cache:
            options.setdefault("steps", 2)
            options.setdefault("min_pixels", 64 * 64)
            cache[key] = create("diffusion", model=str(tiny_models[family]), strategy=strategy, **options)
        return cache[key]

    return get
