"""``identity`` on the bundled portraits: the same face stays under the threshold, the other person is over it."""

from __future__ import annotations

import pytest
from PIL import Image

from consistency.conftest import variants
from seqedit.consistency import Context, faces
from seqedit.consistency.identity import Identity
from seqedit.plan import make_plan
from seqedit.request import EditRequest

pytestmark = pytest.mark.skipif(faces.missing() is not None, reason="the consistency extra is not installed")


def context(refs: list[Image.Image], prompt: str = "a series of 3 portraits of this person", n: int = 3) -> Context:
    plan = make_plan(EditRequest.create(prompt=prompt, images=["x"], max_images=n, seed=1), [refs[0].size])
    return Context.create(plan, refs)


def test_the_same_face_scores_under_the_threshold_and_the_other_portrait_over_it(astronaut, hopper):
    metric, ctx = Identity(), context([astronaut])
    same = {name: metric.measure(image, 2, ctx) for name, image in variants(astronaut).items()}
    for name, figure in same.items():
        assert figure.value is not None and figure.passed, (name, figure)
        assert figure.value < 0.3, (name, figure)  # well inside the 0.6 radius
    other = metric.measure(hopper, 3, ctx)
    assert other.value is not None and other.value > metric.threshold and other.passed is False, other
    # and the other way round: Hopper as the reference, the astronaut is the stranger
    assert Identity().measure(astronaut, 1, context([hopper])).passed is False


def test_the_nearest_of_several_reference_faces_counts(astronaut, hopper):
    figure = Identity().measure(hopper, 1, context([astronaut, hopper]))
    assert figure.value is not None and figure.value < 0.05


def test_no_face_in_the_references_or_the_panel_is_a_null_with_its_reason(astronaut, sneaker):
    no_ref = Identity().measure(astronaut, 2, context([sneaker]))
    assert (no_ref.value, no_ref.passed, no_ref.reason) == (None, None, "no face found in the references")
    no_face = Identity().measure(sneaker, 2, context([astronaut]))
    assert (no_face.value, no_face.passed, no_face.reason) == (None, None, "no face found in panel 2")
    blank = Identity().measure(Image.new("RGB", (64, 64), (200, 10, 10)), 3, context([astronaut]))
    assert blank.reason == "no face found in panel 3"


def test_without_the_extra_the_figure_is_null_not_installed(astronaut, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "dlib" else real(name, *a))
    reason = Identity().applies(context([astronaut]), 1)
    assert reason is not None and reason.startswith("not installed")
