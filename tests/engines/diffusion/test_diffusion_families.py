"""The second-wave families on their tiny pipelines: FLUX.2 [dev] (``Flux2Pipeline``), Qwen-Image-2.1
(``QwenImage21Pipeline``) and JoyAI-Image-Edit-Plus (``JoyImageEditPlusPipeline``) through the engine under every
strategy each supports, what their adapters claim (shared attention, batching, references, steps), and
``seqedit models demo`` (in-process here; the subprocess end to end is in test_diffusion_cli.py)."""

from __future__ import annotations

import json
import shutil
import sys

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from PIL import Image, ImageDraw  # noqa: E402

from seqedit.engines import NullProgress, Unsupported, create  # noqa: E402
from seqedit.engines.diffusion import loader  # noqa: E402
from seqedit.engines.diffusion.attention import supports_shared_anchor  # noqa: E402
from seqedit.engines.diffusion.tiny import FAMILIES, references  # noqa: E402
from tests.support.sets import plan, png, run  # noqa: E402

NEW = ("flux2_dev", "qwen_image_21", "joyimage_edit_plus")
STRATEGIES = {
    "flux2_dev": ("anchor", "chain", "independent", "grid", "shared_attention"),
    "qwen_image_21": ("anchor", "chain", "independent", "grid"),
    "joyimage_edit_plus": ("anchor", "chain", "independent", "grid"),
}


def numbered(n: int, size: int = 64) -> list[Image.Image]:
    """``n`` references that differ from each other (``tiny.references`` repeats its colours after 6)."""
    out = []
    for i in range(n):
        im = Image.new("RGB", (size, size), (20 * i, 255 - 20 * i, (70 * i) % 256))
        ImageDraw.Draw(im).rectangle([4 * i, 4 * i, 4 * i + 8, 4 * i + 8], fill=(255, 255, 255))
        out.append(im)
    return out


class Recorder(NullProgress):
    def __init__(self) -> None:
        super().__init__()
        self.warnings: list[str] = []

    def warn(self, message: str) -> None:
        self.warnings.append(message)


class PipelineSpy:
    """Wraps the pipeline class's ``__call__``: records how many references each call got (and the images),
    then makes the real call."""

    def __init__(self, engine, monkeypatch, key="image"):
        self.counts: list[int] = []
        self.images: list[list[Image.Image]] = []
        self.calls: list[dict] = []
        pipe = engine.load().pipe
        real = type(pipe).__call__

        def spy(pipe_self, *args, **kwargs):
            image = kwargs.get(key)
            self.calls.append(kwargs)
            self.counts.append(len(image))
            self.images.append(list(image))
            return real(pipe_self, *args, **kwargs)

        monkeypatch.setattr(type(pipe), "__call__", spy)


@pytest.mark.parametrize("family, strategy", [(f, s) for f in NEW for s in STRATEGIES[f]])
def test_every_strategy_each_new_family_supports(engines, family, strategy):
    engine = engines(family, strategy, batch_size=2) if strategy == "shared_attention" else engines(family, strategy)
    out = run(engine, plan(3, size="96*64"), references(2))
    assert [im.size for im in out] == [(96, 64)] * 3 and all(im.mode == "RGB" for im in out)
    again = run(engine, plan(3, size="96*64"), references(2))
    assert [png(im) for im in out] == [png(im) for im in again]
    assert len({png(im) for im in out}) == 3  # three panels, not one panel three times


def test_new_families_are_in_every_family_parametrised_test():
    assert set(NEW) <= set(FAMILIES)
    assert {a.family for a in loader.ADAPTERS} >= set(NEW)


@pytest.mark.parametrize("family", NEW)
def test_shared_attention_claim_matches_the_transformer(engines, family):
    """An adapter says shared_attention only where attention.shared_anchor can swap every processor."""
    loaded = engines(family).load()
    assert loaded.adapter.shared_attention == supports_shared_anchor(loaded.adapter.transformer)
    assert loaded.adapter.shared_attention == (family == "flux2_dev")


