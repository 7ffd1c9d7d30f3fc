"""The shared-anchor processors are the stock ones plus sharing: alone they change nothing, in a batch
they leave the anchor alone and change the others, and they are always removed afterwards."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from seqedit.engines.diffusion.attention import shared_anchor, supports_shared_anchor  # noqa: E402
from seqedit.engines.diffusion.tiny import build_flux2_klein, build_flux_kontext, eval_mode  # noqa: E402


def _kontext(pipe, prompts, shared):
    from seqedit.engines.diffusion.tiny import references

    kwargs = dict(
        prompt=prompts,
        image=references(1)[0],
        height=64,
        width=64,
        max_area=64 * 64,
        _auto_resize=False,
        num_inference_steps=2,
        output_type="np",
        generator=[torch.Generator("cpu").manual_seed(i) for i in range(len(prompts))],
    )
    if shared:
        with shared_anchor(pipe.transformer):
            return pipe(**kwargs).images
    return pipe(**kwargs).images


def _klein(pipe, prompts, shared):
    kwargs = dict(
        prompt=prompts,
        height=64,
        width=64,
        num_inference_steps=2,
        output_type="np",
        text_encoder_out_layers=(1,),
        generator=[torch.Generator("cpu").manual_seed(i) for i in range(len(prompts))],
    )
    if shared:
        with shared_anchor(pipe.transformer):
            return pipe(**kwargs).images
    return pipe(**kwargs).images


@pytest.mark.parametrize("build, call", [(build_flux_kontext, _kontext), (build_flux2_klein, _klein)])
def test_shared_anchor_processors(build, call):
    pipe = eval_mode(build())
    assert supports_shared_anchor(pipe.transformer)
    stock = {name: type(p) for name, p in pipe.transformer.attn_processors.items()}

    one = ["a red mug"]
    assert (call(pipe, one, True) == call(pipe, one, False)).all()  # alone: exactly the stock computation

    three = ["a red mug", "a red mug in a kitchen", "a red mug outdoors"]
    plain, shared = call(pipe, three, False), call(pipe, three, True)
    assert abs(plain[0] - shared[0]).max() < 1e-5  # the anchor only attends to itself
    assert abs(plain[1:] - shared[1:]).max() > 1e-4  # the others also attend to the anchor

    assert {name: type(p) for name, p in pipe.transformer.attn_processors.items()} == stock


def test_unknown_processors_are_refused():
    from seqedit.engines.diffusion.tiny import build_instruct_pix2pix

    unet = build_instruct_pix2pix().unet
    assert not supports_shared_anchor(unet)
    with pytest.raises(TypeError, match="no shared-anchor version"):
        with shared_anchor(unet):
            pass
