"""``--engine auto``: classic when it can do every clause, else the fallback; the route is recorded and shown.

The fallback here is ``test-painter`` (tests/fixtures/engines/painter.py), a test engine that accepts
anything and paints visibly different panels; the classic engine is the real one."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fixtures.engines.painter import PainterEngine
from fixtures.images import png
from seqedit.config import Settings
from seqedit.edit import decode_refs, prepare, render
from seqedit.engines import EngineError, NullProgress, OptionError, Unsupported, create, registration
from seqedit.engines.routing import CONFIGURED, route
from seqedit.jobs.plans import preview
from seqedit.plan import make_plan
from seqedit.request import EditRequest

ROOT = Path(__file__).resolve().parents[2]
SNEAKER = ROOT / "examples" / "sneaker.png"
SEQEDIT = Path(sys.executable).with_name("seqedit")
COLOURWAY = "this sneaker in 3 colourways: red, navy, white"
AGES = "this woman at ages 25, 45 and 65"


def _sneaker() -> list:
    """The example sneaker at 240x160 (a flat colour has no subject to recolour)."""
    ref = Image.open(SNEAKER).convert("RGB")
    ref.thumbnail((240, 160))
    buf = io.BytesIO()
    ref.save(buf, "PNG")
    return decode_refs([buf.getvalue()])


def _plan(prompt: str, n: int = 3):
    request = EditRequest.create(prompt=prompt, images=["ref.png"], max_images=n, size="128*128", seed=7)
    return request, make_plan(request, [(160, 120)])


def test_a_colourway_routes_to_classic_and_never_touches_the_fallback():
    auto = create("auto", fallback="test-painter")
    request, plan = _plan(COLOURWAY)
    chosen = route(auto, plan)
    assert chosen.name == "classic"
    assert chosen.reason == "every clause is supported or approximate by the classic engine"
    assert [(v.clause, v.operation, v.verdict) for v in auto.analyse(plan)] == [
        ("red", "recolor", "supported"),
        ("navy", "recolor", "supported"),
        ("white", "recolor", "supported"),
    ]
    prepared = prepare(request, _sneaker(), auto)
    outputs = list(render(prepared, auto, NullProgress()))
    assert len(outputs) == 3 and len({o.sha256 for o in outputs}) == 3
    painter = auto.fallback
    assert isinstance(painter, PainterEngine) and painter.loads == 0 and painter.generated == 0


def test_an_ages_set_routes_to_the_fallback_with_its_verdicts():
    auto = create("auto", fallback="test-painter")
    request, plan = _plan(AGES)
    chosen = route(auto, plan)
    assert chosen.name == "test-painter"
    assert chosen.reason == "the classic engine cannot do 'age 25' and 2 more clauses: sent to the fallback"
    verdicts = auto.analyse(plan)
    assert [(v.panel, v.operation, v.verdict) for v in verdicts] == [(k, "paint", "supported") for k in (1, 2, 3)]
    prepared = prepare(request, decode_refs([png(160, 120, (200, 200, 200))]), auto)
    assert "test-painter paints colour bands (a test engine, no real edit)" in prepared.warnings
    outputs = list(render(prepared, auto, NullProgress()))
    assert len(outputs) == 3 and len({o.sha256 for o in outputs}) == 3
    assert auto.fallback.generated == 3 and auto.fallback.loads == 1


def test_without_a_fallback_what_classic_cannot_do_is_refused_naming_what_to_configure():
    auto = create("auto")
    request, plan = _plan(AGES)
    chosen = route(auto, plan)
    assert chosen.name == "classic"
    assert chosen.reason == "the classic engine cannot do 'age 25' and 2 more clauses and no fallback is configured"
    with pytest.raises(Unsupported) as caught:
        prepare(request, decode_refs([png(160, 120, (200, 200, 200))]), auto)
    assert caught.value.code == 1403
    message = caught.value.message
    assert message.startswith("'age 25' is not something the classic engine can do")
    assert "--opt fallback=ENGINE" in message and "$SEQEDIT_FALLBACK" in message and "diffusion" in message
    assert "\n" not in message
    # what classic can do still runs
    _, colourway = _plan(COLOURWAY)
    assert route(auto, colourway).name == "classic" and auto.check(colourway, None) == []


@pytest.mark.parametrize(
    ("fallback", "message"),
    [
        ("nope", r"^unknown fallback 'nope'; choose one of .*diffusion.*test-painter.* \(or leave it unset\)$"),
        ("classic", r"^fallback must be a generative engine, not 'classic'"),
        ("auto", r"^fallback must be a generative engine, not 'auto'"),
    ],
)
def test_a_fallback_that_is_no_generative_engine_is_an_option_error(fallback, message):
    with pytest.raises(OptionError, match=message) as caught:
        create("auto", fallback=fallback)
    assert caught.value.option == "fallback" and caught.value.code == 1400


def test_an_unconfigured_fallback_fails_at_build_time_naming_what_it_needs():
    with pytest.raises(EngineError, match=r"^fallback diffusion: the diffusion engine needs a model: --model ") as c:
        create("auto", fallback="diffusion")
    assert c.value.code == 1400
    with pytest.raises(OptionError, match=r"^steps must be a positive integer, got 0$"):
        create("auto", fallback="diffusion", model="someone/some-model", steps=0)


def test_each_option_goes_to_the_part_that_declares_it():
    auto = create("auto", fallback="diffusion", model="someone/some-model", steps=4, work_pixels=1_000_000)
    assert (
        auto.fallback.name == "diffusion" and auto.fallback.steps == 4 and auto.fallback.model == "someone/some-model"
    )
    assert auto.classic.work_pixels == 1_000_000
    # the fallback's own options are typed by auto's declaration too (the same messages as --engine diffusion)
    with pytest.raises(OptionError, match=r"^steps must be a positive integer, got 'many'$"):
        create("auto", fallback="diffusion", model="m/m", steps="many")


def test_an_option_no_part_takes_is_refused_by_name():
    with pytest.raises(OptionError) as caught:
        create("auto", model="someone/some-model")
    assert caught.value.option == "model"
    assert caught.value.message == (
        "the auto engine takes no model option without a fallback: classic does not declare it "
        "(those are for --engine diffusion); set --opt fallback=ENGINE first"
    )
    with pytest.raises(OptionError, match=r"neither classic nor its fallback test-painter declares it \(those are"):
        create("auto", fallback="test-painter", model="someone/some-model")
    with pytest.raises(OptionError, match=r"^the auto engine takes no colur option; its options: fallback, "):
        create("auto", colur="red")


def test_fallback_and_its_options_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SEQEDIT_FALLBACK", "diffusion")
    monkeypatch.setenv("SEQEDIT_MODEL", "someone/some-model")
    options = Settings(engine="auto").engine_options()
    assert options == {"fallback": "diffusion", "model": "someone/some-model"}
    assert create("auto", **options).fallback.model == "someone/some-model"
    listed = {name for name in registration("auto").options.model_fields}
    assert {"fallback", "work_pixels", "model", "steps", "strategy"} <= listed


def test_load_loads_only_a_configured_fallback():
    auto = create("auto", fallback="test-painter")
    assert auto.fallback.loads == 0  # building it loads nothing
    auto.load()
    assert auto.fallback.loads == 1
    create("auto").load()  # no fallback: nothing to load, no error


def test_the_plan_preview_shows_the_route_and_the_verdicts_of_the_engine_that_runs():
    auto = create("auto", fallback="test-painter")
    for prompt, engine in ((COLOURWAY, "classic"), (AGES, "test-painter")):
        request, _ = _plan(prompt)
        answer = preview(auto, request, [(160, 120)], model="m", unit_price=0.027)
        assert answer["engine"] == "auto" and answer["route"]["engine"] == engine
        assert {v["engine"] for v in answer["verdicts"]} == {engine}
        assert answer["supported"] and answer["refusal"] is None
    request, _ = _plan(AGES)
    refused = preview(create("auto"), request, [(160, 120)], model="m", unit_price=0.027)
    assert not refused["supported"] and "--opt fallback=ENGINE" in refused["refusal"]
    assert refused["route"]["engine"] == "classic"
    # a fixed engine runs its plans itself
    fixed = preview(create("classic"), _plan(COLOURWAY)[0], [(160, 120)], model="m", unit_price=0.027)
    assert fixed["route"] == {"engine": "classic", "reason": CONFIGURED}


# ---------------------------------------------------------------------- the CLI


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SEQEDIT), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **env},
    )


@pytest.mark.slow
def test_seqedit_plan_with_engine_auto_shows_the_route():
    ok = _cli("plan", str(SNEAKER), "-p", COLOURWAY, "--engine", "auto")
    assert ok.returncode == 0, ok.stderr
    assert "engine: classic (every clause is supported or approximate by the classic engine)" in ok.stdout
    refused = _cli("plan", str(SNEAKER), "-p", AGES, "-n", "3", "--engine", "auto")
    assert refused.returncode == 3
    assert "no fallback is configured" in refused.stdout
    assert "--opt fallback=ENGINE" in refused.stderr and "Traceback" not in refused.stderr
    routed = _cli(
        "plan",
        str(SNEAKER),
        "-p",
        AGES,
        "-n",
        "3",
        "--engine",
        "auto",
        "--json",
        SEQEDIT_FALLBACK="diffusion",
        SEQEDIT_MODEL="someone/some-model",
    )
    assert routed.returncode == 0, routed.stderr
    shown = json.loads(routed.stdout)
    assert shown["route"]["engine"] == "diffusion" and "sent to the fallback" in shown["route"]["reason"]
    assert all(v["verdict"] == "supported" for v in shown["verdicts"])
    bad = _cli("plan", str(SNEAKER), "-p", AGES, "--engine", "auto", "--opt", "fallback=nope")
    assert bad.returncode == 2 and "unknown fallback 'nope'" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.slow
def test_seqedit_engines_auto_lists_fallback_and_the_parts_options():
    r = _cli("engines", "auto")
    assert r.returncode == 0, r.stderr
    for option in ("fallback", "work_pixels", "model", "strategy", "$SEQEDIT_FALLBACK"):
        assert option in r.stdout, option
    assert "classic: working resolution" in r.stdout and "diffusion: diffusers pipeline" in r.stdout


@pytest.mark.slow
def test_seqedit_edit_with_engine_auto_records_the_route(tmp_path):
    out = tmp_path / "out"
    r = _cli("edit", str(SNEAKER), "-p", COLOURWAY, "--engine", "auto", "--size", "256*192", "-o", str(out), "-q")
    assert r.returncode == 0, r.stderr
    record = json.loads((out / "set.json").read_text())
    assert record["engine"] == "auto" and record["route"]["engine"] == "classic"
    assert [o["file"] for o in record["outputs"]] == ["1.jpg", "2.jpg", "3.jpg"]
    assert all((out / o["file"]).is_file() for o in record["outputs"])


def test_painter_panels_differ_visibly():
    """The fixture is honest about being different: its panels are not near-copies of each other."""
    auto = create("auto", fallback="test-painter")
    request, _ = _plan(AGES)
    prepared = prepare(request, decode_refs([png(160, 120, (90, 90, 90))]), auto)
    panels = [np.asarray(p, dtype=float) for p in auto.generate(prepared.plan, prepared.refs, NullProgress())]
    assert all(np.abs(a - b).mean() > 5 for i, a in enumerate(panels) for b in panels[i + 1 :])
