"""Reference reuse across a set (reuse.py, option ``reuse_references``) on tiny pipelines: a set with reuse
equals the set without; each distinct reference is encoded once per set; the KV family extracts the
reference K/V once per reference set; the pipeline is left unwrapped after every call, a cancel and an
error."""

from __future__ import annotations

import re
import threading

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from seqedit.engines import Cancelled, EngineError, NullProgress  # noqa: E402
from seqedit.engines.diffusion import reuse  # noqa: E402
from seqedit.engines.diffusion.tiny import FAMILIES, references  # noqa: E402
from tests.support import sets  # noqa: E402
from tests.support.sets import png, run  # noqa: E402

PANELS = 4


def plan(n=PANELS, seed=11):
    return sets.plan(n, seed=seed, prompt="the mug on a desk, in a kitchen, outdoors, at night")


def encoder_name(engine) -> str:
    name = type(engine.load().adapter).reference_encoder
    assert name, "every family declares its reference encoder"
    return name


class EncodeSpy:
    """Counts the encodes that really run: wraps the pipeline CLASS's method, below reuse's instance wrapper."""

    def __init__(self, engine, monkeypatch):
        self.calls = 0
        cls = type(engine.load().pipe)
        name = encoder_name(engine)
        real = getattr(cls, name)

        def spy(pipe_self, *args, **kwargs):
            self.calls += 1
            return real(pipe_self, *args, **kwargs)

        monkeypatch.setattr(cls, name, spy)


class ForwardModes:
    """The ``kv_cache_mode`` of every transformer forward that really runs (class-level spy)."""

    def __init__(self, engine, monkeypatch):
        self.modes: list[str | None] = []
        cls = type(engine.load().pipe.transformer)
        real = cls.forward

        def spy(module, *args, **kwargs):
            self.modes.append(kwargs.get("kv_cache_mode"))
            return real(module, *args, **kwargs)

        monkeypatch.setattr(cls, "forward", spy)


def unwrapped(engine) -> bool:
    pipe = engine.load().pipe
    transformer = getattr(pipe, "transformer", None)
    return encoder_name(engine) not in vars(pipe) and (transformer is None or "forward" not in vars(transformer))


def distinct_inputs(engine, n_refs: int) -> tuple[int, int]:
    """Encodes of a 4-panel ``anchor`` set: (with reuse, without). Multi-reference families encode each
    reference and panel 1 separately; single-reference families encode one stitched canvas per call
    (references alone for panel 1, references + panel 1 for panels 2…)."""
    if engine.load().adapter.max_refs > 1:
        return n_refs + 1, n_refs + (PANELS - 1) * (n_refs + 1)
    return 2, PANELS


# JoyAI-Image-Edit-Plus encodes its references inside prepare_latents, together with the panel's noise:
# nothing of it is panel-independent on its own, so it declares no reference encoder (tested below).
NO_REUSE = ("joyimage_edit_plus",)
REUSING = tuple(f for f in FAMILIES if f not in NO_REUSE)


@pytest.mark.parametrize("family", NO_REUSE)
def test_a_family_without_a_reference_encoder_says_so_and_runs_the_same(engines, family):
    engine = engines(family)
    assert engine.describe()["reference_reuse"] == "none for this family"
    p, refs = plan(), references(2)
    assert [png(im) for im in run(engine, p, refs)] == [
        png(im) for im in run(engines(family, reuse_references=False), p, refs)
    ]
    assert engine.last_reuse == reuse.ReuseCounts()


