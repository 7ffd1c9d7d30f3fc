"""The sequence engine on tiny pipelines: counts, sizes, strategy invariants, reference limits, cancel,
progress and failures."""

from __future__ import annotations

import threading

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from seqedit.engines import Cancelled, EngineError, NullProgress, Unsupported  # noqa: E402
from seqedit.engines.diffusion.errors import OutOfMemory  # noqa: E402
from seqedit.engines.diffusion.tiny import FAMILIES, references  # noqa: E402
from tests.support.sets import plan, png, run  # noqa: E402


class Spy:
    """Records the keyword arguments of every pipeline call (then makes the real call)."""

    def __init__(self, engine, monkeypatch):
        self.calls = []
        pipe = engine.load().pipe
        real = type(pipe).__call__

        def spy(pipe_self, *args, **kwargs):
            self.calls.append(kwargs)
            return real(pipe_self, *args, **kwargs)

        monkeypatch.setattr(type(pipe), "__call__", spy)


@pytest.mark.parametrize("family", FAMILIES)
def test_n_outputs_of_the_requested_size(engines, family):
    engine = engines(family)
    out = run(engine, plan(3, size="96*64"), references(2))
    assert [im.size for im in out] == [(96, 64)] * 3
    assert all(im.mode == "RGB" for im in out)


@pytest.mark.parametrize("family", FAMILIES)
def test_same_seed_same_bytes(engines, family):
    engine = engines(family)
    first = [png(im) for im in run(engine, plan(2), references(1))]
    again = [png(im) for im in run(engine, plan(2), references(1))]
    other = [png(im) for im in run(engine, plan(2, seed=8), references(1))]
    assert first == again
    assert first[0] != other[0]
    assert first[0] != first[1]


@pytest.mark.parametrize("strategy", ["independent", "chain", "grid", "shared_attention"])
def test_every_strategy_is_reproducible(engines, strategy):
    engine = engines("flux2_klein", strategy)
    a = [png(im) for im in run(engine, plan(3), references(1))]
    b = [png(im) for im in run(engine, plan(3), references(1))]
    assert len(a) == 3 and a == b


@pytest.mark.parametrize("family", ["flux2_klein", "flux_kontext"])
def test_anchor_panel_is_the_same_under_anchor_and_shared_attention(engines, family):
    p = plan(4)
    anchored = [png(im) for im in run(engines(family, "anchor"), p, references(1))]
    shared = [png(im) for im in run(engines(family, "shared_attention", batch_size=2), p, references(1))]
    independent = [png(im) for im in run(engines(family, "independent"), p, references(1))]
    assert anchored[0] == shared[0] == independent[0]
    # sharing changes the other panels (they attend to panel 1), anchoring too (panel 1 is a reference)
    assert all(s != i for s, i in zip(shared[1:], independent[1:], strict=True))
    assert all(a != i for a, i in zip(anchored[1:], independent[1:], strict=True))


def test_shared_attention_batches_panels_with_the_anchor(engines, monkeypatch):
    engine = engines("flux_kontext", "shared_attention", batch_size=3)
    spy = Spy(engine, monkeypatch)
    out = run(engine, plan(5), references(1))
    assert len(out) == 5
    # panel 1 alone, then [1, 2, 3] and [1, 4, 5]
    assert [1 if isinstance(c["prompt"], str) else len(c["prompt"]) for c in spy.calls] == [1, 3, 3]
    assert all("image 1 of 5" in c["prompt"][0] for c in spy.calls[1:])


@pytest.mark.parametrize("family", ["qwen_image_edit_plus", "instruct_pix2pix"])
def test_shared_attention_needs_a_flux_family_model(engines, family):
    with pytest.raises(Unsupported, match="Flux-family"):
        engines(family, "shared_attention").check(plan(2), references(1))


def test_grid_splits_one_canvas_and_refuses_more_than_four(engines, monkeypatch):
    engine = engines("flux_kontext", "grid")
    spy = Spy(engine, monkeypatch)
    out = run(engine, plan(4), references(1))
    assert [im.size for im in out] == [(64, 64)] * 4
    assert len(spy.calls) == 1 and (spy.calls[0]["width"], spy.calls[0]["height"]) == (128, 128)
    with pytest.raises(Unsupported, match="at most 4"):
        engine.check(plan(5), references(1))


