"""A real server and a real browser: uvicorn serves the app on a free loopback port, on the
per-test database (SQLite or PostgreSQL), and Debian's Chromium drives it through Playwright.
One browser per test session; a fresh context (cookies, storage) per test."""

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import Engine

from inventory import service as inventory
from inventory.schemas import DeviceCreate, LocationCreate
from lending.app import create_app
from lending.db import session_for
from lending.settings import Settings
from tests.conftest import add_user

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "correct horse battery"

# Generous: two cores shared by two test workers, a server and Chromium each.
BROWSER_TIMEOUT_MS = 15_000
expect.set_options(timeout=BROWSER_TIMEOUT_MS)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class LiveServer:
    def __init__(self, app) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *_exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture
def server(settings: Settings, engine: Engine) -> Iterator[LiveServer]:
    with LiveServer(create_app(settings, engine)) as live:
        yield live


@pytest.fixture
def page(browser: Browser, server: LiveServer) -> Iterator[Page]:
    # The tests inject axe-core as an inline script, which the app's CSP rightly refuses.
    context = browser.new_context(bypass_csp=True, base_url=server.url,
                                  viewport={"width": 1100, "height": 900})
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def office(engine: Engine) -> str:
    with session_for(engine, actor="test") as session:
        inventory.create_location(session, LocationCreate(code="LDN", name="London Central"))
    return "LDN"


@pytest.fixture
def staff_user(engine: Engine) -> str:
    add_user(engine, "desk@example.org", "staff", password=PASSWORD)
    return "desk@example.org"


@pytest.fixture
def manager_user(engine: Engine) -> str:
    add_user(engine, "boss@example.org", "manager", password=PASSWORD)
    return "boss@example.org"


def add_device(engine: Engine, **fields) -> str:
    values = {"kind": "laptop", "make": "Lenovo", "model": "ThinkPad E14", "location": "LDN",
              **fields}
    with session_for(engine, actor="test") as session:
        return inventory.create_device(session, DeviceCreate(**values)).asset_tag


def sign_in(page: Page, email: str, password: str = PASSWORD, path: str = "/login") -> None:
    page.goto(path)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
