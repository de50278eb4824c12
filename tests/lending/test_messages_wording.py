"""The sweep words reminders in SQL, set-based: every body it writes must be the very text
`notifications.texts.render` gives for the same loan, whatever the name, the office, the
device and the language (GSM-7 normalisation, accents dropped past two UCS-2 segments,
names SQL cannot cut worded through Python), on both databases."""

from datetime import date, timedelta

from sqlalchemy import select, text

from inventory.models import Device, Location
from lending.db import session_for
from lending.loans.models import Loan
from lending.messages import service as messages
from lending.recipients.models import Recipient
from notifications.models import Message
from notifications.texts import MAX_SEGMENTS, is_gsm7, render, segments
from tests.lending.test_loans_helpers import API, issue, make_device, make_recipient
from tests.lending.test_messages import TIMING, mobile, moment, office  # noqa: F401

PLACES = {
    "LDN": None,  # Camden office
    "YST": "Ystrad Mynach – Swyddfa’r Gogledd (Canolfan Gymunedol Fawr)",  # > 40, curly
    "CDF": "Caerdydd Ŵyn",  # not GSM-7
    "BKE": "Bike \U0001F6B2 hub",  # outside the basic plane: two UCS-2 units
}
NAMES = [
    ("Alex Smith", "en"), ("Siân Jones", "cy"), ("O’Neil Kay", "en"),
    ("Bartholomew-Alexander-Smythe Jones", "en"), ("Jo", "cy"), ("Dafydd ap Gruffydd", "cy"),
    ("Élodie Martin", "en"), ("  Sam   Lee", "en"), ("Gwenllian-Angharad Rhys", "cy"),
    ("Ann\tWalsh", "en"), ("Alex Sørensen", "en"),
]
KINDS = ["laptop", "phone", "tablet"]


def test_every_reminder_body_is_the_text_render_gives(client, staff, manager, engine,
                                                       office):  # noqa: F811
    for code, name in PLACES.items():
        if name is not None:
            response = client.post(f"{API}/locations", json={
                "code": code, "name": name, "nation": "WLS" if code != "BKE" else "ENG"},
                headers=manager)
            assert response.status_code == 201, response.text
    codes = list(PLACES)
    loans = []
    for n, (name, language) in enumerate(NAMES * 2):
        rid = make_recipient(client, staff, name=name, language=language, mobile=mobile())
        tag = make_device(client, staff, KINDS[n % len(KINDS)])
        response = issue(client, staff, tag, rid)
        assert response.status_code == 201, response.text
        loans.append((response.json(), codes[n % len(codes)]))
    with session_for(engine, actor="test") as session:
        ids = {code: session.scalar(select(Location.id).where(Location.code == code))
               for code in codes}
        for loan, code in loans:  # the device's home office names the place
            session.execute(text("UPDATE devices SET location_id = :l WHERE id = "
                                 "(SELECT device_id FROM loans WHERE id = :id)"),
                            {"l": ids[code], "id": loan["id"]})
        # The schemas strip names, but a row written before they did may not be stripped.
        unstripped = session.execute(
            text("UPDATE recipients SET name = :raw WHERE name = :stripped"),
            {"raw": "  Sam   Lee", "stripped": "Sam   Lee"})
        assert unstripped.rowcount == 2
        session.commit()
    due = date.fromisoformat(loans[0][0]["due_on"])
    for day in (due - timedelta(days=2), due, due + timedelta(days=1), due + timedelta(days=7)):
        report = messages.sweep(engine, TIMING, now=moment(day, sending=False))
        assert sum(report.queued.values()) == len(loans), (day, report)
    with session_for(engine, read_only=True) as session:
        rows = session.execute(
            select(Message.kind, Message.language, Message.body, Recipient.name, Device.kind,
                   Location.name, Loan.due_on)
            .join(Loan, Loan.id == Message.loan_id)
            .join(Recipient, Recipient.id == Loan.recipient_id)
            .join(Device, Device.id == Loan.device_id)
            .join(Location, Location.id == Device.location_id)
            .where(Message.kind != "loan_receipt")).all()
    assert len(rows) == 4 * len(loans)
    kinds_seen, plain_welsh = set(), 0
    for kind, language, body, name, device, place, due_on in rows:
        expected = render(kind, language, name=name, device=device, on=due_on, place=place)
        assert body == expected, (kind, language, name, place)
        if "\U0001F6B2" not in place:  # render cannot fit an emoji's office in two
            assert segments(body) <= MAX_SEGMENTS
        kinds_seen.add(kind)
        plain_welsh += language == "cy" and is_gsm7(body)
    assert kinds_seen == {"due_soon", "due_today", "overdue", "final_overdue"}
    assert plain_welsh  # some Welsh texts were long enough to lose their accents