@pytest.mark.parametrize("family", REUSING)
def test_a_set_with_reuse_equals_the_set_without(engines, family, monkeypatch):
    """VAE-latent reuse hands the pipeline the very tensor the encode would give, so the panels are the
    same bytes. The KV family's step 0 of later panels runs in cached mode: the same math on a shorter
    sequence (the row-wise products and the attention over [text, reference, noise] keys do not change),
    and on CPU float32 — what this suite runs — the same bytes too. (On other hardware a GEMM blocked
    differently for the shorter sequence could differ in the last bits; the next test states that
    contract on the latents, within float tolerance.)"""
    p, refs = plan(), references(2)
    with_reuse, without = engines(family), engines(family, reuse_references=False)
    spy = EncodeSpy(with_reuse, monkeypatch)
    reused = run(with_reuse, p, refs)
    encodes_with = spy.calls
    counts = with_reuse.last_reuse
    spy.calls = 0
    plain = run(without, p, refs)
    encodes_without = spy.calls

    assert len(reused) == len(plain) == PANELS
    assert [png(im) for im in reused] == [png(im) for im in plain]

    expected_with, expected_without = distinct_inputs(with_reuse, len(refs))
    assert (encodes_with, encodes_without) == (expected_with, expected_without)
    assert counts.encodes == expected_with
    assert counts.encodes + counts.encodes_reused == expected_without
    assert without.last_reuse == reuse.ReuseCounts()  # reuse off: nothing installed, nothing counted
    assert unwrapped(with_reuse)


def test_kv_cached_first_step_matches_the_extract_latents(engines):
    """The KV family without the engine around it: the same call twice in one set; the second call's
    step 0 runs cached. Latents within float tolerance of a plain call (same math, see above)."""
    engine = engines("flux2_klein_kv")
    loaded = engine.load()
    kwargs = loaded.adapter.call_kwargs(
        prompts=["a red mug"], refs=references(2), width=64, height=64, steps=3, guidance=1.0, generators=[]
    )

    def latents(memo=None):
        kwargs["generator"] = torch.Generator("cpu").manual_seed(5)
        with loaded.lock:
            if memo is None:
                return loaded.pipe(**kwargs, output_type="latent").images
            with memo.applied():
                return loaded.pipe(**kwargs, output_type="latent").images

    plain = latents()
    memo = reuse.SetReuse(loaded.pipe, loaded.adapter)
    first, second = latents(memo), latents(memo)
    assert (memo.counts.kv_extracts, memo.counts.kv_reused) == (1, 1)
    assert torch.equal(first, plain)  # the first call extracts exactly as the pipeline does
    torch.testing.assert_close(second, plain, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("strategy", "extracts"), [("independent", 1), ("anchor", 2), ("chain", PANELS)])
def test_the_kv_family_extracts_once_per_reference_set(engines, monkeypatch, strategy, extracts):
    """independent: one reference set for every panel; anchor: the references, then references + panel 1
    for panels 2…; chain: a new last reference every panel, nothing to reuse."""
    with_reuse = engines("flux2_klein_kv", strategy)
    without = engines("flux2_klein_kv", strategy, reuse_references=False)
    spy = ForwardModes(with_reuse, monkeypatch)
    run(with_reuse, plan(), references(1))
    assert spy.modes.count("extract") == extracts
    assert with_reuse.last_reuse.kv_extracts == extracts
    assert with_reuse.last_reuse.kv_reused == PANELS - extracts
    spy.modes.clear()
    run(without, plan(), references(1))
    assert spy.modes.count("extract") == PANELS


def test_the_pipeline_is_unwrapped_between_the_calls_of_a_set(engines):
    """Wrappers live only inside one pipeline call (under Loaded.lock): while a set waits between panels,
    another set sharing the pipeline calls it as it is."""
    engine = engines("flux2_klein_kv", "independent")
    panels = engine.generate(plan(), references(1), NullProgress())
    next(panels)
    assert unwrapped(engine)
    assert engine.last_reuse.kv_extracts == 1
    panels.close()  # the consumer stops early: the set's memo is dropped
    assert unwrapped(engine)


class CancelAfterPanels(NullProgress):
    def __init__(self, panels: int):
        super().__init__()
        self.at = panels / PANELS

    def report(self, fraction, message=""):
        if fraction > self.at:
            self._cancel.set()


@pytest.mark.parametrize("family", ["flux2_klein_kv", "qwen_image_edit_plus", "instruct_pix2pix"])
def test_a_cancel_mid_set_leaves_the_pipeline_unwrapped(engines, family):
    engine = engines(family)
    plain = engines(family, reuse_references=False)
    before = [png(im) for im in run(plain, plan(), references(2))]
    out = []
    with pytest.raises(Cancelled):
        for panel in engine.generate(plan(), references(2), CancelAfterPanels(2)):
            out.append(panel)
    assert len(out) == 2
    assert unwrapped(engine)
    assert [png(im) for im in run(plain, plan(), references(2))] == before


