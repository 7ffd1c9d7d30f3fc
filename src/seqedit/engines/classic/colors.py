"""The classic engine's one colour vocabulary: names, finishes, tones, colorway parts, resolution.

Every colour word in the engine goes through this module: the router finds colour phrases in
instructions with ``prompt_colors`` / ``PROMPT_COLOR_RX``, recolour and backgrounds resolve them
with ``as_color``, typography with ``as_color`` too. A name the router can emit always resolves
(``PROMPT_COLOR_NAMES`` is a subset of ``color_table``); a phrase that names no known colour is an
``Unsupported`` naming the word, never a ``ValueError`` or a guessed colour.

``parse_color("matte forest green")`` → ``Color(name="forest green", finish="matte", ...)``;
``parse_colorway("forest green + gum sole")`` → ``{"primary": Color(...), "sole": Color(...)}``.

Names come from ~90 product, fashion and hair colours of our own (checked first), then matplotlib's
CSS4 and XKCD tables (shipped inside matplotlib). Matching is longest-name-first and non-overlapping.
The prompt vocabulary is narrower than the table: the product and hair names and a few table names,
without the product names that prompts use for something else ("graphite" is a pencil, "chrome" a
finish); the ~950 XKCD names would read ordinary words ("fern", "cement") as colours. Colours carry
sRGB floats in [0, 1] and CIE Lab (L in 0..100, D65), both computed with OpenCV's float path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import cv2
import numpy as np

from seqedit.engines.base import Unsupported

Finish = Literal["matte", "glossy", "metallic"]
Tone = Literal["dark", "light", "pastel", "neon", "deep", "bright", "pale", "muted", "dusty", "vivid", "rich", "soft"]
RGB = tuple[float, float, float]

# Product / fashion names (sRGB hex). These win over matplotlib's tables for the same name.
PRODUCT_COLORS: dict[str, str] = {
    "white": "#F2F2EF",
    "classic white": "#F2F2EF",
    "pure white": "#FAFAF8",
    "triple white": "#F2F2EF",
    "off white": "#ECE8DC",
    "cream": "#F1E6C8",
    "ivory": "#F3EEDB",
    "bone": "#E3DAC9",
    "sail": "#EDE6D6",
    "sand": "#D6C29B",
    "beige": "#D9C7A5",
    "tan": "#C8A27A",
    "khaki": "#B9A77B",
    "camel": "#C19A6B",
    "gum": "#B7834F",
    "gum rubber": "#B7834F",
    "wheat": "#D9B779",
    "brown": "#6B4226",
    "chocolate": "#4B2E1E",
    "mocha": "#6F4E37",
    "black": "#161616",
    "jet black": "#0C0C0C",
    "triple black": "#121212",
    "charcoal": "#34363A",
    "graphite": "#4A4C50",
    "grey": "#8A8D91",
    "gray": "#8A8D91",
    "light grey": "#C5C7CA",
    "light gray": "#C5C7CA",
    "cool grey": "#9A9EA3",
    "cool gray": "#9A9EA3",
    "wolf grey": "#A5A8AC",
    "wolf gray": "#A5A8AC",
    "silver": "#C4C6C9",
    "chrome": "#D5D8DC",
    "red": "#C8102E",
    "university red": "#BA0C2F",
    "crimson": "#B0172F",
    "cherry": "#A4161A",
    "burgundy": "#6D1A2A",
    "maroon": "#6A1B1A",
    "wine": "#5E1A2B",
    "oxblood": "#4A0E0E",
    "pink": "#F4A6C0",
    "hot pink": "#FF3E9A",
    "blush": "#F1C6C0",
    "magenta": "#D2177E",
    "fuchsia": "#D1168A",
    "coral": "#F26B5B",
    "orange": "#F26A1B",
    "burnt orange": "#C65A1E",
    "rust": "#A0461E",
    "peach": "#F7B58C",
    "yellow": "#F5D000",
    "gold": "#C9A227",
    "mustard": "#D4A017",
    "volt": "#CEFF00",
    "lime": "#9BD13B",
    "green": "#2E8B57",
    "forest green": "#1F4D2B",
    "hunter green": "#254E31",
    "bottle green": "#0B3D2E",
    "olive": "#6B6B2A",
    "olive green": "#6B6B2A",
    "army green": "#4B5320",
    "mint": "#A8E6CF",
    "sage": "#9CAF88",
    "emerald": "#0B8A5A",
    "teal": "#0F7C80",
    "turquoise": "#2EC4C6",
    "cyan": "#1FC7E6",
    "blue": "#1F5FBF",
    "royal blue": "#2246A8",
    "navy": "#1B2A4A",
    "navy blue": "#1B2A4A",
    "midnight navy": "#141C33",
    "sky blue": "#7EC8E3",
    "baby blue": "#A7C7E7",
    "powder blue": "#B6CFE4",
    "cobalt": "#1F4FA0",
    "denim": "#3B5A80",
    "purple": "#6A3FA0",
    "violet": "#7F4FC9",
    "lavender": "#B9A6E0",
    "lilac": "#C8A2C8",
    "plum": "#5E2750",
    "copper": "#B5652B",
    "rose gold": "#D9A08B",
    "bronze": "#8C6A3A",
    "gunmetal": "#45484D",
    "lemon": "#F7E34B",
    "champagne": "#EAD9B8",
    "nude": "#E0B89A",
}

# Hair colours: what "dye her hair …" names. They resolve like any other name (recolour keeps shading).
HAIR_COLORS: dict[str, str] = {
    "blonde": "#D2AE6D",
    "blond": "#D2AE6D",
    "golden blonde": "#D8A850",
    "honey blonde": "#C48A45",
    "ash blonde": "#B9AD93",
    "dirty blonde": "#A68A5B",
    "strawberry blonde": "#D0936A",
    "platinum blonde": "#E9E3D2",
    "platinum blond": "#E9E3D2",
    "platinum": "#E4E2DD",
    "brunette": "#4E3322",
    "auburn": "#8A3A22",
}

# Table names (CSS4/XKCD) that prompts use as colours besides the product and hair names.
_PROMPT_TABLE_NAMES = frozenset(
    {
        "scarlet",
        "salmon",
        "aqua",
        "indigo",
        "taupe",
        "rose",
        "terracotta",
        "mauve",
        "ochre",
        "midnight blue",
        "cherry red",
        "wine red",
        "neon green",
        "electric blue",
    }
)
# Product names that prompts use for something else: a pencil, a finish, a sail, a bone; and the shoe-page
# names that would swallow their plain colour ("classic white + black swoosh" is white).
NOT_PROMPT_COLORS = frozenset(
    {"graphite", "chrome", "sail", "bone", "classic white", "pure white", "cool grey", "cool gray"}
)

# Names whose natural finish is metallic when the phrase names none.
METALLIC_NAMES = frozenset({"gold", "silver", "chrome", "copper", "bronze", "rose gold", "gunmetal"})

# Finish words (and synonyms) → finish.
FINISH_WORDS: dict[str, Finish] = {
    "matte": "matte",
    "matt": "matte",
    "flat": "matte",
    "suede": "matte",
    "glossy": "glossy",
    "gloss": "glossy",
    "shiny": "glossy",
    "patent": "glossy",
    "metallic": "metallic",
    "metal": "metallic",
    "lacquered": "glossy",
    "chrome": "metallic",
}

# Tone modifier → (L gain toward/away from the ends, chroma gain).
TONE_MODS: dict[str, tuple[float, float]] = {
    "dark": (0.65, 1.0),
    "deep": (0.75, 1.15),
    "light": (1.3, 0.75),
    "pastel": (1.35, 0.5),
    "neon": (1.08, 1.7),
    "bright": (1.12, 1.35),
    "pale": (1.3, 0.6),
    "muted": (1.0, 0.6),
    "dusty": (0.95, 0.55),
    "vivid": (1.05, 1.4),
    "rich": (0.85, 1.2),
    "soft": (1.15, 0.8),
}

# matplotlib names that are ordinary words in prompts, not colour requests.
_STOP_NAMES = frozenset(
    {
        "dark",
        "pale",
        "royal",
        "dust",
        "tea",
        "ice",
        "sea",
        "sky",
        "leaf",
        "dirt",
        "mud",
        "poo",
        "poop",
        "shit",
        "vomit",
        "puke",
        "snot",
        "booger",
        "diarrhea",
        "bile",
        "barney",
        "dusk",
        "twilight",
        "earth",
        "blood",
        "apple",
        "bland",
        "drab",
        "grass",
        "desert",
        "ocean",
        "forest",
        "swamp",
        "camo",
        "algae",
        "pea",
        "iris",
        "kiwi",
        "pear",
        "banana",
        "tomato",
        "grape",
        "melon",
        "mango",
        "lemon",
        "pumpkin",
        "strawberry",
        "watermelon",
        "clay",
        "brick",
        "stone",
        "steel",
        "midnight",
        "marine",
        "butter",
        "straw",
        "snow",
        "linen",
        "bisque",
        "light",
        "deep",
        "bright",
        "neon",
        "muted",
        "dusty",
        "vivid",
        "rich",
        "soft",
    }
)

# Colorway parts, in the order a chunk is tested ("gum sole" is the sole, "gold accents" the accent).
PART_WORDS: dict[str, str] = {
    "sole": r"outsoles?|midsoles?|soles?",
    "accent": r"swoosh(?:es)?|logos?|accents?|laces?|trims?|stripes?|details?|stitching|tick|badge|ribbon|bow|"
    r"piping|eyelets?|tongue|heel tab|straps?|buttons?|zips?|zippers?|handles?",
    "primary": r"uppers?|body|main|base|shell",
}
PART_RX = {part: re.compile(r"\b(?:" + rx + r")\b", re.I) for part, rx in PART_WORDS.items()}


@dataclass(frozen=True)
class Color:
    """A resolved target colour. ``rgb`` is sRGB in [0, 1]; ``lab`` is CIE Lab (L 0..100)."""

    name: str
    rgb: RGB
    lab: tuple[float, float, float]
    finish: Finish | None = None
    tone: Tone | None = None
    span: tuple[int, int] = (0, 0)


ColorLike = Color | str | tuple[float, float, float]


def rgb_to_lab(rgb: RGB | np.ndarray) -> np.ndarray:
    """sRGB floats in [0, 1] (shape (3,) or (..., 3)) → CIE Lab float32."""
    a = np.asarray(rgb, dtype=np.float32)
    flat = np.clip(a.reshape(1, -1, 3), 0.0, 1.0)
    return cv2.cvtColor(flat, cv2.COLOR_RGB2Lab).reshape(a.shape)


def lab_to_rgb(lab: tuple[float, float, float] | np.ndarray) -> np.ndarray:
    """CIE Lab → sRGB float32 clipped to [0, 1]."""
    a = np.asarray(lab, dtype=np.float32)
    out = cv2.cvtColor(a.reshape(1, -1, 3), cv2.COLOR_Lab2RGB).reshape(a.shape)
    return np.clip(out, 0.0, 1.0)


def delta_e(lab1: np.ndarray | tuple[float, float, float], lab2: np.ndarray | tuple[float, float, float]) -> float:
    """CIE76 colour difference between two Lab colours."""
    d = np.asarray(lab1, np.float32) - np.asarray(lab2, np.float32)
    return float(np.sqrt((d * d).sum()))


def _hex_rgb(h: str) -> RGB:
    h = h.lstrip("#")
    return (int(h[0:2], 16) / 255.0, int(h[2:4], 16) / 255.0, int(h[4:6], 16) / 255.0)


def _normalise(text: str) -> str:
    """Lower-case, hyphens/underscores to spaces (keeps character positions)."""
    return re.sub(r"[-_]", " ", text.lower())


@lru_cache(maxsize=1)
def color_table() -> dict[str, RGB]:
    """All known colour names → sRGB floats (product names first, then CSS4, then XKCD)."""
    table: dict[str, RGB] = {_normalise(k): _hex_rgb(v) for k, v in {**PRODUCT_COLORS, **HAIR_COLORS}.items()}
    try:
        import matplotlib.colors as mc
    except ImportError:  # pragma: no cover - matplotlib is a declared dependency
        return table
    for k, v in mc.CSS4_COLORS.items():
        table.setdefault(k, _hex_rgb(str(v)))
    for k, v in mc.XKCD_COLORS.items():
        name = _normalise(k[5:])
        if "/" not in name and name not in _STOP_NAMES:
            table.setdefault(name, _hex_rgb(str(v)))
    for stop in _STOP_NAMES:
        if stop not in PRODUCT_COLORS:
            table.pop(stop, None)
    return table


# --------------------------------------------------------------------------- the prompt vocabulary

PROMPT_COLOR_NAMES: tuple[str, ...] = tuple(
    sorted((set(PRODUCT_COLORS) | set(HAIR_COLORS) | _PROMPT_TABLE_NAMES) - NOT_PROMPT_COLORS, key=len, reverse=True)
)
# a colour phrase in an instruction: an optional tone word, then a name ("pastel pink", "navy-blue")
PROMPT_COLOR_RX = re.compile(
    r"(?<![\w-])(?:(?:"
    + "|".join(TONE_MODS)
    + r")\s+)?(?:"
    + "|".join(re.escape(n).replace(r"\ ", r"[\s-]") for n in PROMPT_COLOR_NAMES)
    + r")(?![\w-])",
    re.I,
)
# "black and white" is a grade (or two colours of a colorway), never one colour phrase
BLACK_AND_WHITE_RX = re.compile(r"\bblack[- ]and[- ]white\b|\bb\s*&\s*w\b|\bb/w\b", re.I)
FINISH_RX = re.compile(r"\b(" + "|".join(FINISH_WORDS) + r")\b", re.I)


def prompt_colors(text: str) -> list[tuple[int, str]]:
    """Colour phrases of the prompt vocabulary in ``text`` as (position, phrase): 'forest green', 'pastel pink'."""
    text = BLACK_AND_WHITE_RX.sub(lambda m: " " * len(m.group(0)), text)
    return [(m.start(), re.sub(r"\s+", " ", m.group(0).lower())) for m in PROMPT_COLOR_RX.finditer(text)]


def split_colorway(text: str) -> list[tuple[str | None, str]]:
    """A colorway phrase cut into chunks at ``+ , / & ; with and plus``, each with the part it names (or None)."""
    chunks = re.split(r"\+|,|/|&|;|\bwith\b|\band\b|\bplus\b", text, flags=re.I)
    return [(part_of(chunk), chunk) for chunk in chunks]


def colorway_phrases(text: str) -> dict[str, str]:
    """'matte red + white outsole' → {'primary': 'matte red'…}: the prompt-vocabulary phrase of each part.

    A chunk naming a part is that part; an unnamed one is the primary, or the accent once there is a primary.
    """
    out: dict[str, str] = {}
    for part, chunk in split_colorway(text):
        found = prompt_colors(chunk)
        if found:
            out.setdefault(part or ("primary" if "primary" not in out else "accent"), found[0][1])
    return out


@lru_cache(maxsize=1)
def _name_regex() -> re.Pattern[str]:
    names = sorted(color_table(), key=len, reverse=True)  # longest first: alternation takes the first hit
    return re.compile(r"(?<![a-z])(" + "|".join(re.escape(n) for n in names) + r")(?![a-z])")


def _apply_tone(rgb: RGB, tone: str) -> RGB:
    lk, ck = TONE_MODS[tone]
    L, a, b = (float(v) for v in rgb_to_lab(rgb))
    L = L * lk if lk < 1 else 100.0 - (100.0 - L) / lk  # light tones move toward white, dark toward black
    if tone in ("pastel", "light"):
        L = max(L, 72.0 if tone == "pastel" else L)
    out = lab_to_rgb((float(np.clip(L, 3.0, 97.0)), a * ck, b * ck))
    return (float(out[0]), float(out[1]), float(out[2]))


def _make(name: str, rgb: RGB, finish: Finish | None, tone: Tone | None, span: tuple[int, int]) -> Color:
    if tone is not None:
        rgb = _apply_tone(rgb, tone)
    if finish is None and name in METALLIC_NAMES:
        finish = "metallic"
    lab = rgb_to_lab(rgb)
    return Color(
        name=name,
        rgb=(float(rgb[0]), float(rgb[1]), float(rgb[2])),
        lab=(float(lab[0]), float(lab[1]), float(lab[2])),
        finish=finish,
        tone=tone,
        span=span,
    )


def find_colors(text: str) -> list[Color]:
    """Every colour phrase in ``text``, in order, with the finish/tone words just before each name."""
    low = _normalise(text)
    table = color_table()
    found: list[Color] = []
    prev_end = 0
    for m in _name_regex().finditer(low):
        name = m.group(1)
        before = re.findall(r"[a-z]+", low[max(prev_end, m.start() - 30) : m.start()])[-3:]
        prev_end = m.end()
        words = name.split()
        finish: Finish | None = None
        tone: Tone | None = None
        for w in before + words[:1]:
            if w in FINISH_WORDS:
                finish = FINISH_WORDS[w]
        for w in before[-2:]:
            if w in TONE_MODS:
                tone = w  # type: ignore[assignment]
        found.append(_make(name, table[name], finish, tone, (m.start(), m.end())))
    return found


def parse_color(text: str) -> Color | None:
    """The first colour named in ``text`` (with its finish and tone), or None."""
    cols = find_colors(text)
    return cols[0] if cols else None


def as_color(value: ColorLike) -> Color:
    """Coerce a phrase, a hex string, an sRGB triple (0–1 floats or 0–255) or a Color into a Color.

    A phrase that names no known colour raises ``Unsupported`` naming it.
    """
    if isinstance(value, Color):
        return value
    if isinstance(value, str):
        word = value.strip()
        if re.fullmatch(r"#?(?:[0-9a-fA-F]{3}){1,2}", word):
            digits = word.lstrip("#")
            return _make(
                word, _hex_rgb(digits if len(digits) == 6 else "".join(d * 2 for d in digits)), None, None, (0, 0)
            )
        c = parse_color(value)
        if c is None:
            raise Unsupported(
                f"unknown colour '{word}': the classic engine has no colour of that name "
                f"(name a colour such as 'navy blue', or give a hex code like '#1B2A4A')",
                clause=word,
            )
        return c
    rgb = tuple(float(v) for v in value)
    if len(rgb) != 3:
        raise ValueError(f"expected an RGB triple, got {value!r}")
    if max(rgb) > 1.0:
        rgb = tuple(v / 255.0 for v in rgb)
    return _make("rgb", (rgb[0], rgb[1], rgb[2]), None, None, (0, 0))


def part_of(chunk: str) -> str | None:
    """Which colorway part a text chunk names (``sole``, ``accent`` or ``primary``), if any."""
    low = _normalise(chunk)
    return next((part for part, rx in PART_RX.items() if rx.search(low)), None)


def parse_colorway(text: str) -> dict[str, Color]:
    """'matte red + white outsole' → {'primary': red/matte, 'sole': white}.

    Chunks as ``split_colorway``; a chunk naming a sole word is the sole, swoosh/logo/accents/laces/trim… the
    accent, upper/body the primary; an unnamed one the primary (a second unnamed colour is the accent).
    """
    out: dict[str, Color] = {}
    for part, chunk in split_colorway(text):
        cols = find_colors(chunk)
        if cols:
            out.setdefault(part or ("primary" if "primary" not in out else "accent"), cols[0])
    return out
