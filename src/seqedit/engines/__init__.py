"""Engines turn a ``Plan`` and decoded references into panels. See ``engines.base`` (the port and the
registry) and ``engines.options`` (declared engine options)."""

from seqedit.engines.base import (
    Cancelled,
    Engine,
    EngineError,
    Extra,
    MissingExtra,
    NullProgress,
    OptionError,
    Progress,
    Registration,
    Unsupported,
    Verdict,
    create,
    names,
    register,
    registration,
)

__all__ = [
    "Cancelled",
    "Engine",
    "EngineError",
    "Extra",
    "MissingExtra",
    "NullProgress",
    "OptionError",
    "Progress",
    "Registration",
    "Unsupported",
    "Verdict",
    "create",
    "names",
    "register",
    "registration",
]
