"""``jobs.runner``: the recorded plan carries what made the set (``edit.provenance``), written before
panel 1 renders, so a set that fails partway records it too."""

from __future__ import annotations

import PIL
from PIL import Image

import seqedit
from fixtures.images import data_uri, png
from seqedit.engines import EngineError, register
from seqedit.jobs.store import Status

from .test_runner import submit


class _Recording:
    """Says what it resolved; fails at panel ``fail_at`` when set."""

    name = "test-provenance"

    def __init__(self, fail_at: int = 0) -> None:
        self.fail_at = fail_at

    def analyse(self, plan):
        return []

    def check(self, plan, refs=None):
        return []

    def provenance(self, plan):
        return {"weights": "w1", "seeds": [plan.seed + k for k in range(plan.count)]}

    def generate(self, plan, refs, progress):
        for k in range(1, plan.count + 1):
            if k == self.fail_at:
                raise EngineError(f"panel {k} broke")
            yield Image.new("RGB", (plan.size.width, plan.size.height), (k * 40, 0, 0))


register("test-provenance", _Recording)
register("test-provenance-failing", lambda: _Recording(fail_at=2))


def test_a_completed_prediction_records_the_engines_provenance(store, runner, settings):
    settings.engine = "test-provenance"
    pid = submit(store, [data_uri(png())], n=3, seed=7)
    assert runner.run(pid) is Status.COMPLETED
    made = store.get(pid)["plan"]["provenance"]
    assert made == {
        "weights": "w1",
        "seeds": [7, 8, 9],
        "engine": "test-provenance",
        "seqedit": seqedit.__version__,
        "pillow": PIL.__version__,
    }
    assert store.get(pid)["plan"]["route"]["engine"] == "test-provenance"  # the rest of the record is kept


def test_an_engine_without_provenance_contributes_nothing_but_the_common_keys(store, runner):
    pid = submit(store, [data_uri(png())], n=1)
    assert runner.run(pid) is Status.COMPLETED
    made = store.get(pid)["plan"]["provenance"]
    assert set(made) == {"engine", "seqedit", "pillow"} and made["engine"] == "test-fast"


def test_a_set_that_fails_partway_still_records_what_made_it(store, runner, settings):
    settings.engine = "test-provenance-failing"
    pid = submit(store, [data_uri(png())], n=3)
    assert runner.run(pid) is Status.FAILED
    row = store.get(pid)
    assert "panel 2 broke" in row["error"]
    assert row["plan"]["provenance"]["weights"] == "w1"
