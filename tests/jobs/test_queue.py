"""``jobs.queue``: a real ``SqliteHuey`` with consumer threads in this process runs the job."""
from __future__ import annotations

import signal
import time

from fixtures.images import data_uri, png
from seqedit.jobs.queue import JobQueue, make_huey


def test_embedded_consumer_runs_enqueued_predictions(tmp_path, store, runner):
    handler_before = signal.getsignal(signal.SIGTERM)
    q = JobQueue(make_huey("", tmp_path), runner.run)
    q.start(workers=2)
    try:
        assert signal.getsignal(signal.SIGTERM) is handler_before  # Huey left our signals alone
        ids = []
        for _ in range(4):
            row, _ = store.create(key_id="k", model="m", input={}, total=2, output_format="jpeg", cost="0",
                                  retention=60, request={"prompt": "p", "images": [data_uri(png())],
                                                         "size": "64*64", "max_images": 2})
            ids.append(row["id"])
            q.enqueue(row["id"])
        q.enqueue(ids[0])  # a duplicate delivery is harmless: the claim refuses it
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(store.get(i)["status"] != "completed" for i in ids):
            time.sleep(0.02)
        assert [store.get(i)["status"] for i in ids] == ["completed"] * 4
        assert all(store.get(i)["attempt"] == 1 for i in ids)
    finally:
        q.stop()
