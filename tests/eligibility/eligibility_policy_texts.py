"""Policy text helpers: tests start from TOML text, as an operator would."""

from importlib import resources

DEFAULT_POLICY_TEXT = resources.files("eligibility").joinpath("default_policy.toml").read_text()


def edited_default(*replacements: tuple[str, str]) -> str:
    """The default policy text with each (old, new) applied once; old must occur exactly once."""
    text = DEFAULT_POLICY_TEXT
    for old, new in replacements:
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in the default"
        text = text.replace(old, new)
    return text


def line_number(text: str, fragment: str) -> int:
    """1-based number of the first line of text containing fragment."""
    for number, line in enumerate(text.splitlines(), start=1):
        if fragment in line:
            return number
    raise AssertionError(f"{fragment!r} not in text")