def test_an_error_mid_set_leaves_the_pipeline_unwrapped(engines, monkeypatch):
    engine = engines("flux2_klein_kv")
    plain = engines("flux2_klein_kv", reuse_references=False)
    before = [png(im) for im in run(plain, plan(), references(1))]
    cls = type(engine.load().pipe.transformer)
    real, calls = cls.forward, []

    def failing(module, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # panel 2, step 0 (2 steps a panel: panel 1 took calls 1 and 2)
            raise RuntimeError("boom in the transformer")
        return real(module, *args, **kwargs)

    monkeypatch.setattr(cls, "forward", failing)
    with pytest.raises(EngineError, match="boom"):
        run(engine, plan(), references(1))
    monkeypatch.setattr(cls, "forward", real)
    assert unwrapped(engine)
    assert [png(im) for im in run(plain, plan(), references(1))] == before


def test_sets_on_two_threads_sharing_a_pipeline_give_their_own_panels(engines):
    """Two sets with different references on one shared pipeline, interleaved call by call (the lock
    serialises calls; each set's memo is its own): each equals the same set run alone."""
    engine = engines("flux2_klein", "independent")
    refs_a, refs_b = references(1), references(2)[1:]
    alone_a = [png(im) for im in run(engine, plan(), refs_a)]
    alone_b = [png(im) for im in run(engine, plan(), refs_b)]
    results: dict[str, list[bytes]] = {}

    def worker(name, refs):
        results[name] = [png(im) for im in run(engine, plan(), refs)]

    threads = [threading.Thread(target=worker, args=(n, r)) for n, r in (("a", refs_a), ("b", refs_b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {"a": alone_a, "b": alone_b}
    assert unwrapped(engine)


def test_describe_says_which_reuse_applies(engines):
    kv = engines("flux2_klein_kv").describe()["reference_reuse"]
    assert "VAE latents" in kv and "K/V" in kv
    plain = engines("flux2_klein").describe()["reference_reuse"]
    assert "VAE latents" in plain and "K/V" not in plain
    assert engines("flux2_klein", reuse_references=False).describe()["reference_reuse"].startswith("off")


def test_a_bad_reuse_references_value_names_the_option():
    from seqedit.engines import create
    from seqedit.engines.base import OptionError

    with pytest.raises(OptionError, match=re.escape("reuse_references must be true | false, got 'maybe'")):
        create("diffusion", model="unused-hub-id", reuse_references="maybe")


def test_seqedit_edit_with_and_without_reuse_writes_the_same_set(tiny_models, tmp_path):
    """``seqedit edit`` in a subprocess that imports THIS tree's ``src`` (not an installed copy): the
    default (reuse on) and ``--opt reuse_references=false`` write the same PNG bytes, and set.json records
    the option."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    ref = tmp_path / "ref.png"
    references(1)[0].save(ref)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root / "tests")]),
        "SEQEDIT_MIN_PIXELS": str(64 * 64),
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "2",
    }
    outputs = {}
    for name, extra in (("on", []), ("off", ["--opt", "reuse_references=false"])):
        out = tmp_path / name
        args = [ref, "-p", "a mug; on a desk; outdoors", "-n", 3, "--size", "64*64", "--seed", 4, "--format", "png"]
        args += ["-o", out, "-q", "--engine", "diffusion", "--model", tiny_models["flux2_klein_kv"], "--steps", 2]
        r = subprocess.run(
            [sys.executable, "-m", "seqedit", "edit", *map(str, args), *extra],
            capture_output=True,
            text=True,
            env=env,
            timeout=240,
        )
        assert r.returncode == 0, r.stderr
        outputs[name] = [(out / f"{k}.png").read_bytes() for k in (1, 2, 3)]
        record = json.loads((out / "set.json").read_text())
        if extra:
            assert record["engine_options"]["reuse_references"] is False
    assert outputs["on"] == outputs["off"]
