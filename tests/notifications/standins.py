"""Local HTTP servers that speak GOV.UK Notify's and Twilio's wire formats, for tests.

Each records what it accepted and can be told, request by request, to answer otherwise:
an HTTP error in the provider's own format, or a stall (before or after accepting the
text) that lasts until the test releases it. The Notify stand-in checks our token with
`notifications-python-client`'s own decoding code; the Twilio one checks basic auth.
"""

import base64
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from notifications_python_client.authentication import decode_jwt_token, get_token_issuer

NOTIFY_FIELDS = {"phone_number", "template_id", "personalisation", "reference",
                 "sms_sender_id"}


@dataclass
class Answer:
    """How to answer one send: `status` with `body` and `headers`, or a stall."""

    status: int = 201
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # "after": accept and record the text, then hang; "before": hang without accepting.
    stall: str | None = None


class StandIn:
    def __init__(self) -> None:
        self.accepted: list[dict[str, Any]] = []
        self.arrivals: list[float] = []  # monotonic time of every send request
        self.plan: deque[Answer] = deque()
        self.release = threading.Event()
        self.stalled = threading.Event()  # set once a stall has begun
        self.lock = threading.Lock()
        self.problems: list[str] = []  # what we sent that the real provider would refuse
        handler = type("Handler", (_Handler,), {"standin": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def answer(self, *answers: Answer) -> None:
        self.plan.extend(answers)

    def next_answer(self) -> Answer:
        with self.lock:
            return self.plan.popleft() if self.plan else Answer()

    def stall(self) -> None:
        self.stalled.set()
        self.release.wait(timeout=30)

    def bodies_to(self, number: str) -> list[str]:
        return [item["body"] for item in self.accepted if item["to"] == number]


class _Handler(BaseHTTPRequestHandler):
    standin: StandIn
    protocol_version = "HTTP/1.1"
    # Answers go out at once, not 40 ms later when the client's delayed ACK arrives.
    disable_nagle_algorithm = True

    def log_message(self, *args) -> None:
        pass

    def _reply(self, status: int, body: dict | None = None,
               headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body or {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        # Headers and body in one write, as a real server sends them.
        self._headers_buffer.append(b"\r\n" + data)
        self.flush_headers()

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_POST(self) -> None:
        self.standin.handle_post(self)

    def do_GET(self) -> None:
        self.standin.handle_get(self)


class NotifyStandIn(StandIn):
    def __init__(self) -> None:
        super().__init__()
        self.service_id = str(uuid.uuid4())
        self.secret = str(uuid.uuid4())
        self.api_key = f"lending_test-{self.service_id}-{self.secret}"
        self.template_id = str(uuid.uuid4())

    def _authorised(self, handler: _Handler) -> bool:
        header = handler.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return False
        token = header.removeprefix("Bearer ")
        try:
            return (get_token_issuer(token) == self.service_id
                    and decode_jwt_token(token, self.secret))
        except Exception as error:  # the client library's own refusal
            self.problems.append(f"token refused: {error!r}")
            return False

    def _error(self, handler: _Handler, status: int, error: str, message: str,
               headers: dict[str, str] | None = None) -> None:
        handler._reply(status, {"errors": [{"error": error, "message": message}],
                                "status_code": status}, headers)

    def handle_post(self, handler: _Handler) -> None:
        raw = handler._body()
        if urlsplit(handler.path).path != "/v2/notifications/sms":
            return self._error(handler, 404, "NotFound", "no such route")
        self.arrivals.append(time.monotonic())
        if not self._authorised(handler):
            return self._error(handler, 403, "AuthError", "Invalid token")
        payload = json.loads(raw)
        extra = set(payload) - NOTIFY_FIELDS
        if extra or payload.get("template_id") != self.template_id or set(
                payload.get("personalisation", {})) != {"body"}:
            self.problems.append(f"bad payload {payload}")
            return self._error(handler, 400, "ValidationError", f"bad fields {extra}")
        answer = self.next_answer()
        if answer.stall == "before":
            self.stall()
            return
        if answer.status != 201:
            body = answer.body or {"errors": [{"error": "Exception", "message": "oops"}],
                                   "status_code": answer.status}
            return handler._reply(answer.status, body, answer.headers)
        notification = {
            "id": str(uuid.uuid4()), "reference": payload.get("reference"),
            "to": payload["phone_number"], "body": payload["personalisation"]["body"],
            "status": "created", "type": "sms",
            "created_at": datetime.now(UTC).isoformat()}
        with self.lock:
            self.accepted.append(notification)
        if answer.stall == "after":
            self.stall()
            return
        handler._reply(201, {
            "id": notification["id"], "reference": notification["reference"],
            "content": {"body": notification["body"], "from_number": "LENDING"},
            "uri": f"{self.base_url}/v2/notifications/{notification['id']}",
            "template": {"id": self.template_id, "version": 1, "uri": ""}})

    def handle_get(self, handler: _Handler) -> None:
        url = urlsplit(handler.path)
        if url.path != "/v2/notifications":
            return self._error(handler, 404, "NotFound", "no such route")
        if not self._authorised(handler):
            return self._error(handler, 403, "AuthError", "Invalid token")
        reference = parse_qs(url.query).get("reference", [None])[0]
        found = [{"id": item["id"], "reference": item["reference"],
                  "phone_number": item["to"], "body": item["body"], "status": item["status"],
                  "type": "sms", "created_at": item["created_at"]}
                 for item in reversed(self.accepted) if item["reference"] == reference]
        handler._reply(200, {"notifications": found, "links": {}})


class TwilioStandIn(StandIn):
    def __init__(self) -> None:
        super().__init__()
        self.account_sid = "AC" + uuid.uuid4().hex
        self.auth_token = uuid.uuid4().hex
        self.sender = "+447700900999"

    @property
    def messages_path(self) -> str:
        return f"/2010-04-01/Accounts/{self.account_sid}/Messages"

    def _authorised(self, handler: _Handler) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return handler.headers.get("Authorization") == f"Basic {expected}"

    def _error(self, handler: _Handler, status: int, code: int, message: str,
               headers: dict[str, str] | None = None) -> None:
        handler._reply(status, {"code": code, "message": message, "status": status,
                                "more_info": f"https://www.twilio.com/docs/errors/{code}"},
                       headers)

    def handle_post(self, handler: _Handler) -> None:
        raw = handler._body().decode()
        if urlsplit(handler.path).path != f"{self.messages_path}.json":
            return self._error(handler, 404, 20404, "not found")
        self.arrivals.append(time.monotonic())
        if not self._authorised(handler):
            return self._error(handler, 401, 20003, "Authenticate")
        if handler.headers.get("Content-Type", "").split(";")[0] != \
                "application/x-www-form-urlencoded":
            self.problems.append("not form-encoded")
        form = {name: values[0] for name, values in parse_qs(raw).items()}
        if not form.get("To", "").startswith("+") or "Body" not in form or \
                "From" not in form:
            self.problems.append(f"bad form {form}")
            return self._error(handler, 400, 21604, "A 'To' phone number is required.")
        answer = self.next_answer()
        if answer.stall == "before":
            self.stall()
            return
        if answer.status != 201:
            body = answer.body or {"code": 20500, "message": "Internal Server Error",
                                   "status": answer.status, "more_info": ""}
            return handler._reply(answer.status, body, answer.headers)
        message = {"sid": "SM" + uuid.uuid4().hex, "to": form["To"], "from": form["From"],
                   "body": form["Body"], "status": "queued",
                   "status_callback": form.get("StatusCallback"),
                   "date_created": datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000"),
                   "date_sent": None}
        with self.lock:
            self.accepted.append(message)
        if answer.stall == "after":
            self.stall()
            return
        handler._reply(201, {**message, "account_sid": self.account_sid,
                             "num_segments": "1", "direction": "outbound-api"})

    def handle_get(self, handler: _Handler) -> None:
        url = urlsplit(handler.path)
        if not self._authorised(handler):
            return self._error(handler, 401, 20003, "Authenticate")
        if url.path == f"{self.messages_path}.json":
            to = parse_qs(url.query).get("To", [None])[0]
            found = [item for item in reversed(self.accepted) if item["to"] == to]
            return handler._reply(200, {"messages": found, "page": 0})
        for item in self.accepted:
            if url.path == f"{self.messages_path}/{item['sid']}.json":
                return handler._reply(200, item)
        self._error(handler, 404, 20404, "The requested resource was not found")
