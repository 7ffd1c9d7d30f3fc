import pytest

from seqedit.errors import RequestError
from seqedit.request import EditRequest, resolve_seed

OK = dict(prompt="make it blue", images=["a.png"])


def make(**kw):
    return EditRequest.create(**{**OK, **kw})


def test_defaults():
    r = make()
    assert r.max_images == 1 and r.size is None and r.seed is None and r.output_format == "jpeg"


@pytest.mark.parametrize(
    "kw, field, limit",
    [
        ({"prompt": ""}, "prompt", "1-10000 characters"),
        ({"prompt": "   "}, "prompt", "1-10000 characters"),
        ({"prompt": None}, "prompt", "1-10000 characters"),
        ({"prompt": "x" * 10_001}, "prompt", "1-10000 characters"),
        ({"images": []}, "images", "1-10 images"),
        ({"images": ["a"] * 11}, "images", "1-10 images"),
        ({"images": "a.png"}, "images", "1-10 images"),
        ({"images": ["a", ""]}, "images[1]", "non-empty string"),
        ({"max_images": 0}, "max_images", "integer 1-15"),
        ({"max_images": 16}, "max_images", "integer 1-15"),
        ({"max_images": "many"}, "max_images", "integer 1-15"),
        ({"max_images": True}, "max_images", "integer 1-15"),
        ({"max_images": 2.5}, "max_images", "integer 1-15"),
        ({"size": "8193*10"}, "size", "each side 64-8192 px"),
        ({"size": "0*0"}, "size", "each side 64-8192 px"),
        ({"size": "abc"}, "size", "format W*H"),
        ({"size": 1024}, "size", "each side 64-8192 px"),
        ({"seed": -2}, "seed", "integer -1-2147483647"),
        ({"seed": 2**31}, "seed", "integer -1-2147483647"),
        ({"output_format": "gif"}, "output_format", "jpeg|png|webp"),
    ],
)
def test_bad_fields_name_field_and_limit(kw, field, limit):
    with pytest.raises(RequestError) as err:
        make(**kw)
    assert err.value.field == field
    assert err.value.limit == limit
    assert field in str(err.value) and limit in str(err.value)


def test_limits_accepted_at_the_edges():
    r = make(
        prompt="x" * 10_000, images=["a"] * 10, max_images=15, size="8192*64", seed=2**31 - 1, output_format="webp"
    )
    assert (r.max_images, str(r.size), r.seed, r.output_format) == (15, "8192*64", 2**31 - 1, "webp")


def test_seed_minus_one_means_random_and_is_resolved():
    assert make(seed=-1).seed is None
    seeds = {resolve_seed(None) for _ in range(20)}
    assert len(seeds) > 1 and all(0 <= s < 2**31 for s in seeds)
    assert resolve_seed(7) == 7


def test_size_accepts_x_and_presets():
    assert str(make(size="1024x768").size) == "1024*768"
    assert str(make(size="16:9@2mp").size) == "1920*1088"
