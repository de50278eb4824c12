from datetime import datetime
from typing import Annotated

from litestar import Controller, get
from litestar.params import FromQuery, QueryParameter

from inventory.api import DbSession, Limit, Offset
from inventory.schemas import Page
from lending.audit import service
from lending.audit.schemas import AuditEntryRead, AuditQuery


class AuditController(Controller):
    path = "/audit"
    tags = ["audit"]
    opt = {"role": "manager"}

    @get("/", sync_to_thread=True)
    def list_audit_entries(
        self,
        db_session: DbSession,
        entity: FromQuery[str | None] = None,
        entity_id: FromQuery[str | None] = None,
        actor: Annotated[str | None, QueryParameter(description="the actor's email")] = None,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page[AuditEntryRead]:
        page = service.list_entries(db_session, AuditQuery(
            entity=entity, entity_id=entity_id, actor=actor, since=since, until=until,
            limit=limit, offset=offset))
        page["items"] = [AuditEntryRead.model_validate(e) for e in page["items"]]
        return page
