"""The speed and memory options reach the pipeline: the cache hooks, quantization_config, the offload
hooks, the compiled blocks and the LoRA adapters, each seen on the loaded pipeline (its hooks' own state)
or by a spy; every cache runs a tiny set end to end; bad values are OptionErrors, and one stops a real
``seqedit serve`` at start with exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")

import numpy as np  # noqa: E402

from seqedit.engines import OptionError, create  # noqa: E402
from seqedit.engines.base import NullProgress  # noqa: E402
from seqedit.engines.diffusion import loader, speed  # noqa: E402
from seqedit.engines.diffusion.tiny import references  # noqa: E402
from seqedit.plan import make_plan  # noqa: E402
from seqedit.request import EditRequest  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SEQEDIT = Path(sys.executable).with_name("seqedit")


def plan(n: int = 2):
    return make_plan(EditRequest.create(prompt="a mug", images=["r"], size="64*64", max_images=n, seed=5))


def run(engine, n: int = 2) -> list[np.ndarray]:
    return [np.asarray(im) for im in engine.generate(plan(n), references(1), NullProgress())]


def hooks(module) -> set[str]:
    """Names of the diffusers hooks on ``module`` and every submodule."""
    names: set[str] = set()
    for sub in module.modules():
        registry = getattr(sub, "_diffusers_hook", None)
        if registry is not None:
            names.update(registry.hooks)
    return names


# --- cache -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "family, cache, extra, hook",
    [
        ("qwen_image_edit_plus", "first_block", {"cache_threshold": 0.2}, "fbc_leader_block_hook"),
        ("qwen_image_edit_plus", "taylorseer", {"cache_interval": 2, "cache_warmup": 1}, "taylorseer_cache"),
        ("qwen_image_edit_plus", "magcache", {"cache_ratios": "1.0,1.1,1.05,1.0"}, "mag_cache_leader_block_hook"),
        ("flux2_klein", "taylorseer", {}, "taylorseer_cache"),
        ("flux2_klein", "magcache", {"cache_ratios": "flux"}, "mag_cache_leader_block_hook"),
        ("flux_kontext", "magcache", {"cache_ratios": "flux"}, "mag_cache_leader_block_hook"),
        ("flux_kontext", "first_block", {}, "fbc_leader_block_hook"),  # its calls are named by speed.name_calls
        ("flux_kontext", "taylorseer", {}, "taylorseer_cache"),
        ("flux2_klein_kv", "taylorseer", {}, "taylorseer_cache"),
    ],
)
def test_each_cache_hooks_the_transformer_and_runs_a_set(engines, family, cache, extra, hook):
    engine = engines(family, cache=cache, steps=4, **extra)
    transformer = engine.adapter.transformer
    assert hook in hooks(transformer)
    assert type(transformer._cache_config).__name__.lower().startswith(cache.replace("_", ""))
    images = run(engine)
    assert len(images) == 2 and images[0].shape == (64, 64, 3)
    if cache == "magcache":
        assert transformer._cache_config.num_inference_steps == 4  # the run's steps, for the ratios


def test_magcache_with_the_same_steps_as_none_differs_only_by_what_it_skips(engines):
    plain = run(engines("qwen_image_edit_plus", steps=6))
    exact = run(engines("qwen_image_edit_plus", steps=6, cache="magcache", cache_ratios="calibrate"))
    assert all(np.array_equal(a, b) for a, b in zip(plain, exact, strict=True))  # calibration skips nothing


class CancelAfter(NullProgress):
    def __init__(self, reports: int) -> None:
        super().__init__()
        self.left = reports

    def report(self, fraction: float, message: str = "") -> None:
        self.left -= 1

    def cancelled(self) -> bool:
        return self.left <= 0


@pytest.mark.parametrize("cache, extra", [("magcache", {"cache_ratios": "flux"}), ("taylorseer", {"cache_warmup": 1})])
def test_a_cancelled_run_leaves_no_cache_state_for_the_next(engines, cache, extra):
    from seqedit.engines.base import Cancelled

    engine = engines("qwen_image_edit_plus", strategy="independent", steps=6, cache=cache, **extra)
    before = run(engine, 1)
    with pytest.raises(Cancelled):
        list(engine.generate(plan(1), references(1), CancelAfter(3)))  # stops after step 3 of 6
    after = run(engine, 1)
    assert np.array_equal(before[0], after[0])


@pytest.mark.parametrize("family", ["qwen_image_edit_plus", "flux_kontext"])
def test_first_block_cache_with_a_huge_threshold_skips_the_other_blocks(engines, family):
    """After the first step every step is "close enough": the last block's attention stops running."""
    counts = {}
    for cache, extra in (("none", {}), ("first_block", {"cache_threshold": 1e6})):
        engine = engines(family, strategy="independent", steps=4, cache=cache, **extra)
        last = speed._blocks(engine.adapter.transformer)[-1]
        calls = []  # the block itself is still called (its hook answers); its attention is what is skipped
        handle = last.attn.register_forward_pre_hook(lambda *a, seen=calls: seen.append(1))
        try:
            images = run(engine, 1)
        finally:
            handle.remove()
        counts[cache] = len(calls)
        assert len(images) == 1
    assert counts["none"] >= 4 and counts["first_block"] < counts["none"], counts


