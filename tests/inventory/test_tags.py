"""Asset tags: the check letter catches the typing mistakes people make."""

from inventory.service import (
    check_letter,
    format_tag,
    format_tags,
    normalise_tag,
    tag_is_mistyped,
)


def test_every_single_wrong_digit_is_caught():
    for number in range(0, 100_000, 7):
        tag = format_tag(number)
        digits, letter = tag.split("-")
        for position in range(len(digits)):
            for wrong in "0123456789":
                if wrong != digits[position]:
                    typo = digits[:position] + wrong + digits[position + 1:]
                    assert check_letter(typo) != letter, (tag, typo)


def test_every_swap_of_neighbouring_digits_is_caught():
    for number in range(0, 100_000, 3):
        digits, letter = format_tag(number).split("-")
        for position in range(len(digits) - 1):
            a, b = digits[position], digits[position + 1]
            if a != b:
                swapped = digits[:position] + b + a + digits[position + 2:]
                assert check_letter(swapped) != letter


def test_what_people_type_and_scan_is_normalised():
    tag = format_tag(42)
    assert normalise_tag(tag.lower().replace("-", "")) == tag
    assert normalise_tag(f" http://127.0.0.1:8000/d/{tag} ") == tag
    assert not tag_is_mistyped(tag)
    assert tag_is_mistyped(tag[:-1] + ("A" if tag[-1] != "A" else "B"))
    assert not tag_is_mistyped("OLD-17")  # hand-given tags have no check letter


def test_tags_made_in_bulk_are_the_tags_made_one_by_one():
    for numbers in (range(1, 1), range(1, 2), range(7, 31), range(1, 250),
                    range(99_990, 100_013), range(999_995, 1_000_021), range(12_345, 22_346)):
        assert format_tags(numbers) == [format_tag(number) for number in numbers], numbers
