"""One small interface: a deployment replaces a built-in metric (or adds one) and the run loop uses it."""

from __future__ import annotations

import pytest
from PIL import Image, ImageStat

from seqedit.consistency import Figure, Metric, Watch, describe, metrics, register
from seqedit.engines import NullProgress, create
from seqedit.plan import make_plan
from seqedit.request import EditRequest


class Mean:
    """A stand-in for a stronger embedding: how far the panel's mean grey is from the reference's."""

    name = "identity"
    threshold = 10.0
    better = "lower"
    guarded = True
    describes = "test: mean grey distance"

    def applies(self, context, index):
        return None

    def measure(self, panel, index, context):
        def grey(image):
            return ImageStat.Stat(image.convert("L")).mean[0]

        return Figure(self.name, abs(grey(panel) - grey(context.refs[0])), self.threshold, self.better)


class Broken(Mean):
    name = "broken"
    guarded = False

    def measure(self, panel, index, context):
        raise ValueError("no luck")


@pytest.fixture
def plugged(monkeypatch):
    """A deployment registers its metrics at start-up, before the built-ins were ever loaded."""
    from seqedit.consistency import builtins, figures

    monkeypatch.setattr(figures, "_METRICS", {})
    monkeypatch.setattr(builtins, "_done", False)
    register(Mean())
    register(Broken())


def watch(n=2):
    plan = make_plan(
        EditRequest.create(prompt="a series of 2 images", images=["x"], max_images=n, size="64*64", seed=1)
    )
    ref = Image.new("RGB", (64, 64), (100, 100, 100))
    return Watch(plan, [ref], [], create("classic"), NullProgress())


def test_a_registered_metric_replaces_the_built_in_of_its_name_and_a_failing_one_is_a_null(plugged):
    assert all(isinstance(m, Metric) for m in metrics())
    assert [m.name for m in metrics()][:1] == ["identity"] and isinstance(metrics()[0], Mean)
    w = watch()
    w.panel(1, Image.new("RGB", (64, 64), (104, 104, 104)))
    figures = w.report.figures(1)
    assert figures["identity"]["value"] == pytest.approx(4.0) and figures["identity"]["passed"]
    assert figures["broken"]["value"] is None
    assert figures["broken"]["reason"] == "could not be measured (ValueError: no luck)"


def test_a_failing_guarded_figure_on_an_engine_without_the_guard_is_a_warning(plugged):
    w = watch()
    w.panel(1, Image.new("RGB", (64, 64), (200, 200, 200)))
    assert w.report.warnings == ["panel 1: identity 100.00 over its threshold 10.00"]


def test_the_plan_describes_what_each_panel_is_checked_for():
    plan = make_plan(
        EditRequest.create(prompt="this sneaker in 3 colourways: red, navy, white", images=["x"], max_images=3)
    )
    described = describe(plan, [], create("classic"))
    checks = {c["name"]: c for c in described["checks"]}
    assert described["guard"] is False and described["max_retries"] == 0
    assert checks["palette"]["panels"] == [] and checks["palette"]["reason"] == "panel 1 is the set's palette"
    assert checks["structure"]["panels"] == [1, 2, 3]  # colourways keep the subject
    assert checks["product"]["reason"] == "the instruction names no product or logo"
