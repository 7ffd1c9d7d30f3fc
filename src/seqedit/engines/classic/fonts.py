"""Font lookup for the classic engine's typography. It never fails.

Every piece of text the engine draws asks for a *role* (``masthead``, ``headline``, ``body``,
``accent``, ``lettering``), never for a file, so a set of panels always shares its typography.
A role resolves, in order, to:

1. a DejaVu TTF from matplotlib's wheel (``mpl-data/fonts/ttf``; matplotlib is a dependency);
2. Pillow's embedded default font, ``ImageFont.load_default(size=…)`` (Aileron Regular when
   FreeType is present, else Pillow's bitmap font).

We bundle no font files. System fonts are deliberately not consulted, so the same request renders
the same bytes on every host that has the same wheels. Loaded fonts are cached per (role, size).

Licences of what we use (nothing is redistributed by seqedit itself): see ``LICENCES``.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Literal, TypeAlias

from PIL import ImageFont

Role = Literal["masthead", "headline", "body", "accent", "lettering"]
Font: TypeAlias = ImageFont.FreeTypeFont | ImageFont.ImageFont

PILLOW_DEFAULT = "pillow:load_default"

LICENCES: dict[str, str] = {
    "DejaVu Sans / Serif (matplotlib wheel, mpl-data/fonts/ttf)": "Bitstream Vera Fonts licence (permissive, "
    "redistribution allowed; the name 'Bitstream Vera' may not be used for modified fonts); DejaVu changes are "
    "public domain. Full text ships as "
    "mpl-data/fonts/ttf/LICENSE_DEJAVU in matplotlib's wheel.",
    "Aileron Regular (embedded in Pillow, ImageFont.load_default)": "Aileron by Sora Sagano (dotcolon.net), "
    "released under CC0 1.0; Pillow itself is MIT-CMU.",
}


@dataclass(frozen=True)
class FontRole:
    """How a role looks: candidate matplotlib TTF names, and display hints for typography."""

    files: tuple[str, ...]
    condense: float = 1.0  # horizontal scale applied when the role is drawn as display type
    upper: bool = False  # the role is set in capitals


ROLES: dict[str, FontRole] = {
    # A bold serif, synthetically condensed when drawn: the classic fashion-cover masthead.
    "masthead": FontRole(("DejaVuSerif-Bold.ttf", "DejaVuSans-Bold.ttf"), condense=0.78, upper=True),
    "headline": FontRole(("DejaVuSans-Bold.ttf",), condense=0.9, upper=True),
    "body": FontRole(("DejaVuSans.ttf",)),
    "accent": FontRole(("DejaVuSerif-BoldItalic.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSans-Bold.ttf")),
    # Comic lettering: bold sans in capitals (no comic face ships in a PyPI wheel we depend on).
    "lettering": FontRole(("DejaVuSans-Bold.ttf",), upper=True),
}


def matplotlib_font_dir() -> Path | None:
    """matplotlib's bundled TTF directory, located without importing matplotlib; None if absent."""
    try:
        spec = importlib.util.find_spec("matplotlib")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    path = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf"
    return path if path.is_dir() else None


@cache
def font_path(role: Role) -> Path | None:
    """The TTF file a role resolves to, or None when only Pillow's default font is available."""
    spec = ROLES.get(role)
    if spec is None:
        raise ValueError(f"unknown font role {role!r}; known: {', '.join(ROLES)}")
    directory = matplotlib_font_dir()
    if directory is None:
        return None
    for name in spec.files + ("DejaVuSans.ttf",):
        path = directory / name
        if path.is_file():
            return path
    return None


def font_source(role: Role) -> str:
    """Where the role's glyphs come from: a file path or ``PILLOW_DEFAULT``."""
    path = font_path(role)
    return str(path) if path is not None else PILLOW_DEFAULT


@lru_cache(maxsize=256)
def get_font(role: Role, size: int) -> Font:
    """A font for ``role`` at ``size`` pixels (clamped to ≥ 1). Never raises for lack of a font."""
    size = max(1, int(size))
    path = font_path(role)
    if path is not None:
        try:
            return ImageFont.truetype(str(path), size)
        except OSError:
            pass
    try:
        return ImageFont.load_default(size=size)
    except (OSError, ImportError):  # no FreeType: Pillow's bitmap font (fixed size)
        return ImageFont.load_default()


def role_spec(role: Role) -> FontRole:
    """The display hints of a role."""
    try:
        return ROLES[role]
    except KeyError:
        raise ValueError(f"unknown font role {role!r}; known: {', '.join(ROLES)}") from None


def clear_cache() -> None:
    """Forget resolved paths and loaded fonts (tests; after installing fonts)."""
    font_path.cache_clear()
    get_font.cache_clear()
