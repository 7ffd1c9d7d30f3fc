"""Consistency figures for every set, and the guard that re-renders a panel that drifted.

``Watch`` measures each delivered panel (``edit.render`` calls it after every panel); ``Metric`` is the
interface (``figures``), ``register`` plugs in another metric or replaces a built-in one. Built-in
metrics: ``identity`` (faces), ``palette``/``palette_ref``, ``structure``, ``product``. Nothing here
downloads; the identity figure needs the ``consistency`` extra and is null ("not installed") without it.
"""

from seqedit.consistency.builtins import metrics
from seqedit.consistency.context import Context, Intent
from seqedit.consistency.figures import Figure, Metric, register, unregister
from seqedit.consistency.watch import Report, Retry, Watch, describe, guard_settings

__all__ = [
    "Context",
    "Figure",
    "Intent",
    "Metric",
    "Report",
    "Retry",
    "Watch",
    "describe",
    "guard_settings",
    "metrics",
    "register",
    "unregister",
]
