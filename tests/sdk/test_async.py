"""``seqedit.AsyncClient`` against the same real server: the same answers, awaited."""

from __future__ import annotations

import asyncio

import pytest

from seqedit import AsyncClient
from seqedit.sdk import ApiError, Refused, TaskCancelled


def _run(coro):
    return asyncio.run(coro)


def test_async_edit_plan_and_history(server, photos, tmp_path):
    async def main():
        progress = []

        async def on_progress(p):  # a coroutine callback is awaited
            progress.append(p.progress.get("done"))

        async with AsyncClient(server.url, server.key) as client:
            preview = await client.plan({"prompt": "in black and white", "images": photos, "max_images": 2})
            result = await client.edit(
                photos, "two panels: in black and white", 2, size="160*120", on_progress=on_progress
            )
            page = await client.history(page_size=50)
            return preview, result, page, progress

    preview, result, page, progress = _run(main())
    assert preview.supported and preview.count == 2
    assert [im.size for im in result.images] == [(160, 120)] * 2 and len(result.urls) == 2
    assert result.id in [p.id for p in page.items] and progress[-1] == 2
    assert [p.name for p in result.save(tmp_path)] == ["1.jpg", "2.jpg"]


def test_async_errors_and_cancel(server, idle_server, photos):
    async def main():
        async with AsyncClient(server.url, server.key) as client:
            with pytest.raises(Refused):
                await client.edit(photos, "add a dragon flying over them", 1)
            with pytest.raises(ApiError) as info:
                await client.edit(photos, "in black and white", 1, size="1*1")
            assert info.value.field == "size"
        async with AsyncClient(idle_server.url, idle_server.key) as client:
            p = await client.submit({"prompt": "in black and white", "images": photos, "max_images": 3})
            await client.cancel(p.id)
            with pytest.raises(TaskCancelled):
                await client.wait(p.id, timeout=60, poll_interval=0.1)
            # concurrency: several polls at once on one client
            states = await asyncio.gather(*(client.result(p.id) for _ in range(5)))
            return states

    states = _run(main())
    assert {s.status for s in states} == {"cancelled"}