@pytest.mark.parametrize("family", ["flux_kontext", "instruct_pix2pix"])
def test_single_reference_families_get_one_stitched_canvas(engines, family, monkeypatch):
    engine = engines(family)
    warnings = engine.check(plan(2), references(3))
    assert any("stitched" in w for w in warnings)
    spy = Spy(engine, monkeypatch)
    run(engine, plan(2), references(3))
    for call in spy.calls:
        assert not isinstance(call["image"], list)  # one canvas, never a list (a list means a batch)


def test_anchor_strategy_passes_panel_one_as_a_reference(engines, monkeypatch):
    engine = engines("flux2_klein")
    spy = Spy(engine, monkeypatch)
    out = run(engine, plan(3), references(2))
    assert [len(c["image"]) for c in spy.calls] == [2, 3, 3]
    assert len(out) == 3


def test_beyond_the_limit_stitch_truncate_or_error(engines, monkeypatch):
    # FLUX.2 klein takes 4 references; 5 refs + the anchor panel = 6
    stitcher = engines("flux2_klein", overflow="stitch")
    assert any("stitched" in w for w in stitcher.check(plan(2), references(5)))
    spy = Spy(stitcher, monkeypatch)
    run(stitcher, plan(2), references(5))
    first, second = spy.calls
    assert len(first["image"]) == 4 and first["image"][3].width > first["image"][3].height  # refs 4-5 stitched
    assert len(second["image"]) == 4 and second["image"][2].width > 2 * second["image"][2].height  # refs 3-5
    assert second["image"][3].size == (64, 64)  # panel 1 keeps its own slot
    monkeypatch.undo()

    truncator = engines("flux2_klein", overflow="truncate")
    assert any("ignored" in w for w in truncator.check(plan(2), references(5)))
    spy = Spy(truncator, monkeypatch)
    run(truncator, plan(2), references(5))
    assert [len(c["image"]) for c in spy.calls] == [4, 4]
    assert all(im.size == (64, 64) for im in spy.calls[0]["image"])  # kept as they are, the 5th dropped

    refuser = engines("qwen_image_edit_plus", overflow="error")
    with pytest.raises(Unsupported, match="at most 3 reference"):
        refuser.check(plan(2), references(3))  # 3 refs + the anchor panel
    assert refuser.check(plan(1), references(3)) == []


def test_native_size_then_resampled(tiny_models, monkeypatch):
    from seqedit.engines import create

    engine = create("diffusion", model=str(tiny_models["flux2_klein"]), steps=1)  # family range 256²-2048²
    spy = Spy(engine, monkeypatch)
    out = run(engine, plan(1, size="64*128"), references(1))
    assert (spy.calls[0]["width"], spy.calls[0]["height"]) == (176, 368)  # same aspect, ~256² px, sides /16
    assert out[0].size == (64, 128)


class CancelAfter(NullProgress):
    def __init__(self, reports: int):
        super().__init__()
        self.reports, self.fractions = reports, []

    def report(self, fraction, message=""):
        self.fractions.append(fraction)
        if len(self.fractions) >= self.reports:
            self._cancel.set()


@pytest.mark.parametrize("family", FAMILIES)
def test_cancel_stops_within_one_step(engines, family):
    engine = engines(family, steps=8)
    denoiser = engine.load().pipe.transformer if family != "instruct_pix2pix" else engine.load().pipe.unet
    calls = []
    handle = denoiser.register_forward_hook(lambda *a: calls.append(1))
    try:
        run(engine, plan(1), references(1))
        full, calls[:] = len(calls), []
        progress = CancelAfter(reports=1)
        with pytest.raises(Cancelled, match="step 1 of 8"):
            run(engine, plan(3), references(1), progress)
    finally:
        handle.remove()
    per_step = full // 8
    assert len(calls) == per_step  # the request came during step 1: nothing after it ran
    assert progress.fractions == [pytest.approx(1 / 8 / 3)]


def test_cancel_before_start_runs_nothing(engines, monkeypatch):
    engine = engines("flux_kontext")
    spy = Spy(engine, monkeypatch)
    cancelled = threading.Event()
    cancelled.set()
    with pytest.raises(Cancelled):
        run(engine, plan(2), references(1), NullProgress(cancelled))
    assert spy.calls == []


def test_progress_is_monotonic_and_reaches_one(engines):
    engine = engines("flux2_klein", "chain")
    progress = CancelAfter(reports=10**6)
    run(engine, plan(3), references(1), progress)
    assert progress.fractions == sorted(progress.fractions)
    assert len(progress.fractions) == 3 * 2 and progress.fractions[-1] == pytest.approx(1.0)


