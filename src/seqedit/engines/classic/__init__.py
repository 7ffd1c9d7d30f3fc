"""The classic CPU engine (registered as ``classic``). See ``engine.py``; the map is in ARCHITECTURE.md."""

from seqedit.engines.classic.engine import ClassicEngine

__all__ = ["ClassicEngine"]
