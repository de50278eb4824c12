"""HTTP routes for a recipient's eligibility and managers' overrides. Thin: the rules live
in the service."""

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody

from inventory.api import DbSession
from lending.decisions import service
from lending.decisions.schemas import (
    DecisionKind,
    DecisionRead,
    EligibilityOutcome,
    OverrideCreate,
)


class EligibilityController(Controller):
    path = "/recipients"
    tags = ["recipients"]

    @get("/{recipient_id:int}/eligibility", sync_to_thread=True)
    def get_recipient_eligibility(self, db_session: DbSession, state: State,
                                  recipient_id: FromPath[int], kind: FromQuery[DecisionKind]
                                  ) -> EligibilityOutcome:
        return service.check_eligibility(db_session, recipient_id, kind, state.policy,
                                         state.settings.today(), state.settings.zone)

    @post("/{recipient_id:int}/overrides", sync_to_thread=True, opt={"role": "manager"})
    def override_recipient_eligibility(self, db_session: DbSession, state: State,
                                       request: Request, recipient_id: FromPath[int],
                                       data: JSONBody[OverrideCreate]) -> DecisionRead:
        record = service.override_eligibility(db_session, recipient_id, data, request.user,
                                              state.policy, state.settings.today(),
                                              state.settings.zone)
        return service.decision_row(record)