@pytest.mark.parametrize(
    "family, cache, message",
    [
        ("instruct_pix2pix", "first_block", "cache=first_block needs a transformer denoiser"),
        ("flux2_klein", "first_block", "first-block cache cannot run Flux2Transformer2DModel"),
    ],
)
def test_a_cache_the_family_cannot_take_is_an_option_error(tiny_models, family, cache, message):
    with pytest.raises(OptionError, match=message) as caught:
        create("diffusion", model=str(tiny_models[family]), cache=cache, min_pixels=64 * 64).load()
    assert caught.value.option == "cache"


# --- bad values at build time -----------------------------------------------------------------
@pytest.mark.parametrize(
    "options, option, message",
    [
        ({"cache": "bogus"}, "cache", "unknown cache 'bogus'; choose one of none, first_block, taylorseer, magcache"),
        ({"offload": "disk"}, "offload", "unknown offload 'disk'; choose one of none, model, group, sequential"),
        ({"compile": "max"}, "compile", "unknown compile 'max'; choose one of none, regional, full"),
        ({"quantize": "int3"}, "quantize", "unknown quantize 'int3'; choose one of none, bnb_4bit"),
        ({"quantize": "bnb_4bit"}, "quantize", r"quantize=bnb_4bit needs the bitsandbytes package.*pip install"),
        ({"quantize": "torchao_int8wo"}, "quantize", r"needs the torchao package"),
        ({"cache": "magcache"}, "cache_ratios", "cache=magcache needs cache_ratios"),
        ({"cache": "magcache", "cache_ratios": "1.0,x"}, "cache_ratios", "cache_ratios must be flux, calibrate"),
        ({"lora": "/nowhere/a.safetensors"}, "lora", "lora file /nowhere/a.safetensors does not exist"),
        ({"lora_steps": 0}, "lora_steps", "lora_steps must be a positive integer"),
        ({"quantize_components": "vae,nothing"}, "quantize_components", "has no nothing; its components"),
        ({"offload_group_blocks": 0}, "offload_group_blocks", "offload_group_blocks must be an integer ≥ 1"),
    ],
)
def test_a_bad_speed_option_is_an_option_error_naming_it(tiny_models, options, option, message):
    if options.get("quantize", "").startswith("bnb") and __import__("importlib").util.find_spec("bitsandbytes"):
        pytest.skip("bitsandbytes is installed here")
    if options.get("quantize", "").startswith("torchao") and __import__("importlib").util.find_spec("torchao"):
        pytest.skip("torchao is installed here")
    with pytest.raises(OptionError, match=message) as caught:
        create("diffusion", model=str(tiny_models["flux2_klein"]), **options)
    assert caught.value.option == option


