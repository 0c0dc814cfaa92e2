"""The results page in a real browser: Playwright drives Debian's Chromium against the page the
stack serves. An upload goes through the pipeline while the page watches it without reloading;
it plays from its source as soon as it is playable, long before ready; the ready video plays
(through hls.js, the HLS ladder being on) with its captions, its chapters seek, and its
storyboard shows on the timeline. Screenshots are kept in test-artifacts/ui/."""

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import Locator, Page, expect, sync_playwright

from infra import REPO_ROOT
from infra.clips import make_sample
from infra.local.stack import LOCAL_USER_ID, LocalStack, StackState
from tests.receiver import Endpoint

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
# As root Chromium needs --no-sandbox; the others keep it from reaching for Google's hosts, which
# this machine's closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = REPO_ROOT / "test-artifacts" / "ui"
STEP_TIMEOUT_MS = 180_000  # the whole pipeline on a 36 s 720p clip, with its HLS ladder


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[LocalStack, StackState]]:
    """The stack with its HLS ladder on, and one webhook endpoint of the local user's."""
    local = LocalStack(Path(tempfile.mkdtemp(prefix="vidpipe-ui-")), extra_env={"VIDPIPE_HLS_ENABLED": "true"})
    hook = Endpoint()
    try:
        state = local.up()
        with psycopg.connect(state.database_url, autocommit=True) as conn:
            conn.execute("select create_webhook_endpoint(%s, null, null, %s)", (hook.url, LOCAL_USER_ID))
        yield local, state
    finally:
        hook.close()
        local.destroy()


@pytest.fixture(scope="module")
def sample() -> Path:
    return make_sample(Path(tempfile.mkdtemp(prefix="vidpipe-ui-clip-")) / "three scenes.mp4")


@pytest.fixture
def page(stack) -> Iterator[Page]:
    local, state = stack
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        # a refused resource or a policy violation (hls.js's worker, a blob: source) is logged as one
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(local.ui_address(state))
        expect(page.locator("#live")).to_have_text("live")
        yield page
        browser.close()
        assert errors == [], errors  # no script error, refused load or policy violation on the way


