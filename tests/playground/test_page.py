"""The playground page in Debian's Chromium against a real ``seqedit serve`` (classic engine): sign-in
through the printed URL, drag-and-drop, the plan preview, a run with progress, downloads (one image and
the zip, pixel sizes checked), a server error beside its field, the examples gallery, history, and no
request to any host but the server (the context's route guard, checked after every test)."""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path
from typing import Any

from PIL import Image

from fixtures.server import Server

from .conftest import new_context, screenshot, signin_url

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SUPPORTED = "3 versions: black and white, sepia and cold blue"  # looks: the classic engine does them on any photo
GENERATIVE = "add a dog next to the mug"


def drop(page: Any, *paths: Path) -> None:
    """A real drop event on the dropzone carrying ``paths`` as files (as a user's drag from the desktop)."""
    files = [{"name": p.name, "b64": base64.b64encode(p.read_bytes()).decode(), "type": _type(p)} for p in paths]
    transfer = page.evaluate_handle(
        """(files) => {
            const dt = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
                dt.items.add(new File([bytes], f.name, { type: f.type }));
            }
            return dt;
        }""",
        files,
    )
    page.dispatch_event("#dropzone", "dragenter", {"dataTransfer": transfer})
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": transfer})


def _type(path: Path) -> str:
    return "image/png" if path.suffix == ".png" else "image/jpeg"


def uploaded(page: Any, n: int) -> None:
    page.wait_for_function(
        "(n) => document.querySelectorAll('#thumbs .thumb').length === n"
        " && !document.querySelector('#thumbs .thumb.uploading')",
        arg=n,
        timeout=30_000,
    )


def plan_settled(page: Any) -> None:
    page.wait_for_function(
        "() => !['planning…', 'waiting for input'].includes(document.getElementById('plan-state').textContent)",
        timeout=30_000,
    )


