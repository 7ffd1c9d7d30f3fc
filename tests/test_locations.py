"""Seedream location tags: parsed on the 0-1000 scale, stripped from the text; a bad tag is a 400 on prompt."""

from __future__ import annotations

import pytest

from seqedit.errors import RequestError
from seqedit.locations import Location, find_locations, strip_locations
from seqedit.request import EditRequest


def test_box_and_point_are_parsed_and_stripped() -> None:
    text, locs = strip_locations("recolour the saucer <bbox>80 560 920 980</bbox> red, and <point>500,250</point> too")
    assert text == "recolour the saucer red, and too"
    assert locs == [Location("bbox", (80, 560, 920, 980)), Location("point", (500, 250))]
    assert locs[0].pixels(600, 400) == (48.0, 224.0, 552.0, 392.0)
    assert locs[1].tag() == "<point>500 250</point>"


def test_text_without_tags_is_unchanged() -> None:
    assert strip_locations("make it red.") == ("make it red.", [])


@pytest.mark.parametrize(
    "bad",
    [
        "<bbox>1 2 3</bbox>",
        "<bbox>10 10 5 20</bbox>",
        "<bbox>0 0 1001 10</bbox>",
        "<point>-1 5</point>",
        "<point>a b</point>",
        "recolour it <bbox>1 2 3 4",
        "recolour it </point>",
    ],
)
def test_a_malformed_tag_is_bad_input_on_prompt(bad: str) -> None:
    with pytest.raises(RequestError) as err:
        find_locations(bad)
    assert err.value.field == "prompt" and "0-1000" in err.value.limit
    with pytest.raises(RequestError):
        EditRequest.create(prompt=bad, images=["ref.png"], max_images=1)


def test_protect_hides_every_tag_behind_one_character_and_restore_puts_it_back() -> None:
    from seqedit.locations import protect, restore

    text = "recolour the saucer <bbox>80, 560, 920, 980</bbox> red, then <point>1,2</point>."
    masked, tags = protect(text)
    assert tags == ("<bbox>80, 560, 920, 980</bbox>", "<point>1,2</point>")
    assert len(masked) == len(text) - sum(len(t) - 1 for t in tags)
    assert "560" not in masked and masked.count(",") == 1
    assert restore(masked, tags) == text
    assert protect("no tags, 1, 2") == ("no tags, 1, 2", ())
    assert protect("\ue000 stray")[0] == "  stray"  # a user's private-use character is no placeholder