def test_offload_true_and_false_still_mean_model_and_none(tiny_models):
    model = str(tiny_models["flux2_klein"])
    assert create("diffusion", model=model, offload=True).options.offload == "model"
    assert create("diffusion", model=model, offload="false").options.offload == "none"
    assert create("diffusion", model=model, offload="group").options.offload == "group"


# --- quantize ---------------------------------------------------------------------------------
def test_quantize_reaches_from_pretrained_as_a_pipeline_quantization_config(tiny_models, monkeypatch):
    import diffusers

    real_find_spec = speed.importlib.util.find_spec
    monkeypatch.setattr(
        speed.importlib.util, "find_spec", lambda name, *a: object() if name == "bitsandbytes" else real_find_spec(name)
    )
    seen = {}
    cls = diffusers.Flux2KleinPipeline
    real = cls.from_pretrained.__func__

    def spy(klass, *args, **kwargs):
        seen.update(kwargs)
        kwargs.pop("quantization_config")  # no bitsandbytes here: load the plain weights after the look
        return real(klass, *args, **kwargs)

    monkeypatch.setattr(cls, "from_pretrained", classmethod(spy))
    engine = create("diffusion", model=str(tiny_models["flux2_klein"]), quantize="bnb_4bit", steps=1)
    loaded = loader.load(engine.model, **{**engine._load_options})
    config = seen["quantization_config"]
    assert isinstance(config, diffusers.PipelineQuantizationConfig)
    assert config.quant_backend == "bitsandbytes_4bit" and config.components_to_quantize == ["transformer"]
    assert config.quant_kwargs["load_in_4bit"] is True and config.quant_kwargs["bnb_4bit_quant_type"] == "nf4"
    assert loaded.pipe is not None
    assert engine.describe()["speed"]["quantize"] == "bnb_4bit"


# --- offload ----------------------------------------------------------------------------------
def test_offload_is_ignored_on_cpu_and_recorded_as_none(tiny_models):
    engine = create("diffusion", model=str(tiny_models["flux_kontext"]), offload="sequential", device="cpu")
    assert engine.load().offload == "none" and engine.describe()["offload"] == "none"


def test_group_offload_installs_diffusers_group_hooks(tiny_models):
    loaded = loader.load(str(tiny_models["flux2_klein"]), device="cpu")
    speed.offload(loaded.pipe, "group", "cpu", speed.Speed(offload_group_type="block_level", offload_group_blocks=1))
    assert "group_offloading" in hooks(loaded.pipe.transformer)
    assert "group_offloading" in hooks(loaded.pipe.vae)


@pytest.mark.parametrize(
    "kind, method", [("model", "enable_model_cpu_offload"), ("sequential", "enable_sequential_cpu_offload")]
)
def test_model_and_sequential_offload_call_the_pipeline(monkeypatch, kind, method):
    calls = []

    class Pipe:
        def __getattr__(self, name):
            return lambda **kw: calls.append((name, kw))

    speed.offload(Pipe(), kind, "cuda:1", speed.Speed())
    assert calls == [(method, {"device": "cuda:1"})]


# --- compile ----------------------------------------------------------------------------------
def test_regional_compile_wraps_every_repeated_block(tiny_models):
    loaded = loader.load(str(tiny_models["flux2_klein"]), device="cpu", speed=speed.Speed(compile="regional"))
    transformer = loaded.pipe.transformer
    blocks = [m for m in transformer.modules() if type(m).__name__ in transformer._repeated_blocks]
    assert blocks and all(b._compiled_call_impl is not None for b in blocks)
    assert transformer._compiled_call_impl is None  # only the blocks


def test_full_compile_wraps_the_denoiser_and_runs_with_a_cheap_backend(tiny_models):
    engine = create(
        "diffusion", model=str(tiny_models["instruct_pix2pix"]), compile="full", compile_backend="eager", steps=1
    )
    assert engine.adapter.pipe.unet._compiled_call_impl is not None
    assert len(run(engine, 1)) == 1