def test_sign_in_through_the_printed_url(browser: Any, server: Server, shots: Path) -> None:
    context, guard = new_context(browser, server)
    page = context.new_page()
    url = signin_url(server)
    token = url.split("token=", 1)[1]
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    assert page.url == server.url + "/", "the token is removed from the URL after the exchange"
    assert page.locator("#key-label").inner_text().endswith("…")
    cookie = next(c for c in context.cookies() if c["name"] == "seqedit_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert page.evaluate("document.cookie") == "", "the session cookie is not readable by scripts"
    html = page.content()
    assert server.key and server.key not in html and token not in html
    assert all(token not in u for u in guard.seen if "/?token=" not in u), "the token travels in no later URL"
    screenshot(page, shots, "01-signed-in")
    context.close()

    # the link works once: a second browser gets the sign-in screen with the reason
    other, _ = new_context(browser, server)
    again = other.new_page()
    again.goto(url)
    again.wait_for_selector("#signin:not([hidden])")
    assert "already used" in again.locator("#signin-error").inner_text()
    assert again.url == server.url + "/"
    screenshot(again, shots, "00-sign-in")
    other.close()


def test_drop_two_files_then_the_plan_refuses_a_generative_prompt_and_shows_supported_panels(
    page: Any, shots: Path
) -> None:
    drop(page, EXAMPLES / "coffee.jpg", EXAMPLES / "sneaker.png")
    uploaded(page, 2)
    assert page.locator("#images-count").inner_text().startswith("2 /")
    page.fill("#prompt", GENERATIVE)
    page.wait_for_selector("#plan-refusal:not([hidden])", timeout=30_000)
    refusal = page.locator("#plan-refusal").inner_text()
    assert "cannot do this" in refusal and "add a dog" in refusal and "--engine diffusion" in refusal
    assert page.locator("#plan-state").inner_text() == "refused"
    screenshot(page, shots, "02-plan-refusal")
    # Generate on a refused plan: the server's 400 lands beside the prompt, and no task is created
    page.get_by_role("button", name="Generate").click()
    page.wait_for_function("() => document.getElementById('error-prompt').textContent !== ''")
    assert "add a dog" in page.locator("#error-prompt").inner_text()
    assert page.locator("#status").inner_text() == "Idle"

    page.fill("#prompt", SUPPORTED)
    page.fill("#max_images", "3")
    page.dispatch_event("#max_images", "input")
    page.wait_for_function("() => document.getElementById('plan-state').textContent.startsWith('3 panels')")
    assert page.locator("#plan-refusal").is_hidden()
    panels = page.locator("#plan-panels .panel:not(.shared)")
    assert panels.count() == 3
    assert [panels.nth(i).locator(".panel-text").inner_text() for i in range(3)] == [
        "black and white",
        "sepia",
        "cold blue",
    ]
    assert page.locator("#plan-panels .verdict.supported").count() >= 3
    assert page.locator("#price").inner_text() == "$0.081"

    # remove one reference with its button (keyboard: the button is focusable and labelled)
    page.get_by_role("button", name="Remove reference 2 (sneaker.png)").press("Enter")
    uploaded(page, 1)
    screenshot(page, shots, "03-plan-panels")


def test_count_hint_when_the_prompt_states_another_count(page: Any) -> None:
    page.set_input_files("#file-input", [str(EXAMPLES / "coffee.jpg")])
    uploaded(page, 1)
    page.fill("#prompt", "4 versions: black and white, sepia, cold blue and warm")
    page.fill("#max_images", "2")
    page.dispatch_event("#max_images", "input")
    page.wait_for_selector("#count-hint:not([hidden])", timeout=30_000)
    assert "asks for 4 images; max_images is 2" in page.locator("#count-hint").inner_text()
    page.get_by_role("button", name="Use 4").click()
    assert page.input_value("#max_images") == "4"
    page.wait_for_selector("#count-hint[hidden]", state="attached", timeout=30_000)


def run_set(page: Any, n: int = 3, size: str = "384*256") -> list[str]:
    page.set_input_files("#file-input", [str(EXAMPLES / "coffee.jpg")])
    uploaded(page, 1)
    page.fill("#prompt", SUPPORTED)
    page.fill("#max_images", str(n))
    page.dispatch_event("#max_images", "input")
    page.select_option("#size", size)
    plan_settled(page)
    # record every status line and progress state the page shows while the task runs
    page.evaluate(
        """() => {
            window.__seen = [];
            const note = () => window.__seen.push([document.getElementById('status').textContent,
                document.querySelectorAll('#progress-cells li.done').length,
                document.querySelectorAll('#progress-cells li').length]);
            new MutationObserver(note).observe(document.getElementById('output'),
                { subtree: true, childList: true, characterData: true, attributes: true });
        }"""
    )
    page.get_by_role("button", name="Generate").click()
    page.wait_for_function(
        "() => document.getElementById('status').textContent.startsWith('Completed')", timeout=120_000
    )
    seen = page.evaluate("window.__seen")
    statuses = [s for s, _done, _total in seen]
    assert any(s.startswith(("Queued", "Processing")) for s in statuses), statuses
    assert all(total == n for _s, _done, total in seen if total), "one progress cell per panel"
    assert page.locator("#progress-cells li.done").count() == n
    return statuses


def test_submit_shows_progress_then_n_results_and_downloads_one_and_the_zip(page: Any, shots: Path) -> None:
    run_set(page, 3, "384*256")
    results = page.locator("#gallery .result")
    assert results.count() == 3
    page.wait_for_function("() => [...document.querySelectorAll('#gallery img')].every((i) => i.complete)")
    screenshot(page, shots, "04-results")

    with page.expect_download() as one:
        page.get_by_role("link", name="Download panel 2").click()
    path = one.value.path()
    assert one.value.suggested_filename.endswith("-2.jpg")
    with Image.open(path) as im:
        assert im.size == (384, 256)

    with page.expect_download() as whole:
        page.get_by_role("button", name="Download all (.zip)").click()
    assert whole.value.suggested_filename.endswith(".zip")
    with zipfile.ZipFile(whole.value.path()) as z:
        assert z.testzip() is None, "every CRC in the archive is right"
        names = z.namelist()
        assert len(names) == 3 and [n.rsplit("-", 1)[1] for n in names] == ["1.jpg", "2.jpg", "3.jpg"]
        for name in names:
            with Image.open(io.BytesIO(z.read(name))) as im:
                assert im.size == (384, 256)

    # the full-size view opens as a dialog, and Escape closes it
    page.get_by_role("button", name="View panel 1 full size").click()
    page.wait_for_selector("#viewer[open]")
    page.wait_for_function("() => document.getElementById('viewer-image').naturalWidth === 384")
    screenshot(page, shots, "05-viewer")
    page.keyboard.press("Escape")
    page.wait_for_selector("#viewer:not([open])", state="attached")


def test_an_invalid_size_shows_the_servers_error_beside_the_field(page: Any, shots: Path) -> None:
    page.set_input_files("#file-input", [str(EXAMPLES / "coffee.jpg")])
    uploaded(page, 1)
    page.fill("#prompt", SUPPORTED)
    page.select_option("#size", "custom")
    page.fill("#width", "10")
    page.fill("#height", "512")
    page.wait_for_function("() => document.getElementById('error-size').textContent !== ''", timeout=30_000)
    message = page.locator("#error-size").inner_text()
    assert message == "size: width 10 is outside 64-8192 (limit: each side 64-8192 px)"
    assert "invalid" in (page.locator("#field-size").get_attribute("class") or "")
    # Generate answers the same 400, beside the same field, and creates nothing
    page.get_by_role("button", name="Generate").click()
    page.wait_for_function("() => document.getElementById('status').textContent === 'Idle'")
    assert page.locator("#error-size").inner_text() == message
    assert page.locator("#gallery .result").count() == 0
    screenshot(page, shots, "06-size-error")


def test_the_examples_gallery_fills_the_form_and_says_what_the_engine_cannot_do(page: Any, shots: Path) -> None:
    page.wait_for_function("() => document.querySelectorAll('#example-grid .example').length >= 4")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.example-verdict')].every((e) => !e.textContent.startsWith('checking'))",
        timeout=60_000,
    )
    shoe = page.locator(".example[data-example='shoe-colorway']")
    assert "SUPPORTED" in shoe.locator(".example-verdict").inner_text().upper()
    ages = page.locator(".example[data-example='ages'] .example-verdict").inner_text()
    assert "cannot do this" in ages and "the diffusion engine can" in ages
    screenshot(page, shots, "07-examples")

    page.get_by_role("button", name="Use the example Product colourways").click()
    uploaded(page, 1)
    prompt = (EXAMPLES / "prompts" / "shoe-colorway.txt").read_text(encoding="utf-8").strip()
    assert page.input_value("#prompt") == prompt
    assert page.input_value("#max_images") == "4"
    assert page.input_value("#size") == "1024*1024"
    assert page.locator("#thumbs img").first.get_attribute("alt") == "Reference 1: sneaker.png"
    page.wait_for_function("() => document.getElementById('plan-state').textContent.startsWith('4 panels')")
    texts = page.locator("#plan-panels .panel:not(.shared) .panel-text").all_inner_texts()
    assert texts[0] == "classic white + black swoosh" and len(texts) == 4