def test_panels_are_yielded_one_at_a_time(engines, monkeypatch):
    engine = engines("flux2_klein", "independent")
    spy = Spy(engine, monkeypatch)
    panels = engine.generate(plan(3), references(1), NullProgress())
    next(panels)
    assert len(spy.calls) == 1
    panels.close()


def test_model_loads_once_and_lazily(tiny_models):
    from seqedit.engines import create

    engine = create("diffusion", model=str(tiny_models["flux_kontext"]), steps=1, min_pixels=64 * 64)
    assert engine._loaded is None  # the factory does not load: a worker creates it cheaply
    run(engine, plan(1), references(1))
    first = engine.load()
    run(engine, plan(1), references(1))
    assert engine.load() is first
    # another engine of the process (the service builds one per consumer thread) reuses the pipeline
    other = create("diffusion", model=str(tiny_models["flux_kontext"]), strategy="chain")
    assert other.load() is first


def test_out_of_memory_is_a_failed_run_not_a_dead_worker(engines, monkeypatch):
    engine = engines("flux2_klein", "independent")
    transformer = engine.load().pipe.transformer

    def oom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(transformer, "forward", oom)
    with pytest.raises(OutOfMemory, match="out of memory while generating") as caught:
        run(engine, plan(2), references(1))
    assert isinstance(caught.value, EngineError) and caught.value.code == 5000
    monkeypatch.undo()
    assert len(run(engine, plan(2), references(1))) == 2  # the same engine works again


def test_unexpected_pipeline_errors_become_engine_errors(engines, monkeypatch):
    engine = engines("flux2_klein", "independent")
    monkeypatch.setattr(
        engine.load().pipe.transformer, "forward", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("shape mismatch"))
    )
    with pytest.raises(EngineError, match="RuntimeError: shape mismatch"):
        run(engine, plan(1), references(1))


def test_a_missing_model_path_fails_at_once_and_a_vanished_one_fails_the_job(tmp_path, tiny_models):
    """A mistyped path stops the engine factory (so `serve` refuses to start); a model directory that
    disappears after start-up fails the job, not the process."""
    import shutil

    from seqedit.engines import create

    with pytest.raises(EngineError, match="does not exist"):
        create("diffusion", model=str(tmp_path / "gone"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(EngineError, match="not a diffusers pipeline"):
        create("diffusion", model=str(tmp_path / "empty"))

    model = tmp_path / "vanishing"
    shutil.copytree(tiny_models["flux2_klein"], model)
    engine = create("diffusion", model=str(model))
    shutil.rmtree(model)
    assert engine.analyse(plan(2))  # the planner's verdicts need no model
    with pytest.raises(EngineError, match="does not exist"):
        run(engine, plan(1), references(1))


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_cuda_without_gpu_fails_the_job(tiny_models):
    from seqedit.engines import create

    engine = create("diffusion", model=str(tiny_models["flux_kontext"]), device="cuda")
    with pytest.raises(EngineError, match="no CUDA GPU"):
        run(engine, plan(1), references(1))


def test_qwen_image_edit_first_release_stitches(tmp_path_factory, tiny_models):
    from seqedit.engines import create
    from seqedit.engines.diffusion import tiny as diffusion_tiny

    root = tmp_path_factory.mktemp("qwen-v1")
    path = diffusion_tiny.save_all(
        root, {"qwen_image_edit": lambda: diffusion_tiny.build_qwen_edit_plus("QwenImageEditPipeline")}
    )["qwen_image_edit"]
    engine = create("diffusion", model=str(path), steps=2, min_pixels=64 * 64)
    assert engine.info().adapter.family == "qwen_image_edit"
    assert any("stitched" in w for w in engine.check(plan(2), references(2)))
    out = run(engine, plan(2), references(2))
    assert [im.size for im in out] == [(64, 64)] * 2


def test_two_threads_share_one_pipeline_and_get_sequential_results(engines, tiny_models):
    """The service builds one engine per consumer thread: they share the loaded pipeline, take turns on it,
    and each gets exactly what it would get alone."""
    from seqedit.engines import create

    alone = [png(im) for im in run(engines("flux_kontext", "independent"), plan(2, seed=1), references(1))]
    results, errors = {}, []

    def work(name, seed):
        try:
            engine = create(
                "diffusion", model=str(tiny_models["flux_kontext"]), strategy="independent", steps=2, min_pixels=64 * 64
            )
            results[name] = [png(im) for im in run(engine, plan(2, seed=seed), references(1))]
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"t{i}", 1)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and all(results[f"t{i}"] == alone for i in range(3))
