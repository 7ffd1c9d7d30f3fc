"""What every obstore-backed store does the same way (local disk, memory, S3): read, test and delete
one object through obstore's uniform calls. The backends differ in how they write, stream, list and
hand out URLs; those stay in their own modules."""

from __future__ import annotations

from typing import Any

import obstore

from seqedit.storage.port import checked

__all__ = ["ObstoreObjects"]


class ObstoreObjects:
    """``get``, ``exists`` and ``delete`` over ``self._store`` (set by the subclass)."""

    _store: Any

    def get(self, key: str) -> bytes:
        return bytes(obstore.get(self._store, checked(key)).bytes())

    def exists(self, key: str) -> bool:
        try:
            obstore.head(self._store, checked(key))
        except FileNotFoundError:
            return False
        return True

    def delete(self, key: str) -> None:
        """Delete ``key``; a missing object is not an error."""
        try:
            obstore.delete(self._store, checked(key))
        except FileNotFoundError:
            pass
