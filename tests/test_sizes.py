from hypothesis import given
from hypothesis import strategies as st

from seqedit.sizes import MAX_SIDE, MIN_SIDE, PRESETS, PRESETS_BY_NAME, default_size, fit

# The product's recommended table (product.md), rows whose rounding follows its own rule.
PRODUCT_ROUNDED = {
    "1:1@2mp": (1408, 1408),
    "3:2@2mp": (1728, 1152),
    "4:3@2mp": (1664, 1216),
    "16:9@2mp": (1920, 1088),
    "21:9@2mp": (2176, 960),
    "1:1@1mp": (1024, 1024),
    "3:2@1mp": (1216, 832),
    "4:3@1mp": (1152, 896),
    "16:9@1mp": (1344, 768),
    "21:9@1mp": (1536, 640),
    "1:1@0.1mp": (320, 320),
    "3:2@0.1mp": (384, 256),
}


def test_presets_match_the_product_table_where_it_is_consistent():
    for name, (w, h) in PRODUCT_ROUNDED.items():
        p = PRESETS_BY_NAME[name]
        assert (p.rounded.width, p.rounded.height) == (w, h), name


def test_every_preset_follows_the_rule():
    assert len(PRESETS) == 15
    for p in PRESETS:
        assert p.rounded.width % 64 == 0 and p.rounded.height % 64 == 0
        assert p.rounded.pixels <= p.exact.pixels


def test_default_from_reference_aspect():
    s = default_size(640, 480)
    assert s.width % 64 == 0 and s.height % 64 == 0
    assert 1.8e6 <= s.pixels <= 2.1e6
    assert abs(s.width / s.height - 4 / 3) < 0.05


@given(st.integers(1, 100_000), st.integers(1, 100_000))
def test_default_size_always_valid(w, h):
    s = default_size(w, h)
    assert MIN_SIDE <= s.width <= MAX_SIDE and MIN_SIDE <= s.height <= MAX_SIDE
    assert s.width % 64 == 0 and s.height % 64 == 0


@given(st.floats(0.05, 20), st.integers(64 * 64, 8192 * 8192))
def test_fit_never_exceeds_budget_unless_at_minimum(aspect, pixels):
    s = fit(aspect, pixels)
    assert s.pixels <= pixels or MIN_SIDE in (s.width, s.height)
