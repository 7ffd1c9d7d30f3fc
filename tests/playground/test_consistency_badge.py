"""The playground shows a small consistency badge per result panel (the prediction's ``consistency``)."""

from __future__ import annotations

from typing import Any

from .test_page import run_set


def test_each_result_panel_has_a_consistency_badge_whose_title_lists_the_figures(page: Any) -> None:
    run_set(page, 3, "384*256")
    badges = page.locator("#gallery .result .badge")
    assert badges.count() == 3
    for i in range(3):
        badge = badges.nth(i)
        label = badge.get_attribute("aria-label")
        assert label.startswith(f"Consistency of panel {i + 1}: "), label
        title = badge.get_attribute("title")
        # the coffee photo has no face: identity says why it has no value; every figure is listed
        for name in ("identity", "palette", "palette_ref", "structure", "product"):
            assert f"{name}: " in title, title
        assert "identity: n/a (" in title
        assert badge.text_content() in ("✓ consistent", "not measured") or badge.text_content().startswith("✗ ")