def test_vidpipe_ui_prints_the_pages_address(stack):
    local, state = stack
    printed = subprocess.run(
        [sys.executable, "-m", "infra.cli", "ui"],
        env={**os.environ, "VIDPIPE_HOME": str(local.home)},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert printed == local.ui_address(state) and printed.startswith(state.ui_url + "?key=")


def uploaded_row(page: Page, name: str) -> Locator:
    """The list's row of the upload just made, found by its storage object (its title changes)."""
    pending = page.locator(".video", has_text=name)
    expect(pending).to_have_count(1)
    return page.locator(f'.video[data-object-id="{pending.get_attribute("data-object-id")}"]')


def player(page: Page, expression: str) -> object:
    """`expression` of the player `v`, evaluated in the page (as a function: the page's policy
    allows no eval)."""
    return page.evaluate(f"() => {{ const v = document.getElementById('player'); return {expression}; }}")


def until(page: Page, condition: str) -> None:
    """Wait until `condition` of the player `v` holds."""
    page.wait_for_function(f"() => {{ const v = document.getElementById('player'); return {condition}; }}")


def test_an_upload_is_followed_live_then_plays_with_captions_chapters_and_storyboard(page, sample):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_input_files("#file", str(sample))
    expect(page.locator("#upload-note")).to_have_text("three scenes.mp4 uploaded")
    expect(page.locator("#progress")).to_have_attribute("value", "100")
    row = uploaded_row(page, "three_scenes.mp4")

    # The job appears and moves with no reload; open it while it is still on its way.
    expect(row).not_to_have_attribute("data-video-id", "", timeout=30_000)
    row.locator("a").click()
    expect(page.locator("#summary")).to_contain_text("three_scenes.mp4")
    status = row.locator(".status")

    # Playable long before ready: the source, packaged as HLS without decoding, plays meanwhile.
    early = page.locator('#player[data-kind="source_hls"]')
    expect(early).to_have_attribute("data-source", "hls.js", timeout=STEP_TIMEOUT_MS)
    assert status.text_content() != "ready"
    player(page, "(v.muted = true, v.play(), true)")
    until(page, "v.currentTime > 1")
    page.screenshot(path=SHOTS / "in-progress.png", full_page=True)
    loads = page.evaluate("performance.getEntriesByType('navigation').length")
    expect(status).to_have_text("ready", timeout=STEP_TIMEOUT_MS)
    assert page.evaluate("performance.getEntriesByType('navigation').length") == loads  # not reloaded

    # The ready page: the master playlist (the source's, the proxy's and the ladder's HLS) through
    # hls.js, captions as a track that shows.
    expect(page.locator("#player")).to_have_attribute("data-source", "hls.js")
    expect(page.locator("#player")).to_have_attribute("data-kind", "playback")
    player(page, "(v.muted = true, v.play(), true)")
    until(page, "v.currentTime > 1.5")
    until(page, "v.textTracks[0]?.mode === 'showing' && v.textTracks[0].activeCues?.length > 0")
    cue = player(page, "v.textTracks[0].activeCues[0].text")
    assert isinstance(cue, str) and cue.strip()
    page.screenshot(path=SHOTS / "ready.png", full_page=True)

    # Chapters seek: the third starts at 24 s.
    chapters = page.locator("#chapters .chapter")
    expect(chapters).to_have_count(3)
    start = float(chapters.nth(2).get_attribute("data-start") or "nan")
    assert 20 <= start <= 26
    chapters.nth(2).click()
    until(page, f"Math.abs(v.currentTime - {start}) < 1.5")

    # The storyboard: hovering three quarters along the timeline shows that moment's tile.
    timeline = page.locator("#timeline")
    box = timeline.bounding_box()
    assert box is not None
    timeline.hover(position={"x": box["width"] * 0.75, "y": box["height"] / 2})
    tile = page.locator("#storyboard-tile")
    expect(tile).to_be_visible()
    style = tile.evaluate("t => [getComputedStyle(t).backgroundImage, t.style.backgroundPosition, t.textContent]")
    assert "sprite" in style[0] and style[1] != "-0px -0px" and style[2] == "0:27"
    page.screenshot(path=SHOTS / "storyboard.png", full_page=True)

    # A word of the transcript seeks to where it is said.
    word = page.locator("#transcript .word").nth(10)
    said_at = float(word.get_attribute("data-start") or "nan")
    word.click()
    until(page, f"Math.abs(v.currentTime - {said_at}) < 1")
    expect(page.locator("#keywords li").first).to_be_visible()
    expect(page.locator("#technical")).to_contain_text("h264")
    expect(page.locator("#loudness")).to_contain_text("LUFS")

    # Its announcements, as the endpoint took them: shown as they are delivered.
    ready_delivery = page.locator(".delivery", has_text="video.ready")
    expect(ready_delivery).to_contain_text("delivered")
    expect(ready_delivery).to_contain_text("HTTP 204")
    expect(page.locator(".delivery")).to_have_count(4)  # ingested, playable, processed, ready


def test_a_failed_upload_shows_its_reason_and_can_be_retried(page):
    """Dropped on the page, as a person drags a file from their desktop."""
    page.evaluate(
        """([name, text]) => {
             const files = new DataTransfer();
             files.items.add(new File([text], name, { type: "video/mp4" }));
             document.getElementById("drop").dispatchEvent(
               new DragEvent("drop", { dataTransfer: files, bubbles: true, cancelable: true }));
           }""",
        ["notes.mp4", "this is not a video\n" * 100],
    )
    row = uploaded_row(page, "notes.mp4")
    expect(row.locator(".status")).to_have_text("failed", timeout=60_000)
    row.locator("a").click()
    expect(page.locator("#reason")).to_have_text("not_a_video")
    expect(page.locator("#message")).not_to_be_empty()
    page.locator("#retry").click()
    # Ingest checks the upload again and fails it again, announced as a new attempt.
    expect(page.locator("#summary")).to_contain_text("retries: 1", timeout=60_000)
    expect(page.locator("#reason")).to_have_text("not_a_video")
    expect(page.locator("#history")).to_contain_text("retry requested")
