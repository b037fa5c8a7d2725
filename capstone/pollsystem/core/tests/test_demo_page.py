"""The demo page in a real browser: log in, open a poll, vote, see the results move.

Headless Chromium from Debian (/usr/bin/chromium) driven by Playwright; skipped where absent.
"""

import os
import shutil

import pytest
from django.db import connections

from pollsystem.polls.models import Vote
from pollsystem.polls.tests.factories import PollFactory
from pollsystem.users.tests.factories import UserFactory

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"),
]


@pytest.fixture
def page(monkeypatch):
    # Playwright's sync API keeps an event loop running in this thread; the test's own ORM calls
    # are plain synchronous code, so Django's async-safety check is switched off for this test.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser.new_page()
        finally:
            browser.close()
            # Without this, on PostgreSQL one idle session outlived the test and the test database
            # could not be dropped at the end ("being accessed by other users").
            connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_log_in_vote_and_watch_the_results(live_server, page):
    voter = UserFactory(username="demo-voter")
    poll = PollFactory(question="Best editor?", options=["vim", "emacs", "nano"])
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Best editor?").click()
    page.get_by_role("button", name="Vote: emacs").click()  # not logged in yet: the API's 401, shown as is
    page.get_by_text("Authentication credentials were not provided. (not_authenticated)").wait_for()

    page.get_by_label("Username").fill("demo-voter")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("Logged in as demo-voter").wait_for()

    page.get_by_role("button", name="Vote: emacs").click()
    page.get_by_text("Thank you, your vote is counted.").wait_for()
    emacs = poll.options.get(text="emacs")
    page.locator(f'#results li[data-option-id="{emacs.pk}"][data-votes="1"]').wait_for()
    assert Vote.objects.get(user=voter).option == emacs

    page.get_by_role("button", name="Vote: vim").click()  # a second vote: the API's 409, shown as is
    page.get_by_text("You have already voted in this poll. (already_voted)").wait_for()

    other = UserFactory()
    from pollsystem.polls import services

    services.vote_cast(poll_id=poll.pk, option_id=poll.options.get(text="nano").pk, user=other)
    page.get_by_text("2 votes").wait_for(timeout=10_000)  # the page polls the results endpoint
    assert errors == []
