"""The web console in headless Chromium (Debian's, through Playwright) against the local stack: sign in, submit, the
progress bar advancing, the job completing and its video playing, a failed job reset, another owner's job refused,
the API's validation errors beside the fields, and the page's Content-Security-Policy.

Time is moved, never waited for: the stack runs on manual clocks with the sweep and the store step driven by hand,
and the page on Playwright's fake clock, so the console's own polling timers fire when the test moves time on. Each
step leaves a screenshot in CONSOLE_SCREENSHOTS (default .console-screenshots/, README "Console").
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from local.emulator.scenarios import Scenario
from local.stack import LocalStack, console_address
from tests.client.helpers import Clocks, manual_local_stack
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.e2e

Screenshot = Callable[[str], None]  # the `screenshot` fixture (conftest.py): saves the page as <name>.png

FAILING_PROMPT = "a storm that always fails"
# Manual seconds per step: the console asks again within 5 s while a job moves (Retry-After and its backoff).
STEP_SECONDS = 5
# The test's own API calls wait as long as the page does (conftest.py): a busy machine's cold starts are slow.
API_TIMEOUT_SECONDS = 20


@pytest.fixture(scope="module")
def stack(clocks: Clocks) -> Iterator[LocalStack]:
    with manual_local_stack(clocks) as local:
        assert local.emulator is not None
        local.emulator.add_rule(
            prompt_contains=FAILING_PROMPT, scenario=Scenario(outcome="failed", fail_at_progress=30)
        )
        yield local


def let_time_pass(stack: LocalStack, clocks: Clocks, page: Page, seconds: float = STEP_SECONDS) -> None:
    """Time moves for the provider, the backend and the page alike; the sweep and the store step run as their
    schedule and queue would."""
    clocks.advance(seconds)
    stack.scheduler.run_once()
    stack.store_poller.drain()
    page.clock.run_for(int(seconds * 1000))


def shows(page: Page, condition: str, arg: object = None, within: float = 2.0) -> bool:
    """Whether the page comes to satisfy `condition` (a JS function) within `within` real seconds: the answers the
    console waits for are real requests. (page.wait_for_function would eval the predicate in the page, which the
    console's CSP forbids; page.evaluate runs it through the DevTools protocol.)"""
    deadline = time.monotonic() + within
    while not page.evaluate(condition, arg):
        if time.monotonic() > deadline:
            return False
        page.wait_for_timeout(50)
    return True


def until(stack: LocalStack, clocks: Clocks, page: Page, condition: str, arg: object = None, steps: int = 20) -> None:
    """Moves time a step at a time until the page shows `condition`, which the console's own polling brings about."""
    for _ in range(steps):
        let_time_pass(stack, clocks, page)
        if shows(page, condition, arg):
            return
    raise AssertionError(f"the console never showed {condition} ({arg})")


def sign_in(page: Page, stack: LocalStack, owner: str) -> None:
    """As `make local` offers it: the console's address with the token in the fragment."""
    page.goto(console_address(stack.gateway_url, stack.mint_token(owner)))
    expect(page.get_by_text(f"Signed in as {owner}")).to_be_visible()
    assert "token=" not in page.url  # moved to memory, out of the address bar


def submit(page: Page, prompt: str) -> str:
    page.get_by_label("Prompt").fill(prompt)
    page.get_by_role("button", name="Submit").click()
    row = page.locator("#job-list li").filter(has_text=prompt).first
    expect(row).to_be_visible()
    job_id = row.get_attribute("data-job-id")
    assert job_id
    return job_id


def row_progress(job_id: str) -> str:
    return f"Number(document.querySelector('[data-job-id=\"{job_id}\"] progress').value)"


def row_status(job_id: str) -> str:
    return f"document.querySelector('[data-job-id=\"{job_id}\"]').dataset.status"


def test_a_job_from_sign_in_to_its_video_playing(
    page: Page, stack: LocalStack, clocks: Clocks, owner: str, screenshot: Screenshot
) -> None:
    page.goto(f"{stack.gateway_url}/console")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    screenshot("01-sign-in")

    # From the keyboard alone: the token field has the focus, Tab reaches the button.
    expect(page.get_by_label(re.compile("paste a token"))).to_be_focused()
    page.keyboard.type(stack.mint_token(owner))
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Use this token")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_text(f"Signed in as {owner}")).to_be_visible()
    expect(page.get_by_label("Model")).to_have_value("sora-2")
    screenshot("02-signed-in")

    job_id = submit(page, "A paper boat drifting down a rainy street")
    screenshot("03-submitted")

    seen = [0.0]
    for _ in range(3):  # the bar moves by itself, poll after poll
        until(stack, clocks, page, f"last => {row_progress(job_id)} > last", seen[-1])
        seen.append(page.evaluate(f"() => {row_progress(job_id)}"))
    assert seen == sorted(seen) and 0 < seen[1] < seen[-1] < 100, seen
    screenshot("04-progress")

    until(stack, clocks, page, f"() => {row_status(job_id)} === 'completed'")
    row = page.locator(f'[data-job-id="{job_id}"]')
    expect(row.get_by_text("completed")).to_be_visible()
    expect(row.locator("progress")).to_have_attribute("value", "100")
    screenshot("05-completed")

    row.get_by_role("link").click()
    expect(page.get_by_role("heading", name=f"Job {job_id}")).to_be_visible()
    video = page.locator("#job-video")
    expect(video).to_have_attribute("src", re.compile(r"^http://127\.0\.0\.1:\d+/"))
    video.evaluate("v => { v.muted = true; return v.play(); }")
    assert shows(page, "() => document.querySelector('#job-video').currentTime > 0.5", within=10)
    expect(page.locator("#job-timeline")).to_contain_text("Completed")
    screenshot("06-video-plays")

    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    wider = page.evaluate(
        "() => [...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > innerWidth)"
        ".map(e => e.tagName + '#' + e.id + '.' + e.className)"
    )
    assert wider == []  # nothing to scroll sideways to
    screenshot("06b-on-a-phone")


def test_a_failed_job_is_reset_from_its_page(
    page: Page, stack: LocalStack, clocks: Clocks, owner: str, screenshot: Screenshot
) -> None:
    sign_in(page, stack, owner)
    job_id = submit(page, f"{FAILING_PROMPT}, over the sea")
    until(stack, clocks, page, f"() => {row_status(job_id)} === 'failed'")

    page.locator(f'[data-job-id="{job_id}"]').get_by_role("link").click()
    expect(page.locator("#job-facts")).to_contain_text("failed")
    expect(page.get_by_role("button", name="Cancel")).to_be_disabled()
    screenshot("07-failed")

    page.get_by_role("button", name="Reset").click()
    expect(page.locator("#job-facts")).to_contain_text("reset")
    expect(page.locator("#job-timeline")).to_contain_text("Attempt 1: failed")
    screenshot("08-reset")


def test_a_running_job_is_cancelled_from_its_page(page: Page, stack: LocalStack, owner: str) -> None:
    sign_in(page, stack, owner)
    job_id = submit(page, "A lighthouse at dusk")
    page.locator(f'[data-job-id="{job_id}"]').get_by_role("link").click()
    expect(page.get_by_role("button", name="Reset")).to_be_enabled()

    page.get_by_role("button", name="Cancel").click()

    expect(page.locator("#job-facts")).to_contain_text("cancelled")
    expect(page.get_by_role("button", name="Cancel")).to_be_disabled()


def test_a_jobs_webhook_deliveries_are_listed_and_replayed(
    page: Page, stack: LocalStack, clocks: Clocks, owner: str, screenshot: Screenshot
) -> None:
    receiver = Receiver()
    try:
        sign_in(page, stack, owner)
        page.get_by_label("Webhook URL (optional)").fill(receiver.url)
        job_id = submit(page, "A kite over the dunes")
        until(stack, clocks, page, f"() => {row_status(job_id)} === 'completed'")
        stack.stream_poller.drain()
        stack.webhook_poller.drain()

        page.locator(f'[data-job-id="{job_id}"]').get_by_role("link").click()
        completed = page.locator("#job-webhooks tr").filter(has_text="video.completed")
        expect(completed).to_contain_text("delivered")
        completed.get_by_role("button", name=re.compile("Replay video.completed")).click()
        expect(completed).to_contain_text("(replayed 1")
        stack.webhook_poller.drain()
        screenshot("11-webhooks")
    finally:
        receiver.stop()

    ids = [{name.lower(): value for name, value in headers.items()}["webhook-id"] for headers, _ in receiver.requests]
    assert len(ids) == len(set(ids)) + 1  # video.completed arrived twice, under one webhook-id


def test_the_list_is_newest_first_and_pages_on(page: Page, stack: LocalStack, clocks: Clocks, owner: str) -> None:
    token = stack.mint_token(owner)
    for number in range(12):
        clocks.advance(1)  # each job a second newer than the last
        httpx.post(
            f"{stack.gateway_url}/videos",
            headers={"Authorization": f"Bearer {token}"},
            json={"prompt": f"Frame number {number:02d}"},
            timeout=API_TIMEOUT_SECONDS,
        ).raise_for_status()
    sign_in(page, stack, owner)
    rows = page.locator("#job-list li")

    expect(rows).to_have_count(10)
    expect(rows.first).to_contain_text("Frame number 11")
    page.get_by_role("button", name="Load more").click()

    expect(rows).to_have_count(12)
    expect(rows.last).to_contain_text("Frame number 00")
    expect(page.get_by_role("button", name="Load more")).to_be_hidden()


def test_another_owners_job_is_refused(page: Page, stack: LocalStack, owner: str, screenshot: Screenshot) -> None:
    someone_else = httpx.post(
        f"{stack.gateway_url}/videos",
        headers={"Authorization": f"Bearer {stack.mint_token('console-someone-else')}"},
        json={"prompt": "Not yours to see"},
        timeout=API_TIMEOUT_SECONDS,
    ).json()["id"]
    sign_in(page, stack, owner)

    page.goto(f"{stack.gateway_url}/console#/jobs/{someone_else}")

    expect(page.locator("#job-error")).to_contain_text("not_found")
    expect(page.get_by_text("Not yours to see")).to_have_count(0)
    screenshot("09-another-owners-job")


def test_the_apis_validation_errors_show_beside_their_fields(
    page: Page, stack: LocalStack, owner: str, screenshot: Screenshot
) -> None:
    sign_in(page, stack, owner)
    # A duration the model does not take, as a tampered form (or a stale listing) would send it.
    page.get_by_label("Seconds").evaluate("s => { s.add(new Option('7', '7')); s.value = '7'; }")
    page.get_by_label("Prompt").fill("A heron in the reeds")

    page.get_by_role("button", name="Submit").click()

    expect(page.locator("#error-seconds")).to_contain_text("Allowed: 4, 8, 12")
    expect(page.get_by_label("Seconds")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Seconds")).to_be_focused()
    page.get_by_label("Prompt").fill("")
    page.get_by_label("Seconds").select_option("4")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#error-prompt")).not_to_be_empty()
    screenshot("10-field-errors")


def test_the_console_is_served_with_a_strict_content_security_policy(stack: LocalStack) -> None:
    for path in ("/console", "/console/console.js", "/console/config.json"):
        response = httpx.get(f"{stack.gateway_url}{path}", timeout=API_TIMEOUT_SECONDS)
        assert response.status_code == 200, path
        policy = dict(part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
        assert policy["default-src"] == "'none'"
        assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
        assert policy["media-src"] == stack.aws_endpoint_url.rstrip("/")
        assert policy["connect-src"] == "'self'"  # locally no Cognito
        assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'none'"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    page = httpx.get(f"{stack.gateway_url}/console", timeout=API_TIMEOUT_SECONDS).text
    assert "<script>" not in page and " style=" not in page and "onclick" not in page
    assert httpx.get(f"{stack.gateway_url}/console/index.html", timeout=API_TIMEOUT_SECONDS).status_code == 404
    assert httpx.get(f"{stack.gateway_url}/console/..%2Fhttp.py", timeout=API_TIMEOUT_SECONDS).status_code == 404