# --- lora -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lora_file(tiny_models, tmp_path_factory):
    pytest.importorskip("peft")
    import diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    pipe = diffusers.Flux2KleinPipeline.from_pretrained(str(tiny_models["flux2_klein"]))
    pipe.transformer.add_adapter(
        LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"], init_lora_weights=False)
    )
    out = tmp_path_factory.mktemp("lora")
    diffusers.Flux2KleinPipeline.save_lora_weights(
        out, transformer_lora_layers=get_peft_model_state_dict(pipe.transformer)
    )
    return out / "pytorch_lora_weights.safetensors"


def test_lora_is_loaded_as_an_active_adapter_and_changes_the_output(engines, lora_file):
    plain = run(engines("flux2_klein", strategy="independent"))
    with_lora = engines("flux2_klein", strategy="independent", lora=str(lora_file), lora_scale=1.0)
    assert with_lora.adapter.pipe.get_active_adapters() == ["lora0"]
    changed = run(with_lora)
    assert not np.array_equal(plain[0], changed[0])
    off = run(engines("flux2_klein", strategy="independent", lora=str(lora_file), lora_scale=0.0))
    assert all(np.array_equal(a, b) for a, b in zip(plain, off, strict=True))


def test_lora_steps_is_the_default_step_count(tiny_models, lora_file):
    model = str(tiny_models["flux2_klein"])
    assert create("diffusion", model=model, lora=str(lora_file), lora_steps=8).steps == 8
    assert create("diffusion", model=model, lora=str(lora_file), lora_steps=8, steps=3).steps == 3


# --- serve ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, variables, message",
    [
        ([], {"SEQEDIT_CACHE": "bogus"}, "unknown cache 'bogus'"),
        (["--opt", "quantize=bnb_4bit"], {}, "quantize=bnb_4bit needs the bitsandbytes package"),
        ([], {"SEQEDIT_CACHE": "first_block"}, "cache=first_block needs a transformer denoiser"),
    ],
    ids=["bad-choice", "missing-backend", "unet-cache"],
)
def test_a_bad_speed_option_stops_serve_at_start(tiny_models, tmp_path, args, variables, message):
    if "bnb" in " ".join(args) and __import__("importlib").util.find_spec("bitsandbytes"):
        pytest.skip("bitsandbytes is installed here")
    family = "instruct_pix2pix" if "first_block" in variables.values() else "flux2_klein"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEQEDIT_")}
    env.update(PYTHONPATH=str(ROOT / "src"), HF_HUB_OFFLINE="1", OMP_NUM_THREADS="2", **variables)
    r = subprocess.run(
        [str(SEQEDIT), "serve", "--port", "0", "--data-dir", str(tmp_path), "--engine", "diffusion"]
        + ["--model", str(tiny_models[family]), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr


# --- scripts/gpu-check ------------------------------------------------------------------------
def test_gpu_check_quick_runs_the_cpu_subset_and_prints_the_table(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEQEDIT_")}
    env.update(PYTHON=sys.executable, PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS="2")
    r = subprocess.run(
        [str(ROOT / "scripts" / "gpu-check"), "--quick", "--families", "instruct_pix2pix", "--cases", "plain,lora"]
        + ["--steps", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    rows = [line.split() for line in r.stdout.splitlines() if line.startswith("instruct_pix2pix")]
    assert [row[:3] for row in rows] == [["instruct_pix2pix", "plain", "ok"], ["instruct_pix2pix", "lora", "ok"]]
    assert "2 ok, 0 failed, 0 skipped" in r.stdout


def test_gpu_check_exits_non_zero_when_a_case_fails(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEQEDIT_")}
    env.update(PYTHON=sys.executable, PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS="2")
    r = subprocess.run(
        [str(ROOT / "scripts" / "gpu-check"), "--families", "instruct_pix2pix", "--cases", "plain,compile=full"]
        + ["--opt", "compile_backend=no_such_backend", "--steps", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert r.returncode == 1, r.stdout + r.stderr
    rows = {line.split()[1]: line for line in r.stdout.splitlines() if line.startswith("instruct_pix2pix")}
    assert rows["plain"].split()[2] == "ok" and rows["compile=full"].split()[2] == "failed"
    assert "no_such_backend" in rows["compile=full"] and "1 ok, 1 failed" in r.stdout