@pytest.mark.parametrize("family", ["qwen_image_21", "joyimage_edit_plus"])
def test_shared_attention_is_refused_where_it_does_not_apply(engines, family):
    with pytest.raises(Unsupported, match="Flux-family"):
        engines(family, "shared_attention").check(plan(2), references(1))


def test_flux2_dev_shared_attention_keeps_panel_one_and_changes_the_others(engines):
    p = plan(3)
    shared = [png(im) for im in run(engines("flux2_dev", "shared_attention", batch_size=2), p, references(1))]
    independent = [png(im) for im in run(engines("flux2_dev", "independent"), p, references(1))]
    assert shared[0] == independent[0]
    assert all(s != i for s, i in zip(shared[1:], independent[1:], strict=True))


@pytest.mark.parametrize("family", NEW)
def test_batchable_families_make_one_image_per_prompt(engines, family):
    """``batchable``: one call with two prompts (and the references) gives two images, each the same as that
    prompt alone with the same seed would give within float tolerance."""
    loaded = engines(family).load()
    adapter = loaded.adapter
    assert adapter.batchable

    def call(prompts, seeds):
        kwargs = adapter.call_kwargs(
            prompts=prompts,
            refs=references(2),
            width=64,
            height=64,
            steps=2,
            guidance=adapter.default_guidance(),
            generators=[torch.Generator("cpu").manual_seed(s) for s in seeds],
        )
        return loaded.pipe(**kwargs, output_type="np").images

    pair = call(["make it blue", "make it red"], [1, 2])
    assert len(pair) == 2
    alone = call(["make it red"], [2])
    assert abs(pair[1] - alone[0]).max() < 2e-2  # padding of the shorter prompt moves a batched call a little
    assert abs(pair[0] - pair[1]).max() > 1e-3


# --- Qwen-Image-2.1: ten references, in order, no stitching --------------------------------------------------
def test_ten_references_reach_qwen_image_21_as_ten(engines, monkeypatch):
    engine = engines("qwen_image_21", "independent")
    refs = numbered(10)
    assert engine.check(plan(2), refs) == []  # no stitch or drop warning
    spy = PipelineSpy(engine, monkeypatch)
    vae = engine.load().pipe.vae
    encodes = []
    real_encode = vae.encode
    monkeypatch.setattr(vae, "encode", lambda x, *a, **k: encodes.append(x.shape) or real_encode(x, *a, **k))
    progress = Recorder()
    out = run(engine, plan(2), refs, progress)
    assert len(out) == 2 and progress.warnings == []
    assert spy.counts == [10, 10]
    for images in spy.images:  # the user's references, in their order, none stitched
        assert [im.tobytes() for im in images] == [im.tobytes() for im in refs]
    # ten references reached the VAE, each once per set: panel 2 reused their latents (reuse_references)
    assert len(encodes) == 10


def test_anchor_with_ten_references_stitches_only_what_the_earlier_panel_displaces(engines, monkeypatch):
    engine = engines("qwen_image_21", "anchor")
    refs = numbered(10)
    assert engine.check(plan(1), refs) == []  # one panel: no earlier panel, ten slots for ten references
    warnings = engine.check(plan(2), refs)
    assert len(warnings) == 1 and "references 9 to 10 are stitched" in warnings[0]
    spy = PipelineSpy(engine, monkeypatch)
    run(engine, plan(2), refs)
    assert spy.counts == [10, 10]  # panel 2: 8 references + 9–10 stitched + panel 1
    assert [im.tobytes() for im in spy.images[1][:8]] == [im.tobytes() for im in refs[:8]]


def test_more_than_five_references_on_joyimage_are_stitched_into_five(engines, monkeypatch):
    engine = engines("joyimage_edit_plus", "independent")
    assert engine.check(plan(2), numbered(5)) == []
    assert "references 5 to 6 are stitched" in engine.check(plan(2), numbered(6))[0]
    spy = PipelineSpy(engine, monkeypatch, key="images")
    run(engine, plan(1), numbered(6))
    assert spy.counts == [1] and len(spy.images[0][0]) == 5  # one sample's list of five references