def test_history_reopens_a_past_set(page: Any, shots: Path) -> None:
    run_set(page, 2, "256*384")
    first = page.locator("#gallery img").evaluate_all("(imgs) => imgs.map((i) => i.src)")
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector("#history-list .history-item")
    assert page.locator("#gallery .result").count() == 0
    item = page.locator("#history-list .history-item").first
    assert SUPPORTED in item.inner_text()
    item.get_by_role("button", name="Open").click()
    page.wait_for_function("() => document.querySelectorAll('#gallery .result').length === 2")
    again = page.locator("#gallery img").evaluate_all("(imgs) => imgs.map((i) => i.src)")
    strip = lambda url: url.split("?")[0]  # noqa: E731 - the same files; the signature may be re-issued
    assert [strip(u) for u in again] == [strip(u) for u in first]
    assert page.locator("#status").inner_text().startswith("Completed")
    screenshot(page, shots, "08-history")
    # "Use settings" puts the past request back in the form: prompt, count, size, seed, references
    seed = page.locator("#result-info").inner_text().split("seed ")[1].split(" ")[0]
    item.get_by_role("button", name="Use settings").click()
    assert page.input_value("#prompt") == SUPPORTED
    assert page.input_value("#max_images") == "2" and page.input_value("#size") == "256*384"
    assert page.input_value("#seed") == seed
    assert page.locator("#thumbs .thumb").count() == 1
    page.wait_for_function("() => document.getElementById('plan-state').textContent.startsWith('2 panels')")


def test_base64_and_sync_toggles_return_the_set_inline(page: Any) -> None:
    page.set_input_files("#file-input", [str(EXAMPLES / "coffee.jpg")])
    uploaded(page, 1)
    page.fill("#prompt", SUPPORTED)
    page.fill("#max_images", "3")
    page.dispatch_event("#max_images", "input")
    page.select_option("#size", "320*320")
    page.locator("label[for='base64']").click()
    page.locator("label[for='sync']").click()
    assert page.is_checked("#base64") and page.is_checked("#sync")
    page.get_by_role("button", name="Generate").click()
    page.wait_for_function(
        "() => document.getElementById('status').textContent.startsWith('Completed')", timeout=120_000
    )
    srcs = page.locator("#gallery img").evaluate_all("(imgs) => imgs.map((i) => i.src)")
    assert len(srcs) == 3 and all(s.startswith("data:image/jpeg;base64,") for s in srcs)


def test_the_page_is_usable_at_phone_width(page: Any) -> None:
    choosers: list[Any] = []
    page.on(
        "filechooser", lambda chooser: choosers.append(chooser)
    )  # early: Playwright turns on file-chooser interception asynchronously
    page.set_viewport_size({"width": 375, "height": 812})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page scrolls sideways at 375 px ({width} px wide)"
    for label in ("Prompt *", "max_images", "Size", "Seed", "W", "H", "enable_base64_output", "enable_sync_mode"):
        assert page.get_by_label(label, exact=True).count() == 1, f"no control labelled {label!r}"
    assert page.locator("#generate").bounding_box()["width"] > 200, "Generate spans the phone's width"
    # keyboard only: Tab reaches the upload button, and Enter on it opens the file chooser
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "drop-button":
            break
    assert page.evaluate("document.activeElement.id") == "drop-button", "Tab never reached the upload button"
    page.keyboard.press("Enter")
    for _ in range(100):
        if choosers:
            break
        page.wait_for_timeout(100)
    assert choosers, "Enter on the upload button opened no file chooser"
    choosers[0].set_files(str(EXAMPLES / "coffee.jpg"))
    uploaded(page, 1)
