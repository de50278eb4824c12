"""The API against its own OpenAPI document: schemathesis sends generated requests, good and
bad, to a live `lending serve`, and every answer must be no server error and match the
document. A fixed seed and example budget keep the run reproducible and short."""

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.lending.live import serving

BIN = Path(sys.executable).parent
EXAMPLES_PER_OPERATION = 10
# Left out: routes that would take the run's own credential away half-way (a revoked token, a
# deactivated admin; their rules are tested in tests/lending/test_accounts.py), and the SMS
# providers' callbacks, which only the provider's own signature opens
# (tests/lending/test_messages.py calls them as the providers do).
EXCLUDED = (r"/users/(tokens/\{token_id\}/revoke|\{user_id\})$"
            r"|/notifications/(callbacks|inbound)/")


@pytest.fixture
def live_server(database_url, tmp_path):
    env = {**os.environ, "LENDING_DATABASE_URL": database_url, "LENDING_SCHEDULER": "off",
           "LENDING_SECRET_KEY": "schemathesis"}
    run = {"env": env, "cwd": tmp_path, "capture_output": True, "text": True, "timeout": 60}
    added = subprocess.run([BIN / "lending", "user", "add", "fuzz@example.org", "--role",
                            "admin", "--password-stdin"], input="a long enough password\n",
                           **run)
    assert added.returncode == 0, added.stderr
    token = subprocess.run([BIN / "lending", "token", "create", "fuzz@example.org"], **run
                           ).stdout.strip().splitlines()[-1]
    with serving(env, tmp_path) as url:
        yield url, token, tmp_path / "serve.log"


def test_no_generated_request_makes_a_server_error(live_server):
    url, token, log = live_server
    started = time.monotonic()
    result = subprocess.run(
        [BIN / "st", "run", f"{url}/schema/openapi.json", "-H", f"Authorization: Bearer {token}",
         "--checks", "not_a_server_error,response_schema_conformance,status_code_conformance,"
         "content_type_conformance", "--max-examples", str(EXAMPLES_PER_OPERATION),
         "--seed", "20261130", "--exclude-path-regex", EXCLUDED, "--workers", "2",
         "--generation-database", "none", "--no-color"],
        capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    tested = re.search(r"Tested: (\d+)", output)
    cases = re.search(r"(\d+) generated, (\d+) found", output) or re.search(
        r"(\d+) generated", output)
    print(f"\nschemathesis: {tested.group(1) if tested else '?'} operations, "
          f"{cases.group(1) if cases else '?'} cases, "
          f"{cases.group(2) if cases and cases.lastindex == 2 else 0} failures, "
          f"{time.monotonic() - started:.0f} s")
    errors = [line for line in log.read_text().splitlines()
              if "Traceback" in line or "Error" in line][-20:]
    assert "Failures:" not in output, output[-6000:] + "\nserver log:\n" + "\n".join(errors)
    # schemathesis 4.32 now and then trips over its own generator (a Hypothesis "AST
    # constructor recursion depth mismatch"): reported as a Runtime Error, not a finding.
    assert result.returncode == 0 or ("Runtime Error" in output
                                      and "recursion depth mismatch" in output), output[-6000:]
    assert "Internal Server Error" not in log.read_text()


def test_search_text_stays_out_of_the_access_log(live_server):
    url, token, log = live_server
    request = urllib.request.Request(f"{url}/api/v1/recipients?q=Zebedee+Quartermain",
                                     headers={"Authorization": f"Bearer {token}"})
    assert urllib.request.urlopen(request, timeout=5).status == 200
    time.sleep(0.3)
    text = log.read_text()
    assert "GET /api/v1/recipients " in text or "GET /api/v1/recipients HTTP" in text, text
    assert "Zebedee" not in text
