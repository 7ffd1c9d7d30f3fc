"""The guard in the one run loop (``edit.render``), with fixture engines loaded like a user's plugin.

``test-drift-once`` puts the other bundled portrait in panel 3 on its first render; ``test-drift-always``
on every render (tests/fixtures/engines/drifting.py)."""

from __future__ import annotations

import importlib
import io

import pytest
from PIL import Image

from seqedit.consistency import faces
from seqedit.edit import prepare, render
from seqedit.engines import NullProgress, create
from seqedit.request import EditRequest

pytestmark = pytest.mark.skipif(faces.missing() is not None, reason="the consistency extra is not installed")
PROMPT = "a series of 4 portraits of this person"


@pytest.fixture(scope="module", autouse=True)
def plugin():
    importlib.import_module("fixtures.engines.drifting")  # as SEQEDIT_PLUGINS would load it


def run(engine_name: str, astronaut, **options):
    engine = create(engine_name, **options)
    request = EditRequest.create(prompt=PROMPT, images=["x"], max_images=4, size="256*256", seed=7)
    prepared = prepare(request, [astronaut], engine)
    progress = NullProgress()
    outputs = list(render(prepared, engine, progress))
    return engine, prepared, outputs, progress


def identity(output) -> dict:
    return output.consistency["identity"]


def test_a_panel_that_drifts_once_is_re_rendered_and_the_delivered_set_passes(astronaut, hopper):
    engine, prepared, outputs, progress = run("test-drift-once", astronaut)
    report = prepared.consistency.to_dict()
    assert engine.renders == {1: 1, 2: 1, 3: 2, 4: 1}  # only panel 3, once
    assert [r["panel"] for r in report["retries"]] == [3]
    retry = report["retries"][0]
    assert retry["attempt"] == 1 and retry["seed"] == 7 + 1000 + 2 and "identity" in retry["reason"]
    assert "over its threshold 0.60" in retry["reason"]
    assert engine.seeds[3] == [9, retry["seed"]]
    assert all(identity(o)["passed"] for o in outputs), [identity(o) for o in outputs]
    assert report["warnings"] == [] and progress.warnings == []
    # the delivered panel 3 is the re-render (the reference's face), not the other portrait
    delivered = Image.open(io.BytesIO(outputs[2].data)).convert("RGB")
    assert faces.distance(faces.main_face(delivered), faces.main_face(astronaut)) < 0.6
    assert faces.distance(faces.main_face(delivered), faces.main_face(hopper)) > 0.6


def test_a_panel_that_always_drifts_is_delivered_with_a_warning_and_the_bound_holds(astronaut):
    engine, prepared, outputs, progress = run("test-drift-always", astronaut, consistency_retries=3)
    report = prepared.consistency.to_dict()
    assert engine.renders[3] == 1 + 3 and [r["attempt"] for r in report["retries"]] == [1, 2, 3]
    assert len({r["seed"] for r in report["retries"]}) == 3  # a new seed each time
    assert len(outputs) == 4 and identity(outputs[2])["passed"] is False
    (warning,) = report["warnings"]
    assert warning.startswith("panel 3: identity ") and warning.endswith("after 3 re-renders")
    assert progress.warnings == [warning]  # the set's warnings (set.json, the prediction) carry it
    assert [identity(o)["passed"] for o in outputs] == [True, True, False, True]


def test_with_the_guard_off_nothing_is_re_rendered_but_the_warning_is_still_given(astronaut):
    engine, prepared, outputs, progress = run("test-drift-once", astronaut, consistency_guard=False)
    report = prepared.consistency.to_dict()
    assert engine.renders[3] == 1 and report["retries"] == [] and report["guard"] is False
    assert len(progress.warnings) == 1 and progress.warnings[0].startswith("panel 3: identity ")


def test_zero_retries_is_a_bound_too(astronaut):
    engine, prepared, _, progress = run("test-drift-always", astronaut, consistency_retries=0)
    assert engine.renders[3] == 1 and prepared.consistency.retries == []
    assert progress.warnings and "re-render" not in progress.warnings[0]


def test_the_classic_engine_has_no_guard_but_gets_figures(astronaut):
    engine = create("classic")
    request = EditRequest.create(
        prompt="a series of 2 images: 1. warm grade 2. black and white", images=["x"], max_images=2, size="256*256"
    )
    prepared = prepare(request, [astronaut], engine)
    outputs = list(render(prepared, engine, NullProgress()))
    report = prepared.consistency.to_dict()
    assert report["guard"] is False and report["max_retries"] == 0
    assert all(identity(o)["passed"] for o in outputs)
    assert [p["index"] for p in report["panels"]] == [1, 2]
    assert set(outputs[0].consistency) == {"identity", "palette", "palette_ref", "structure", "product"}


def test_under_auto_the_guard_is_the_routed_engines(astronaut):
    engine = create("auto", fallback="test-drift-once")
    request = EditRequest.create(
        prompt="this person at ages 25, 45, 65 and 85", images=["x"], max_images=4, size="256*256", seed=7
    )
    prepared = prepare(request, [astronaut], engine)
    outputs = list(render(prepared, engine, NullProgress()))
    report = prepared.consistency.to_dict()
    assert report["guard"] is True and [r["panel"] for r in report["retries"]] == [3]
    assert all(identity(o)["passed"] for o in outputs)


def test_the_remote_engine_re_renders_one_panel_with_one_submit_of_its_own_line():
    from fixtures.short_upstream import KEY, ShortUpstream
    from seqedit.engines.remote.engine import RemoteEngine
    from seqedit.plan import make_plan

    prompt = "Make three covers. Panel 1 — red. Panel 2 — blue. Panel 3 — green."
    plan = make_plan(EditRequest.create(prompt=prompt, images=["x"], max_images=3, size="256*192", seed=7))
    with ShortUpstream([3, 1]) as stub:
        engine = RemoteEngine(upstream_url=stub.url, upstream_key=KEY)
        list(engine.generate(plan, [], NullProgress()))
        progress = NullProgress()
        again = engine.rerender(plan, [], 3, 7 + 1000 + 2, progress)
    assert again.size == (256, 192) and len(stub.asks) == 2
    ask = stub.asks[1]
    assert ask["max_images"] == 1 and ask["seed"] == 1009
    assert "green" in ask["prompt"] and "red" not in ask["prompt"]
