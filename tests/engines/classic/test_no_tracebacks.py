"""No tracebacks, ever: random prompts built from the engine's own vocabulary (every operation's
prototype sentences, the colour names, panel lines, enumerations, Seedream's ``<bbox>``/``<point>``
tags, counts), over the bundled photos, either render exactly N panels at the size or refuse with a
``SeqeditError`` (the CLI's exit 2 or 3) — never any other exception."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from seqedit.edit import prepare, render
from seqedit.engines import NullProgress, create
from seqedit.engines.classic.colors import PROMPT_COLOR_NAMES
from seqedit.engines.classic.ops import OPERATIONS
from seqedit.errors import SeqeditError
from seqedit.request import EditRequest

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
PHOTOS = ("sneaker.png", "astronaut.jpg", "coffee.jpg", "grace_hopper.jpg")
SIZE = 96


@cache
def photo(name: str) -> Image.Image:
    im = Image.open(EXAMPLES / name).convert("RGB")
    im.thumbnail((SIZE * 2, SIZE * 2))
    return im


@cache
def engine():
    return create("classic")


PROTOTYPES = sorted({p for op in OPERATIONS.values() for p in op.prototypes})
colour = st.sampled_from(PROMPT_COLOR_NAMES)
clause = st.one_of(
    st.sampled_from(PROTOTYPES),
    st.builds("the product in {}".format, colour),
    st.builds(
        "recolour the {} <bbox>{} {} {} {}</bbox> {}".format,
        st.sampled_from(["sole", "mug", "hair", "top"]),
        *(st.integers(0, 1000) for _ in range(4)),
        colour,
    ),
    st.builds("make it {} <point>{} {}</point>".format, colour, st.integers(0, 1000), st.integers(0, 1000)),
    # located ops and whole-picture ops with tags, separators Seedream allows, and malformed tags (exit 2)
    st.builds(
        "{} <bbox>{}, {}, {}, {}</bbox>{}".format,
        st.sampled_from(
            ["brighten the cup", "darken her face", "recolour the saucer teal", "turn it into a watercolor"]
        ),
        *(st.integers(-5, 1005) for _ in range(4)),
        st.sampled_from(["", ", keep the cup", " and make it brighter"]),
    ),
    st.builds(
        "recolour the {} {} {}".format,
        st.sampled_from(["spoon", "helmet", "nose", "coffee"]),
        st.sampled_from(
            ["<point>1 2 3</point>", "<bbox>1 2 3 4", "</bbox>", "<point>a, b</point>", "<bbox>9 9 1 1</bbox>", ""]
        ),
        colour,
    ),
    st.builds("in {} colors: {}".format, st.integers(1, 5), st.lists(colour, min_size=1, max_size=5).map(", ".join)),
)


@st.composite
def prompts(draw: st.DrawFn) -> tuple[str, int]:
    n = draw(st.integers(1, 4))
    shared = draw(st.lists(clause, min_size=0, max_size=2))
    lines = [f"Panel {k + 1}: {draw(clause)}" for k in range(draw(st.integers(0, n)))]
    prompt = "\n".join([", and ".join(shared), *lines]).strip() or draw(clause)
    return prompt, n


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prompts(), st.sampled_from(PHOTOS), st.sampled_from(["png", "jpeg"]))
def test_random_prompts_render_n_panels_or_refuse_cleanly(spec, name, fmt):
    prompt, n = spec
    try:  # a malformed location tag is bad input (exit 2) from the request itself
        request = EditRequest.create(
            prompt=prompt, images=[name], max_images=n, size=f"{SIZE}*{SIZE}", seed=3, output_format=fmt
        )
        prepared = prepare(request, [photo(name)], engine())
        outputs = list(render(prepared, engine(), NullProgress()))
    except SeqeditError:
        return  # exit 2 or 3, one line
    assert len(outputs) == n
    for o in outputs:
        assert Image.open(io.BytesIO(o.data)).size == (SIZE, SIZE)
