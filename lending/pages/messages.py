"""The managers' Messages page: numbers a provider refused, recipients who asked for no
texts, and replies nobody has read yet (marked read from here)."""

from litestar import Controller, Request, Response, get, post

from inventory.api import DbSession
from lending.accounts.models import Role
from lending.messages import service as messages
from lending.pages.rendering import Form, go_to, render


def _reply_ids(data: dict) -> list[int]:
    values = data.get("reply", [])
    values = values if isinstance(values, list) else [values]
    return [int(value) for value in values if str(value).isdigit() and len(str(value)) < 12]


class MessagePages(Controller):
    opt = {"role": Role.manager}

    @get("/messages", sync_to_thread=True)
    def messages(self, request: Request, db_session: DbSession) -> Response:
        return render(request, "messages.html", **messages.messages_overview(db_session))

    @post("/messages/replies/read", sync_to_thread=True)
    def mark_read(self, request: Request, db_session: DbSession, data: Form) -> Response:
        ids = _reply_ids(data)
        if not ids:
            return go_to(request, "/messages", "Choose a reply to mark as read.", kind="error")
        done = messages.mark_replies_read(db_session, ids)
        return go_to(request, "/messages",
                     f"{done} repl{'y' if done == 1 else 'ies'} marked as read.")
