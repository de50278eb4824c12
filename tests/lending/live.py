"""Real `lending serve` processes for the tests that need more than one instance or real
sockets (no tests of its own)."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import Path

BIN = Path(sys.executable).parent
PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(database_url: str, **settings: str) -> dict[str, str]:
    return {**os.environ, "LENDING_DATABASE_URL": database_url, "LENDING_SCHEDULER": "off",
            "LENDING_SECRET_KEY": "live", **settings}


def lending(env: dict, cwd: Path, *args: str, stdin: str | None = None):
    return subprocess.run([BIN / "lending", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=60, input=stdin)


def add_account(env: dict, cwd: Path, email: str, role: str) -> dict[str, str]:
    """The account (made unless it exists) and a bearer header for it."""
    added = lending(env, cwd, "user", "add", email, "--role", role, "--password-stdin",
                    stdin=PASSWORD + "\n")
    assert added.returncode == 0 or "already exists" in added.stderr, added.stderr
    token = lending(env, cwd, "token", "create", email).stdout.strip().splitlines()[-1]
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def serving(env: dict, cwd: Path, name: str = "serve"):
    """One `lending serve` on a free port, until the block ends; yields its URL."""
    port = free_port()
    log = (cwd / f"{name}.log").open("w")
    server = subprocess.Popen([BIN / "lending", "serve", "--port", str(port)], env=env,
                              cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=1)
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "no server"
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(10)
        log.close()


@contextmanager
def several(env: dict, cwd: Path, count: int):
    with ExitStack() as stack:
        yield [stack.enter_context(serving(env, cwd, f"serve{n}")) for n in range(count)]


@contextmanager
def scheduling(env: dict, cwd: Path, name: str = "scheduler"):
    """One `lending scheduler` process, until the block ends; yields the process."""
    log = (cwd / f"{name}.log").open("w")
    process = subprocess.Popen([BIN / "lending", "scheduler"], env=env, cwd=cwd, stdout=log,
                               stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        process.wait(10)
        log.close()