def test_qwen_image_21_honours_steps_when_the_checkpoint_sets_sample_sigmas(tiny_models, tmp_path):
    """A checkpoint with ``sample_sigmas`` ignores ``num_inference_steps``: their length is the default step
    count, and another ``steps`` reaches the pipeline as an even sigma grid of that length."""
    model = tmp_path / "qwen21-sigmas"
    shutil.copytree(tiny_models["qwen_image_21"], model)
    index = json.loads((model / "model_index.json").read_text())
    index["sample_sigmas"] = [1.0, 0.8, 0.6, 0.4, 0.2]
    (model / "model_index.json").write_text(json.dumps(index))

    def forwards(**options):
        engine = create("diffusion", model=str(model), min_pixels=64 * 64, strategy="independent", **options)
        transformer = engine.load().pipe.transformer
        calls = []
        handle = transformer.register_forward_hook(lambda *a: calls.append(1))
        try:
            run(engine, plan(1), references(1))
        finally:
            handle.remove()
        return engine.load().adapter.default_steps(), len(calls)

    assert forwards() == (5, 5)  # the author's grid
    assert forwards(steps=2) == (5, 2)  # two steps asked for: two transformer passes (no CFG)


def test_new_families_describe_their_licence_and_defaults(engines):
    facts = {f: engines(f).describe() for f in NEW}
    assert facts["flux2_dev"]["default_steps"] == 50 and facts["flux2_dev"]["default_guidance"] == 4.0
    assert "non-commercial" in facts["flux2_dev"]["licence"].lower()
    assert facts["qwen_image_21"]["default_steps"] == 40 and facts["qwen_image_21"]["default_guidance"] == 1.0
    assert facts["joyimage_edit_plus"]["default_steps"] == 30
    assert "shared_attention" in facts["flux2_dev"]["strategies"]
    assert "shared_attention" not in facts["qwen_image_21"]["strategies"]


# --- seqedit models demo ------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", NEW)
def test_models_demo_saves_a_pipeline_the_loader_reads(tmp_path, family):
    from typer.testing import CliRunner

    from seqedit.client.cli import app

    target = tmp_path / "demo"
    r = CliRunner().invoke(app, ["models", "demo", str(target), "--family", family])
    assert r.exit_code == 0, r.output
    assert "noise, not a model" in r.stdout and f"--model {target}" in r.stdout
    info = loader.inspect_model(str(target))
    assert info.adapter.family == family
    engine = create("diffusion", model=str(target), steps=1, min_pixels=64 * 64, strategy="independent")
    assert [im.size for im in run(engine, plan(1), references(1))] == [(64, 64)]


def test_models_demo_refuses_a_non_empty_dir_unless_forced(tmp_path):
    from typer.testing import CliRunner

    from seqedit.client.cli import app

    (tmp_path / "keep.txt").write_text("mine")
    r = CliRunner().invoke(app, ["models", "demo", str(tmp_path)])
    assert r.exit_code == 2 and "exists and is not empty" in r.stderr and "--force" in r.stderr
    assert not (tmp_path / "model_index.json").exists()
    r = CliRunner().invoke(app, ["models", "demo", str(tmp_path), "--force"])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "model_index.json").read_text())["_class_name"] == "Flux2KleinPipeline"
    assert (tmp_path / "keep.txt").read_text() == "mine"  # --force replaces, never deletes


def test_models_demo_names_the_valid_families(tmp_path):
    from typer.testing import CliRunner

    from seqedit.client.cli import app

    r = CliRunner().invoke(app, ["models", "demo", str(tmp_path / "d"), "--family", "sdxl"])
    assert r.exit_code == 2
    assert "--family 'sdxl' is not one of" in r.stderr and all(f in r.stderr for f in FAMILIES)
    assert not (tmp_path / "d").exists()


def test_models_demo_without_the_extra_exits_2(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from seqedit.client.cli import app

    monkeypatch.setitem(sys.modules, "diffusers", None)  # what `import diffusers` sees when it is not installed
    r = CliRunner().invoke(app, ["models", "demo", str(tmp_path / "d")])
    assert r.exit_code == 2
    assert "needs `pip install 'seqedit[diffusion]'` (diffusers is not installed)" in r.stderr
    assert not (tmp_path / "d").exists()
