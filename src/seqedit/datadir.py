"""The data dir is private: rows (with webhook secrets and key hashes), the signing secret, uploads
and outputs are readable by the service's own user only, whatever the umask it was started with.

``make_private(path)`` is called by the composition root before anything is opened:

* the process umask becomes ``0o077``, so every file and folder the service creates from then on
  (SQLite's database, WAL and shared-memory files, the queue, the secret, every object) is 0600/0700;
* the data dir is created 0700, and what an earlier, looser run left is tightened: the dir itself and
  the files at its top (0600), and — when the ``objects`` folder was not private yet — every folder
  (0700) and file (0600) under it. A private ``objects`` folder means that walk was already done, so
  a restart with millions of objects does not walk them again.

It returns how many paths it tightened, for the caller's log line.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["make_private", "PRIVATE_DIR", "PRIVATE_FILE"]

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def make_private(path: Path) -> int:
    os.umask(0o077)
    path.mkdir(parents=True, exist_ok=True)
    tightened = _tighten(path, PRIVATE_DIR)
    for child in path.iterdir():
        if child.is_symlink():
            continue
        if child.is_file():
            tightened += _tighten(child, PRIVATE_FILE)
        elif child.is_dir():
            loose = _loose(child, PRIVATE_DIR)
            tightened += _tighten(child, PRIVATE_DIR)
            if loose:
                tightened += _tighten_tree(child)
    return tightened


def _tighten_tree(root: Path) -> int:
    tightened = 0
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            tightened += _tighten(Path(folder) / name, PRIVATE_DIR)
        for name in files:
            tightened += _tighten(Path(folder) / name, PRIVATE_FILE)
    return tightened


def _loose(p: Path, mode: int) -> bool:
    return bool(stat.S_IMODE(p.lstat().st_mode) & ~mode)


def _tighten(p: Path, mode: int) -> int:
    """chmod ``p`` to at most ``mode`` (never loosen); 1 if it changed."""
    if p.is_symlink():
        return 0
    current = stat.S_IMODE(p.stat().st_mode)
    wanted = current & mode
    if current == wanted:
        return 0
    p.chmod(wanted)
    return 1
