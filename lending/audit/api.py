from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, get
from litestar.params import Parameter
from sqlmodel import Session

from inventory.schemas import MAX_OFFSET
from lending.audit import service
from lending.audit.schemas import AuditEntryRead, AuditQuery


class AuditController(Controller):
    path = "/audit"
    tags = ["audit"]
    opt = {"role": "manager"}

    @get("/", sync_to_thread=True)
    def list_audit_entries(
        self,
        db_session: Session,
        entity: str | None = None,
        entity_id: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
        offset: Annotated[int, Parameter(ge=0, le=MAX_OFFSET)] = 0,
    ) -> dict[str, Any]:
        page = service.list_entries(db_session, AuditQuery(
            entity=entity, entity_id=entity_id, actor=actor, since=since, until=until,
            limit=limit, offset=offset))
        page["items"] = [AuditEntryRead.model_validate(e) for e in page["items"]]
        return page
