"""Colour phrases → target colours: names, longest match, finishes, tones, colorways."""

from __future__ import annotations

import numpy as np
import pytest

from seqedit.engines.base import Unsupported
from seqedit.engines.classic import typography
from seqedit.engines.classic.colors import (
    PROMPT_COLOR_NAMES,
    Color,
    as_color,
    color_table,
    delta_e,
    find_colors,
    lab_to_rgb,
    parse_color,
    parse_colorway,
    prompt_colors,
    rgb_to_lab,
)


def test_table_has_product_names_and_matplotlib_long_tail() -> None:
    t = color_table()
    for name in (
        "navy",
        "forest green",
        "gum",
        "off white",
        "cream",
        "bone",
        "sand",
        "olive",
        "burgundy",
        "teal",
        "charcoal",
        "gold",
        "silver",
    ):
        assert name in t
    assert "cornflowerblue" in t and "periwinkle" in t  # CSS4, XKCD
    assert len(t) > 900


def test_longest_match_first() -> None:
    assert parse_color("a forest green upper").name == "forest green"
    assert parse_color("navy blue").name == "navy blue"
    assert parse_color("off-white laces").name == "off white"
    assert [c.name for c in find_colors("red, green and light grey")] == ["red", "green", "light grey"]


def test_rgb_and_lab_are_consistent_floats() -> None:
    c = parse_color("navy")
    assert isinstance(c, Color)
    assert all(0.0 <= v <= 1.0 for v in c.rgb)
    assert np.allclose(c.lab, rgb_to_lab(c.rgb), atol=1e-3)
    assert c.lab[0] < 25 and c.lab[2] < -10  # dark and blue
    assert np.allclose(lab_to_rgb(c.lab), c.rgb, atol=2e-3)
    white, black = parse_color("white"), parse_color("black")
    assert white.lab[0] > 90 and black.lab[0] < 12
    gum = parse_color("gum sole")  # the tan-brown of gum rubber
    assert 45 < gum.lab[0] < 70 and gum.lab[2] > 20


def test_finish_words_and_implied_metallic() -> None:
    assert parse_color("matte red").finish == "matte"
    assert parse_color("glossy black").finish == "glossy"
    assert parse_color("metallic blue").finish == "metallic"
    assert parse_color("gold").finish == "metallic"
    assert parse_color("red").finish is None


def test_tone_modifiers_move_lightness_and_chroma() -> None:
    base = parse_color("burgundy")
    dark, pastel, neon = parse_color("dark burgundy"), parse_color("pastel burgundy"), parse_color("neon burgundy")
    assert (dark.tone, pastel.tone, neon.tone) == ("dark", "pastel", "neon")
    assert dark.lab[0] < base.lab[0] - 5
    assert pastel.lab[0] > base.lab[0] + 20
    chroma = lambda c: float(np.hypot(c.lab[1], c.lab[2]))  # noqa: E731
    assert chroma(neon) > chroma(base) and chroma(pastel) < chroma(base)


def test_modifiers_do_not_leak_across_colours() -> None:
    a, b = find_colors("glossy black and white")
    assert a.finish == "glossy" and b.finish is None


def test_ordinary_words_are_not_colours() -> None:
    assert parse_color("replace the sky with a desert at dusk") is None


@pytest.mark.parametrize(
    "phrase, expected",
    [
        ("classic white + black swoosh", {"primary": "classic white", "accent": "black"}),
        ("navy + gold accents", {"primary": "navy", "accent": "gold"}),
        ("matte red + white outsole", {"primary": "red", "sole": "white"}),
        ("forest green + gum sole", {"primary": "forest green", "sole": "gum"}),
        ("cream upper with bone midsole and volt laces", {"primary": "cream", "sole": "bone", "accent": "volt"}),
        ("black and white", {"primary": "black", "accent": "white"}),
    ],
)
def test_colorways(phrase: str, expected: dict[str, str]) -> None:
    got = parse_colorway(phrase)
    assert {k: v.name for k, v in got.items()} == expected


def test_colorway_keeps_each_parts_finish() -> None:
    cw = parse_colorway("matte red + white outsole")
    assert cw["primary"].finish == "matte" and cw["sole"].finish is None
    assert parse_colorway("navy + gold accents")["accent"].finish == "metallic"


def test_as_color_accepts_phrases_hex_and_triples() -> None:
    assert as_color("teal").name == "teal"
    assert np.allclose(as_color("#ff0000").rgb, (1.0, 0.0, 0.0))
    assert np.allclose(as_color((255, 128, 0)).rgb, (1.0, 128 / 255, 0.0))
    assert np.allclose(as_color((0.2, 0.4, 0.6)).rgb, (0.2, 0.4, 0.6))
    assert np.allclose(as_color("#f00").rgb, (1.0, 0.0, 0.0))
    with pytest.raises(Unsupported, match="no such colour here"):
        as_color("no such colour here")


def test_delta_e() -> None:
    assert delta_e((50, 0, 0), (50, 3, 4)) == pytest.approx(5.0)


def test_every_name_the_router_can_emit_resolves() -> None:
    for name in PROMPT_COLOR_NAMES:
        for phrase in (name, f"pastel {name}", name.replace(" ", "-")):
            assert prompt_colors(f"make it {phrase}")[0][1] == phrase.lower()
            assert as_color(phrase).rgb == typography.parse_color(phrase, (0.0, 0.0, 0.0))


def test_hair_colours_are_colours() -> None:
    platinum, blonde, brunette = as_color("platinum blonde"), as_color("blonde"), as_color("brunette")
    assert platinum.name == "platinum blonde" and platinum.lab[0] > blonde.lab[0] > brunette.lab[0] + 30
    assert [p for _, p in prompt_colors("dye her hair platinum blonde")] == ["platinum blonde"]


def test_an_unknown_colour_is_unsupported_naming_the_word_everywhere() -> None:
    for resolve in (
        as_color,
        lambda w: typography.parse_color(w, (0.0, 0.0, 0.0)),
        lambda w: typography.frame(np.zeros((32, 32, 3), np.float32), "border", w),
    ):
        with pytest.raises(Unsupported, match="ultraviolet-ish") as err:
            resolve("ultraviolet-ish")
        assert not isinstance(err.value, ValueError) and err.value.clause == "ultraviolet-ish"
