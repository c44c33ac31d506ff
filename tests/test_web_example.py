"""The chat page (examples/web/, served by `make up` at WEB_URL) in two real browsers.

Debian's Chromium, headless, driven by Selenium through Debian's chromium-driver (`make deps`
installs both; nothing is downloaded). Ada and Ben sign in on the page, open their
conversation and chat: each sees the other's typing, presence and messages live. The page
is on another origin than the API, so every request passes the gateway's CORS rules, and
the WebSocket is the gateway's `/realtime/v1/websocket`. A token refresh in the browser
reaches the Realtime server: the channel stays live for a member and is closed for someone
removed from the conversation. Each window's screenshot is saved in the test's tmp_path
(printed; pytest keeps the last runs under /tmp/pytest-of-<user>/).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.support import Stack

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1000,720",
]
WAIT_S = 30  # a step's patience on a loaded machine (not a speed assertion)

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="Chromium is installed by `make deps` (Debian's chromium and chromium-driver)",
)


def _browser(profile: Path) -> WebDriver:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


@pytest.fixture(scope="module")
def browsers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, WebDriver]]:
    """Two windows with fresh profiles: Ada's and Ben's."""
    opened: dict[str, WebDriver] = {}
    try:
        for name in ("ada", "ben"):
            opened[name] = _browser(tmp_path_factory.mktemp(f"chromium-{name}"))
        yield opened
    finally:
        for driver in opened.values():
            driver.quit()


def _seed(stack: Stack) -> dict[str, Any]:
    """Ada, Ben and their conversation, made by examples/web/seed.py as a person makes them."""
    env = {
        "API_URL": stack.env["API_URL"],
        "ANON_KEY": stack.env["ANON_KEY"],
        "SERVICE_ROLE_KEY": stack.env["SERVICE_ROLE_KEY"],
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "examples/web/seed.py", "--json", f"--suffix=-{uuid.uuid4().hex[:8]}"],
        cwd=stack.cfg.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def _until(driver: WebDriver, what: str, check: Callable[[WebDriver], Any]) -> Any:
    try:
        return WebDriverWait(driver, WAIT_S, poll_frequency=0.05).until(check)
    except TimeoutException:
        status = driver.find_element(By.ID, "status").text
        raise AssertionError(
            f"{what} (page status: {status!r}, console: {driver.get_log('browser')})"
        ) from None


def _text(driver: WebDriver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


def _messages(driver: WebDriver) -> list[tuple[str, str]]:
    """(who, text) of each line on screen."""
    return [
        (li.find_element(By.TAG_NAME, "b").text, li.find_element(By.CLASS_NAME, "content").text)
        for li in driver.find_elements(By.CSS_SELECTOR, "#messages li")
    ]


def _open_chat(stack: Stack, driver: WebDriver, person: dict[str, Any], conversation: str) -> None:
    """Sign in on the page and open the conversation, as a person would click it."""
    driver.get(stack.env["WEB_URL"])
    driver.execute_script("localStorage.clear()")
    driver.refresh()
    driver.find_element(By.ID, "email").send_keys(person["email"])
    driver.find_element(By.ID, "password").send_keys(person["password"], Keys.ENTER)
    selector = f'#conversations button[data-id="{conversation}"]'
    _until(
        driver, "the conversation is listed", lambda d: d.find_elements(By.CSS_SELECTOR, selector)
    )
    assert not driver.find_element(By.ID, "sign-in").is_displayed(), "the form goes away"
    driver.find_element(By.CSS_SELECTOR, selector).click()
    _until(
        driver,
        "the channel is joined",
        lambda d: d.find_element(By.ID, "status").get_attribute("data-state") == "SUBSCRIBED",
    )


def _say(sender: WebDriver, reader: WebDriver, sender_name: str, text: str) -> None:
    """Type (the reader sees the typing indicator), then send (the reader sees the line)."""
    box = sender.find_element(By.ID, "text")
    box.send_keys(text)
    _until(
        reader,
        f"{sender_name} is typing",
        lambda d: _text(d, "typing") == f"{sender_name} is typing…",
    )
    box.send_keys(Keys.ENTER)
    _until(reader, f"{text!r} arrives", lambda d: (sender_name, text) in _messages(d))
    _until(reader, "the typing indicator stops", lambda d: _text(d, "typing") == "")


REFRESH = """
const done = arguments[arguments.length - 1];
const { supabase } = window.chat;
const before = (await supabase.auth.getSession()).data.session.access_token;
// a token is its claims: one refreshed in the second it was issued is the same token
const iat = JSON.parse(atob(before.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).iat;
while (Math.floor(Date.now() / 1000) <= iat) await new Promise((r) => setTimeout(r, 50));
const { data, error } = await supabase.auth.refreshSession();
if (error) { done({ error: error.message }); return; }
// supabase-js hands the new token to Realtime on TOKEN_REFRESHED (an access_token push)
for (let i = 0; i < 200 && supabase.realtime.accessTokenValue !== data.session.access_token; i++)
  await new Promise((r) => setTimeout(r, 25));
done({ before, after: data.session.access_token, realtime: supabase.realtime.accessTokenValue });
"""


def _refresh_token(driver: WebDriver) -> dict[str, str]:
    driver.set_script_timeout(WAIT_S)
    tokens = driver.execute_async_script(f"(async () => {{ {REFRESH} }})()")
    assert "error" not in tokens, tokens
    assert tokens["after"] != tokens["before"], "the refresh gave a new access token"
    assert tokens["realtime"] == tokens["after"], "Realtime got the refreshed token"
    return tokens


def _errors(driver: WebDriver) -> list[str]:
    """The console's errors (a CORS refusal or a failed request lands here)."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _screenshot(driver: WebDriver, path: Path) -> None:
    assert driver.save_screenshot(str(path)), path
    print(f"screenshot: {path}")


def test_two_browsers_chat_live_with_typing_presence_and_a_token_refresh(
    stack: Stack, browsers: dict[str, WebDriver], tmp_path: Path
) -> None:
    seeded = _seed(stack)
    ada_person, ben_person = seeded["people"]
    ada, ben = browsers["ada"], browsers["ben"]
    for driver, person in ((ada, ada_person), (ben, ben_person)):
        _open_chat(stack, driver, person, seeded["conversation"])
    for driver in (ada, ben):
        _until(
            driver,
            "both are here",
            lambda d: _text(d, "here") in ("Here: Ada, you", "Here: Ben, you"),
        )

    # the page is a different origin from the API: each request went through CORS, and the
    # socket is the gateway's Realtime endpoint
    where = ada.execute_script(
        "return { page: location.origin, api: new URL(window.CHAT_CONFIG.url).origin,"
        " socket: window.chat.supabase.realtime.endpointURL(),"
        " connected: window.chat.supabase.realtime.isConnected() }"
    )
    assert where["page"] == stack.env["WEB_URL"] and where["page"] != where["api"]
    assert where["socket"].startswith(
        stack.env["API_URL"].replace("http", "ws", 1) + "/realtime/v1/websocket?"
    )
    assert where["connected"] is True

    _say(ada, ben, "Ada", "Hi Ben, launch on Friday?")
    _say(ben, ada, "Ben", "Friday works.")

    # Ada's browser refreshes its session: supabase-js sends the new token on the socket,
    # the server re-checks it against the topic's policies, and the channel stays live
    _refresh_token(ada)
    _say(ada, ben, "Ada", "Great, see you then.")
    _say(ben, ada, "Ben", "Bye!")
    assert ada.find_element(By.ID, "status").get_attribute("data-state") == "SUBSCRIBED"

    assert _messages(ada) == [
        ("You", "Hi Ben, launch on Friday?"),
        ("Ben", "Friday works."),
        ("You", "Great, see you then."),
        ("Ben", "Bye!"),
    ]
    _screenshot(ada, tmp_path / "ada.png")
    _screenshot(ben, tmp_path / "ben.png")
    assert _errors(ada) == [] and _errors(ben) == []


def test_removed_member_browser_is_closed_at_its_next_token_refresh(
    stack: Stack, browsers: dict[str, WebDriver], tmp_path: Path
) -> None:
    seeded = _seed(stack)
    ada_person, ben_person = seeded["people"]
    ada, ben = browsers["ada"], browsers["ben"]
    for driver, person in ((ada, ada_person), (ben, ben_person)):
        _open_chat(stack, driver, person, seeded["conversation"])
    _until(ada, "Ben is here", lambda d: _text(d, "here") == "Here: Ben, you")

    stack.sql(
        "delete from public.conversation_members where conversation_id = %s and user_id = %s",
        (seeded["conversation"], ben_person["id"]),
    )
    _refresh_token(ben)
    topic = f"conversation:{seeded['conversation']}"
    _until(
        ben,
        "the channel is closed with the hosted message",
        lambda d: (
            _text(d, "status")
            == f"You do not have permissions to read from this Channel topic: {topic}"
        ),
    )
    assert ben.find_element(By.ID, "status").get_attribute("data-state") == "closed"
    _until(ada, "Ben has left", lambda d: _text(d, "here") == "Here: you")
    _screenshot(ben, tmp_path / "ben-removed.png")
