'''The classic engine's operations, one module each: what the router emits and the engine renders.

Each module defines one ``Operation`` and registers it: its name, default verdict and the verdict
rules of its parser, its lexicon (keyword boost) and MiniLM prototypes, its hard/phrase/companion
rules, its parameter tables and parsing, every parameter form it can emit (``forms``, read by the
contract test), its render order and its renderer (calling into the image libraries ``recolor.py``,
``background.py``, ``styles.py``, … one level up). The router (``router/``) and the engine
(``engine.py``) iterate ``OPERATIONS`` and never name an operation's tables.

Adding an operation is one new file here, e.g. ``ops/invert.py``::

    """``invert``: the negative of the picture."""

    from seqedit.engines.classic.ops.registry import Operation, register


    def render(panel, params, plan, k, refs):
        panel.img = 1.0 - panel.img


    register(
        Operation(
            name="invert",
            verdict="supported",
            schema="— the negative of the picture",
            lexicon=r"\\binvert|negative",
            prototypes=("invert the colours", "make a negative of the photo"),
            forms=lambda: [{}],
            render=render,
            order=75,  # after the look grade (70), before the style (80)
        )
    )

``discover`` imports every module of this package on the first look at ``OPERATIONS``, so nothing
else needs to change. ``tests/engines/classic/test_ops_registry.py`` proves it with a temporary
operation. Modules named with a leading ``_`` are not imported by discovery.
'''

from seqedit.engines.classic.ops.registry import (
    OPERATIONS,
    UNRESOLVED,
    Operation,
    OpSpec,
    Rule,
    VerdictKind,
    discover,
    register,
    rendered,
    unregister,
    version,
)

__all__ = [
    "OPERATIONS",
    "UNRESOLVED",
    "Operation",
    "OpSpec",
    "Rule",
    "VerdictKind",
    "discover",
    "register",
    "rendered",
    "unregister",
    "version",
]
