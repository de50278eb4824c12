"""The documentation in the repository is kept true by these tests: the lifecycle diagram is
the code's, every command and route is named, and nothing points outside the repository.

Regenerate the device lifecycle diagram in docs/architecture.md with:

    LENDING_WRITE_DOCS=1 .venv/bin/pytest -p no:randomly -n 0 tests/test_docs.py -q
"""

import os
import re
import subprocess
from pathlib import Path

import click
import pytest

from inventory.models import lifecycle_mermaid
from lending.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REGENERATE = "LENDING_WRITE_DOCS=1 .venv/bin/pytest -p no:randomly -n 0 tests/test_docs.py -q"

LIFECYCLE_BEGIN = "<!-- lifecycle:begin (generated from inventory.models.TRANSITIONS) -->"
LIFECYCLE_END = "<!-- lifecycle:end -->"

# Built in pieces, so that this file does not trip its own check.
OUTSIDE_PATHS = ("../" + "shared", "/" + "work/")


def _tracked_files() -> list[Path]:
    """Every file git tracks, or would track once added (new files count too)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None


# --- the device lifecycle diagram ------------------------------------------------------------

def _lifecycle_block() -> str:
    return f"{LIFECYCLE_BEGIN}\n```mermaid\n{lifecycle_mermaid()}```\n{LIFECYCLE_END}"


def test_the_lifecycle_diagram_is_drawn_from_transitions():
    page = DOCS / "architecture.md"
    text = page.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(LIFECYCLE_BEGIN) + r".*?" + re.escape(LIFECYCLE_END),
                         re.DOTALL)
    committed = pattern.search(text)
    assert committed, f"docs/architecture.md lacks the markers {LIFECYCLE_BEGIN!r} ... " \
                      f"{LIFECYCLE_END!r} around the lifecycle diagram"
    if os.environ.get("LENDING_WRITE_DOCS") == "1":
        page.write_text(pattern.sub(lambda _: _lifecycle_block(), text), encoding="utf-8")
        return
    assert committed.group(0) == _lifecycle_block(), (
        "the device lifecycle diagram in docs/architecture.md differs from "
        f"inventory.models.TRANSITIONS; regenerate it with:\n    {REGENERATE}")


# --- the command line ------------------------------------------------------------------------

def _commands(group: click.Group, prefix: str) -> dict[str, click.Command]:
    """Every command that does something (not the groups), by its full name."""
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        full = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found |= _commands(command, full)
        else:
            found[full] = command
    return found


def _sections(text: str, heading: str) -> dict[str, str]:
    """A page's `### ...` sections whose heading matches `heading`, by heading."""
    parts = re.split(r"^### (.+)$", text, flags=re.MULTILINE)
    sections = {}
    for title, body in zip(parts[1::2], parts[2::2], strict=True):
        title = title.strip().strip("`")
        if re.fullmatch(heading, title):
            sections[title] = body.split("\n## ")[0]
    return sections


def test_the_cli_page_names_every_command_and_only_those():
    sections = _sections((DOCS / "cli.md").read_text(encoding="utf-8"), r"lending( \S+)+")
    commands = _commands(main, "lending")
    missing = sorted(set(commands) - set(sections))
    stale = sorted(set(sections) - set(commands))
    assert not missing, f"docs/cli.md has no `### <command>` section for: {missing}"
    assert not stale, f"docs/cli.md describes commands that do not exist: {stale}"
    for name, command in commands.items():
        for param in command.params:
            if isinstance(param, click.Option):
                flag = max(param.opts, key=len)
                assert flag in sections[name], f"docs/cli.md's `{name}` does not name {flag}"


# --- the HTTP API ----------------------------------------------------------------------------

def _routes() -> set[str]:
    from lending.app import create_app
    from lending.settings import Settings

    settings = Settings(database_url="sqlite://", secret_key="docs-test", scheduler="off")
    routes = set()
    for route in create_app(settings).routes:
        if not (route.path.startswith("/api/") or route.path == "/health"):
            continue
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        routes |= {f"{method} {path}" for method in getattr(route, "methods", ())
                   if method not in ("HEAD", "OPTIONS")}
    return routes


def test_the_api_page_names_every_route_and_only_those():
    sections = _sections((DOCS / "api.md").read_text(encoding="utf-8"),
                         r"(GET|POST|PUT|PATCH|DELETE) /\S*")
    routes = _routes()
    missing = sorted(routes - set(sections))
    stale = sorted(set(sections) - routes)
    assert not missing, f"docs/api.md has no `### METHOD /path` section for: {missing}"
    assert not stale, (f"docs/api.md has a section for routes the app does not serve: {stale}"
                       " (list routes still to come under 'Arriving', not as ### headings)")


# --- the repository stands on its own ---------------------------------------------------------

def test_no_file_refers_to_a_path_outside_the_repository():
    offenders = []
    for path in _tracked_files():
        text = _text(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if any(outside in line for outside in OUTSIDE_PATHS):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "files refer to paths outside the repository:\n" + "\n".join(offenders)


def test_every_markdown_file_named_is_in_the_repository():
    """A Markdown file named in capitals (a README-like name) must be one a reader can open."""
    present = {path.name for path in _tracked_files()}
    offenders = []
    for path in _tracked_files():
        text = _text(path)
        for name in set(re.findall(r"\b[A-Z][A-Z_]*\.md\b", text or "")):
            if name not in present:
                offenders.append(f"{path.relative_to(ROOT)} names {name}")
    assert not offenders, "Markdown files named but not in the repository:\n" + \
                          "\n".join(offenders)


MARKDOWN_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


@pytest.mark.parametrize("page", ["README.md", "CONTRIBUTING.md", "docs"])
def test_relative_links_point_to_files_that_exist(page):
    pages = sorted((ROOT / page).glob("*.md")) if (ROOT / page).is_dir() else [ROOT / page]
    assert pages, f"{page} holds no Markdown"
    broken = []
    for markdown in pages:
        for target in MARKDOWN_LINK.findall(markdown.read_text(encoding="utf-8")):
            if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # a web address, a mail address, or a place on the same page
            resolved = (markdown.parent / target.split("#")[0]).resolve()
            if not resolved.is_relative_to(ROOT):
                broken.append(f"{markdown.relative_to(ROOT)}: {target} leaves the repository")
            elif not resolved.exists():
                broken.append(f"{markdown.relative_to(ROOT)}: {target} does not exist")
    assert not broken, "broken links:\n" + "\n".join(broken)
