"""The design system's date input, put together and worded by the pages' form helpers."""

from datetime import date

import pytest
from pydantic import BaseModel

from lending.pages.forms import date_from_parts, form_fields, form_problems


class Wanted(BaseModel):
    due_on: date | None = None
    declared_on: date


def boxes(day: str, month: str, year: str, name: str = "due_on") -> dict[str, str]:
    return {f"{name}-day": day, f"{name}-month": month, f"{name}-year": year}


def test_three_boxes_make_one_iso_date_and_three_blanks_make_none():
    assert date_from_parts(boxes("7", "3", "2027"), "due_on") == "2027-03-07"
    assert date_from_parts(boxes(" 07 ", "03", "2027"), "due_on") == "2027-03-07"
    assert date_from_parts(boxes("", "", ""), "due_on") == ""
    assert "due_on" not in form_fields(boxes("", "", ""), ("due_on",))


@pytest.mark.parametrize(("typed", "message"), [
    (("31", "2", "2027"), "Due date must be a real date"),
    (("0", "1", "2027"), "Due date must be a real date"),
    (("x", "1", "2027"), "Due date must be a real date"),
    (("1", "", "2027"), "Due date must include a month"),
    (("", "", "2027"), "Due date must include a day and month"),
    (("1", "2", ""), "Due date must include a year"),
    (("1", "2", "27"), "Year must include 4 numbers"),
])
def test_a_date_that_is_no_date_is_worded_as_the_design_system_words_it(typed, message):
    values = form_fields({**boxes(*typed), **boxes("1", "1", "2027", "declared_on")},
                         ("due_on", "declared_on"))
    with pytest.raises(ValueError) as refused:
        Wanted.model_validate(values)
    assert form_problems(refused.value) == {"due_on": message}


def test_a_missing_date_is_asked_for_by_its_name():
    with pytest.raises(ValueError) as refused:
        Wanted.model_validate(form_fields(boxes("", "", "", "declared_on"), ("declared_on",)))
    assert form_problems(refused.value) == {"declared_on": "Enter the declaration date"}
