"""The loader: every family through from_pretrained(dir), and each way a model can fail to load."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from seqedit.engines import EngineError, create  # noqa: E402
from seqedit.engines.diffusion import loader  # noqa: E402
from seqedit.engines.diffusion.errors import DeviceUnavailable, ModelNotFound, NotAPipeline  # noqa: E402
from seqedit.engines.diffusion.tiny import FAMILIES  # noqa: E402


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_loads_through_the_real_loader(tiny_models, family):
    info = loader.inspect_model(str(tiny_models[family]))
    assert info.adapter.family == family
    loaded = loader.load(str(tiny_models[family]), device="cpu")
    assert loaded.adapter.family == family
    assert (loaded.device, loaded.dtype) == ("cpu", "float32")
    assert type(loaded.pipe).__name__ in loaded.adapter.pipeline_classes
    described = loaded.adapter.describe()
    limits = {
        "flux2_klein": 4,
        "flux2_klein_kv": 4,
        "flux2_dev": 6,
        "qwen_image_21": 10,
        "qwen_image_edit_plus": 3,
        "joyimage_edit_plus": 5,
    }
    assert described["reference_limit"] == limits.get(family, 1)


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFound, match="does not exist"):
        loader.load(str(tmp_path / "nope"))


def test_directory_without_model_index_is_not_a_pipeline(tmp_path):
    (tmp_path / "weights.safetensors").write_bytes(b"x")
    with pytest.raises(NotAPipeline, match="no model_index.json"):
        loader.load(str(tmp_path))
    with pytest.raises(NotAPipeline, match="is a file"):
        loader.load(str(tmp_path / "weights.safetensors"))


def test_unsupported_pipeline_class_names_the_supported_ones(tmp_path):
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    with pytest.raises(NotAPipeline, match="Flux2KleinPipeline"):
        loader.load(str(tmp_path))
    (tmp_path / "model_index.json").write_text("not json")
    with pytest.raises(NotAPipeline, match="_class_name"):
        loader.load(str(tmp_path))


def test_hub_id_not_in_the_offline_cache(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFound, match="cache"):
        loader.inspect_model("nobody-here/no-such-model-xyz")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_cuda_without_gpu_is_a_clear_error(tiny_models):
    with pytest.raises(DeviceUnavailable, match="no CUDA GPU"):
        loader.load(str(tiny_models["flux2_klein"]), device="cuda")


def test_bad_options_fail_at_creation_with_a_message():
    with pytest.raises(EngineError, match="unknown strategy"):
        create("diffusion", model="x/y", strategy="telepathy")
    with pytest.raises(EngineError, match="steps must be a positive integer"):
        create("diffusion", model="x/y", steps=0)
    with pytest.raises(EngineError, match="needs a model"):
        create("diffusion")
    with pytest.raises(EngineError, match="unknown dtype"):
        loader.resolve_dtype("float8", "cpu")
    with pytest.raises(DeviceUnavailable, match="unknown device"):
        loader.resolve_device("tpu")


def test_memory_and_attention_options(tiny_models):
    loaded = loader.load(
        str(tiny_models["flux2_klein"]),
        device="cpu",
        dtype="float32",
        vae_tiling=True,
        vae_slicing=True,
        attention_backend="native",
    )
    assert loaded.pipe.vae.use_tiling and loaded.pipe.vae.use_slicing
    with pytest.raises(EngineError, match="attention backend 'warp-drive' unavailable"):
        loader.load(str(tiny_models["flux2_klein"]), device="cpu", attention_backend="warp-drive")
