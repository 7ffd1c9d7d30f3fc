"""Engines turn a ``Plan`` and decoded references into panels. See ``engines.base``."""
from seqedit.engines.base import (
    Cancelled, Engine, EngineError, NullProgress, Progress, Unsupported, Verdict, create, names, register,
)

__all__ = ["Cancelled", "Engine", "EngineError", "NullProgress", "Progress", "Unsupported", "Verdict",
           "create", "names", "register"]
