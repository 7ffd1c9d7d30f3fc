"""The built-in metrics, registered once on first use (a deployment's ``register`` after that replaces one)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from seqedit.consistency.figures import Metric

_done = False


def metrics() -> list[Metric]:
    """Every metric: the built-ins (registered on first use), then any a deployment registered."""
    from seqedit.consistency.figures import registered

    ensure()
    return registered()


def ensure() -> None:
    global _done
    if _done:
        return
    _done = True
    from seqedit.consistency.figures import register_default
    from seqedit.consistency.identity import Identity
    from seqedit.consistency.palette import Palette, PaletteRef
    from seqedit.consistency.product import Product
    from seqedit.consistency.structure import Structure

    for metric in (Identity(), Palette(), PaletteRef(), Structure(), Product()):
        register_default(metric)  # one a deployment registered first keeps its place
