"""The sample app's page in a real browser: Debian's headless Chromium, driven by Playwright, sends a
message to the app running under the lab's App Service environment and sees the streamed reply.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from test_app import lab_reply, run_app

from keyless_lab import Lab

CHROMIUM = Path("/usr/bin/chromium")
# No first-run work, no updates, no calls home: the browser only talks to the app on 127.0.0.1.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = os.environ.get("KEYLESS_APP_SCREENSHOT")  # a path to save the page to, for a look at it

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Chromium is not installed: `apt-get install chromium` (Debian) to run this test"
)


DENIED = (
    "Azure OpenAI said 401 PermissionDenied: The principal `{object_id}` lacks the required data action "
    "`Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action` to perform "
    "`POST /openai/deployments/{{deployment-id}}/chat/completions` operation."
)


def test_page_shows_azures_refusal_then_the_streamed_reply(lab: Lab, tmp_path: Path) -> None:
    denied = DENIED.format(object_id=lab.principal("chat-app")["object_id"])
    with run_app(lab.hosted("chat-app"), tmp_path) as app, sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            user_data_dir=tmp_path / "profile",  # new and empty: no state from another run
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
        )
        try:
            page = browser.pages[0] if browser.pages else browser.new_page()
            page.goto(app.url)
            expect(page).to_have_title("Keyless chat")
            message, send = page.get_by_label("Message"), page.get_by_role("button", name="Send")

            # The lab starts fresh: the app's identity has no role yet, and the page says so in Azure's words.
            message.fill("Hello from a browser")
            send.click()
            expect(page.locator(".msg.error")).to_have_text(denied, timeout=10_000)
            expect(page.locator(".msg.assistant")).to_have_count(0)
            if SCREENSHOT:
                page.screenshot(path=f"{SCREENSHOT}-denied.png", full_page=True)

            lab.grant_openai_user("chat-app")
            message.fill("Hello again")
            send.click()
            expect(page.locator(".msg.user")).to_have_text(["Hello from a browser", "Hello again"])
            expect(page.locator(".msg.assistant")).to_have_text(lab_reply("Hello again"), timeout=10_000)
            expect(page.locator(".pending")).to_have_count(0)
            expect(send).to_be_enabled()
            if SCREENSHOT:
                page.screenshot(path=f"{SCREENSHOT}-reply.png", full_page=True)
        finally:
            browser.close()
