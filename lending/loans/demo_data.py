"""The lending half of the demo: recipients (fictional, and holding no offence data), loans
in every state, decisions including a refusal and an override, and a waitlist request.

Called by `lending.demo.load_demo` once stock and staff exist. Deterministic: the same
people, devices and stories every time; dates are set relative to the day it is loaded,
so that an overdue loan is overdue whenever the demo is shown.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlmodel import Session

from eligibility import Policy, load_policy
from inventory.models import Device, DeviceStatus, Location
from inventory.schemas import WipeCreate
from inventory.service import record_wipe
from lending.accounts.service import get_user
from lending.db import session_for
from lending.decisions.service import Ineligible
from lending.loans.schemas import LoanCreate, LoseLoan, ReturnLoan
from lending.loans.service import issue_loan, record_loss, return_loan
from lending.recipients.schemas import RecipientCreate, RecipientUpdate
from lending.recipients.service import create_recipient, update_recipient
from lending.waitlist.schemas import WaitlistCreate
from lending.waitlist.service import add_request

NEEDY = {"has_suitable_device": False, "has_home_internet": False, "can_afford_data": False,
         "referred_by_practitioner": True}

# name, office, language, mobile, case reference, facts, device restriction
PEOPLE = [
    ("Alex Morgan", "LDN", "en", "+447700100001", "DL-1001", NEEDY, False),
    ("Sam Taylor", "LDN", "en", None, "DL-1002", NEEDY, False),
    ("Jordan Lee", "LDN", "en", "+447700100003", None, NEEDY, False),
    ("Casey Brown", "MCR", "en", "+447700100004", "DL-2001", NEEDY, False),
    ("Riley Evans", "CDF", "cy", "+447700100005", "DL-3001", NEEDY, False),
    ("Morgan Davies", "CDF", "cy", "+447700100006", None, NEEDY, False),
    ("Taylor Hughes", "CDF", "en", "+447700100007", "DL-3003", NEEDY, False),
    ("Jamie Wilson", "MCR", "en", "+447700100008", "DL-2002", NEEDY, False),
    ("Charlie Khan", "LDN", "en", "+447700100009", None, NEEDY, False),
    ("Drew Patel", "MCR", "en", "+447700100010", "DL-2003", NEEDY, True),
    ("Robin Clarke", "LDN", "en", "+447700100011", "DL-1005",
     {"has_suitable_device": True}, False),
    ("Avery Scott", "MCR", "en", "+447700100012", None, NEEDY, False),
]


def _free(session: Session, kind: str, office: str) -> str:
    """The first available device of a kind at an office, by tag."""
    tag = session.scalar(
        select(Device.asset_tag).join(Location)
        .where(Device.kind == kind, Location.code == office,
               Device.status == DeviceStatus.available.value).order_by(Device.id).limit(1))
    assert tag, f"the demo stock has no {kind} left at {office}"
    return tag


def load_lending_demo(engine: Engine, manager_email: str, policy: Policy | None = None
                      ) -> dict[str, int]:
    policy = policy or load_policy()
    zone = ZoneInfo("Europe/London")
    now = datetime.now(UTC).replace(microsecond=0)

    def days_ago(n: int) -> datetime:
        return now - timedelta(days=n)

    loans = 0
    with session_for(engine, actor="demo") as session:
        manager = get_user(session, manager_email)
        people = {}
        for name, office, language, mobile, reference, facts, restricted in PEOPLE:
            people[name] = create_recipient(session, RecipientCreate(
                name=name, location=office, language=language, mobile=mobile,
                reference=reference, facts=facts, device_restriction=restricted), policy).id

        def lend(name: str, kind: str, office: str, when: datetime, **extra):
            nonlocal loans
            made = issue_loan(session, LoanCreate(
                asset_tag=_free(session, kind, office), recipient_id=people[name], **extra),
                policy, zone, actor=manager, now=when)
            loans += len(made)
            return made[0]

        # Active loans, one with a SIM issued in the same step as its phone.
        lend("Alex Morgan", "laptop", "LDN", days_ago(5), accessories=["Charger", "Sleeve"])
        lend("Sam Taylor", "phone", "LDN", days_ago(3), sim_tag=_free(session, "sim", "LDN"),
             accessories=["USB-C cable", "Plug"])
        lend("Riley Evans", "hotspot", "CDF", days_ago(10), accessories=["USB cable"])
        lend("Morgan Davies", "hotspot", "CDF", days_ago(2))
        # Overdue: lent six weeks ago, never brought back.
        lend("Jordan Lee", "laptop", "LDN", days_ago(42), accessories=["Charger"])
        # Returned and wiped, then a new loan.
        tablet = lend("Casey Brown", "tablet", "MCR", days_ago(70), accessories=["Case"])
        return_loan(session, tablet.id, ReturnLoan(condition="B", notes="light scratches"),
                    now=days_ago(41))
        record_wipe(session, session.get(Device, tablet.device_id).asset_tag, WipeCreate(
            method="factory_reset", account_lock_removed=True), "desk.mcr@example.org")
        lend("Casey Brown", "laptop", "MCR", days_ago(8), accessories=["Charger"])
        # Returned yesterday, with the charger missing: waiting for its wipe.
        laptop = lend("Charlie Khan", "laptop", "LDN", days_ago(30), accessories=["Charger"])
        return_loan(session, laptop.id, ReturnLoan(condition="A",
                                                   missing_accessories=["Charger"]),
                    now=days_ago(1))
        # Lost: stolen, with a police reference.
        phone = lend("Jamie Wilson", "phone", "MCR", days_ago(50))
        record_loss(session, phone.id, LoseLoan(
            stolen=True, police_reference="GMP-26-004417", notes="taken from a bag"),
            now=days_ago(20))
        # A SIM returned in full, then the record closed.
        sim = lend("Avery Scott", "sim", "MCR", days_ago(90))
        return_loan(session, sim.id, ReturnLoan(condition="A"), now=days_ago(60))
        update_recipient(session, people["Avery Scott"], RecipientUpdate(status="closed"),
                         policy)
        # A manager's override in writing, for a need the answers do not show.
        lend("Robin Clarke", "tablet", "LDN", days_ago(4),
             override_reason="Needs a larger screen for an online course; own phone only")
        # A licence condition: refused, and the refusal kept as a decision.
        try:
            lend("Drew Patel", "laptop", "MCR", days_ago(6))
        except Ineligible:
            pass
        # Cardiff has no hotspot left: Taylor waits for the next one.
        add_request(session, WaitlistCreate(recipient_id=people["Taylor Hughes"],
                                            kind="hotspot", notes="works shifts; text first"),
                    policy, zone, now=days_ago(1))
    return {"recipients": len(PEOPLE), "loans": loans, "waitlist requests": 1}
