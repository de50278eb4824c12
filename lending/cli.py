"""The `lending` command. Thin: each command parses, calls a service function, and prints.

Exit codes: 0 success, 1 a user error (one line on stderr, no traceback), 2 bad usage.
"""

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from lending.settings import get_settings

err = Console(stderr=True)
out = Console()


class UserError(click.ClickException):
    exit_code = 1

    def show(self, file=None) -> None:
        err.print(f"[red]error:[/red] {self.message}", highlight=False, soft_wrap=True)


def _log_to_stderr() -> None:
    import logging
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")


def _engine():
    from lending.db import make_engine
    from lending.messages.service import text_with_changes
    settings = get_settings()
    engine = make_engine(settings.database_url, secret_key=settings.secret_key)
    text_with_changes(engine, settings)
    return engine


def _service_errors():
    """The errors a service raises for bad input, to be shown as one line each."""
    from pydantic import ValidationError

    from inventory.service import InventoryError
    return (InventoryError, ValidationError)


def _one_line(error: Exception) -> str:
    from pydantic import ValidationError

    from inventory.schemas import split_field
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        named, message = split_field(first["msg"])
        field = ".".join(str(p) for p in first["loc"]) or named
        return f"{field}: {message}" if field else message
    return getattr(error, "message", str(error))


class LendingGroup(click.Group):
    """Turns a database that is missing or not migrated into a one-line user error."""

    def invoke(self, ctx: click.Context):
        from sqlalchemy.exc import OperationalError, ProgrammingError
        try:
            return super().invoke(ctx)
        except (OperationalError, ProgrammingError) as error:
            first = str(error.orig).splitlines()[0] if error.orig else str(error)
            raise UserError(f"the database is not ready ({first}); "
                            "run `lending db upgrade` first, or check LENDING_DATABASE_URL"
                            ) from error


@click.group(cls=LendingGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Lend devices and data to people shut out of the digital world."""


class PathOnly:
    """Keeps query strings (search text: names, mobiles) out of the access log."""

    def filter(self, record) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3:
            args = list(record.args)
            args[2] = str(args[2]).split("?", 1)[0]
            record.args = tuple(args)
        return True


def access_log_config() -> dict:
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["path_only"] = {"()": PathOnly}
    config["handlers"]["access"]["filters"] = ["path_only"]
    return config


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Apply migrations, then serve the web app (and the scheduler unless it is off)."""
    import uvicorn

    from eligibility import PolicyError
    from lending.app import create_app
    from lending.migrate import upgrade_database

    _log_to_stderr()
    settings = get_settings()
    upgrade_database(settings.database_url)
    try:
        app = create_app(settings)
    except PolicyError as error:  # names each line and key at fault
        raise UserError(f"the eligibility policy cannot be used: {error}") from error
    out.print(f"Serving on [bold]http://{host}:{port}[/bold]  (API under /api/v1, "
              f"docs at /schema)")
    # Only the proxies named in LENDING_TRUSTED_PROXIES may say who the client is and that
    # the request came over HTTPS (then session cookies are Secure and HSTS is sent).
    trusted = settings.trusted_proxies.strip()
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=bool(trusted),
                forwarded_allow_ips=trusted or None, log_config=access_log_config())


@main.group()
def db() -> None:
    """The database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration not yet applied."""
    from lending.migrate import upgrade_database
    upgrade_database(get_settings().database_url)
    out.print("database is up to date")


@main.command()
@click.option("--if-empty", is_flag=True, help="Do nothing (but print the login) when data exists.")
def demo(if_empty: bool) -> None:
    """Load a realistic demo data set into an empty database."""
    from lending.demo import DEMO_LOGIN, DEMO_PASSWORD, DatabaseNotEmpty, load_demo
    from lending.migrate import upgrade_database

    upgrade_database(get_settings().database_url)
    try:
        counts = load_demo(_engine(), get_settings().secret_key)
        out.print("Loaded demo data: " + ", ".join(f"{n} {what}" for what, n in counts.items()))
    except DatabaseNotEmpty as error:
        if not if_empty:
            raise UserError(str(error)) from error
        out.print("The database already holds data; the demo was not loaded again.")
    out.print(f"Demo login: [bold]{DEMO_LOGIN}[/bold]  password: [bold]{DEMO_PASSWORD}[/bold]")


@main.group()
def user() -> None:
    """Staff accounts."""


@user.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(["staff", "manager", "admin"]), required=True)
@click.option("--location", help="Home location code.")
@click.option("--name", "display_name", default="", help="Display name.")
@click.option("--password-stdin", is_flag=True, help="Read a password from standard input.")
def user_add(email: str, role: str, location: str | None, display_name: str,
             password_stdin: bool) -> None:
    """Create a staff account."""
    from lending.accounts.schemas import UserCreate
    from lending.accounts.service import create_user
    from lending.db import session_for

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    try:
        data = UserCreate(email=email, role=role, location=location,
                          display_name=display_name, password=password)
        with session_for(_engine(), actor="cli") as session:
            created = create_user(session, data)
    except _service_errors() as error:
        raise UserError(_one_line(error)) from error
    out.print(f"created {created.role} account {created.email}")


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.argument("email")
@click.option("--name", default="command line", show_default=True)
def token_create(email: str, name: str) -> None:
    """Print a new API token for an account, alone on the last line."""
    from lending.accounts.service import create_token, get_user
    from lending.db import session_for

    try:
        with session_for(_engine(), actor="cli") as session:
            _, secret = create_token(session, get_user(session, email), name)
    except _service_errors() as error:
        raise UserError(_one_line(error)) from error
    click.echo(f"API token for {email} (shown once; keep it safe):")
    click.echo(secret)


@main.group("import")
def import_group() -> None:
    """Bulk imports."""


@import_group.command("devices")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_devices_command(file: Path) -> None:
    """Import devices from a CSV file: every row, or none."""
    from inventory.service import ImportRejected, import_devices
    from lending.db import session_for

    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise UserError(f"{file} is not UTF-8 text") from error
    with Progress(TextColumn("importing"), BarColumn(), TextColumn("{task.completed}/"
                  "{task.total}"), TimeRemainingColumn(), console=err, transient=True) as bar:
        task = bar.add_task("import", total=None)
        try:
            with session_for(_engine(), actor="cli") as session:
                tags = import_devices(session, text, progress=lambda done, total: bar.update(
                    task, completed=done, total=total))
        except ImportRejected as rejected:
            for problem in rejected.problems[:50]:
                # One line a problem, however wide the terminal (easy to read and to grep),
                # printed as it is: a value from the file is not markup.
                err.print(f"line {problem['line']}, {problem['field']}: {problem['message']}",
                          highlight=False, soft_wrap=True, markup=False)
            if len(rejected.problems) > 50:
                err.print(f"... and {len(rejected.problems) - 50} more", highlight=False)
            raise UserError(f"{len(rejected.problems)} problem(s); nothing was imported"
                            ) from rejected
        except _service_errors() as error:
            raise UserError(_one_line(error)) from error
    out.print(f"imported {len(tags)} devices ({tags[0]} to {tags[-1]})")


@import_group.command("vouchers")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_vouchers_command(file: Path) -> None:
    """Import data vouchers from a CSV file (location, network, code, data_gb, expires_on):
    every row, or none. The codes are stored encrypted and never printed."""
    from inventory.service import ImportRejected
    from lending.db import session_for
    from lending.vouchers.service import code_box, import_vouchers

    settings = get_settings()
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise UserError(f"{file} is not UTF-8 text") from error
    with Progress(TextColumn("importing"), BarColumn(), TextColumn("{task.completed}/"
                  "{task.total}"), TimeRemainingColumn(), console=err, transient=True) as bar:
        task = bar.add_task("import", total=None)
        try:
            with session_for(_engine(), actor="cli") as session:
                created = import_vouchers(
                    session, text, code_box(settings.secret_key), settings.today(),
                    progress=lambda done, total: bar.update(task, completed=done, total=total))
        except ImportRejected as rejected:
            for problem in rejected.problems[:50]:
                # One line a problem, however wide the terminal (easy to read and to grep),
                # printed as it is: a value from the file is not markup.
                err.print(f"line {problem['line']}, {problem['field']}: {problem['message']}",
                          highlight=False, soft_wrap=True, markup=False)
            if len(rejected.problems) > 50:
                err.print(f"... and {len(rejected.problems) - 50} more", highlight=False)
            raise UserError(f"{len(rejected.problems)} problem(s); nothing was imported"
                            ) from rejected
        except _service_errors() as error:
            raise UserError(_one_line(error)) from error
    out.print(f"imported {created} vouchers")


@main.command()
@click.argument("tags", nargs=-1)
@click.option("--unlabelled", is_flag=True, help="Every device never labelled.")
@click.option("--template", required=True, help="Label sheet or roll, e.g. avery-l7160.")
@click.option("--start", default=1, show_default=True, type=int,
              help="Position of the first free label on a part-used sheet.")
@click.option("--alignment", is_flag=True, help="Print the calibration page instead.")
@click.option("--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
def labels(tags: tuple[str, ...], unlabelled: bool, template: str, start: int, alignment: bool,
           output: Path) -> None:
    """Print a sheet of QR labels (and record the devices as labelled)."""
    from lending.db import session_for
    from lending.printing.schemas import LabelRequest, check_template
    from lending.printing.service import alignment_page, print_labels

    settings = get_settings()
    try:
        if alignment:
            pdf, count = alignment_page(settings, check_template(template)), 0
        else:
            request = LabelRequest(tags=list(tags), unlabelled=unlabelled, template=template,
                                   start=start)
            with session_for(_engine(), actor="cli") as session:
                pdf, count = print_labels(session, settings, request)
    except (*_service_errors(), ValueError) as error:
        raise UserError(_one_line(error)) from error
    output.write_bytes(pdf)
    what = "alignment page" if alignment else f"{count} label(s)"
    out.print(f"wrote {what} on {template} to {output}")


@main.group()
def report() -> None:
    """Manager reports."""


@report.command("stock")
@click.option("--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--location", help="Only this location (a code).")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]),
              help="First day, YYYY-MM-DD (default: 27 days before --to).")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]),
              help="Last day, YYYY-MM-DD (default: today).")
def report_stock(output: Path, location: str | None, date_from, date_to) -> None:
    """Write the stock and outcomes report as a PDF."""
    from eligibility import load_policy
    from lending.db import session_for
    from lending.reports.pdf import render_pdf
    from lending.reports.service import build_stock_report, report_scope

    settings = get_settings()
    try:
        policy = load_policy(settings.policy_file or None)
        with session_for(_engine(), actor="cli", read_only=True) as session:
            scope = report_scope(session, settings.today(), settings.zone, location,
                                 date_from and date_from.date(), date_to and date_to.date())
            stock = build_stock_report(session, scope, policy.stock)
    except _service_errors() as error:
        raise UserError(_one_line(error)) from error
    output.write_bytes(render_pdf(stock, settings.organisation))
    out.print(f"wrote the stock report for {stock.period.date_from} to "
              f"{stock.period.date_to} to {output}")


@report.command("weekly")
@click.option("--now", "moment", help="The moment to act at, ISO 8601 (default: now); "
              "without an offset it is read in LENDING_TIMEZONE.")
def report_weekly(moment: str | None) -> None:
    """Write the weekly report (the seven days before --now's date) into the reports folder,
    replacing one already there for those days."""
    from lending.scheduler import weekly_report_job

    settings = get_settings()
    now = _moment(moment) if moment else None
    try:
        stored = weekly_report_job(_engine(), settings, replace=True)(now)
    except OSError as error:
        raise UserError(f"cannot write to {settings.reports_folder}: {error.strerror}"
                        ) from error
    if stored is None:
        raise UserError("another instance is writing the weekly report; try again shortly")
    click.echo(f"wrote the weekly report for {stored.date_from} to {stored.date_to} to "
               f"{settings.reports_folder / stored.name}")


@main.command()
def check() -> None:
    """List every device whose status disagrees with its loans; exit 1 if there is any."""
    from lending.db import session_for
    from lending.loans.service import status_disagreements

    with session_for(_engine(), actor="cli", read_only=True) as session:
        problems = status_disagreements(session)
    for problem in problems:
        click.echo(f"{problem['asset_tag']}: {problem['problem']}")
    if problems:
        raise UserError(f"{len(problems)} device(s) disagree with their loans")
    out.print("every device's status agrees with its loans")


@main.group()
def reminders() -> None:
    """Text messages: reminders, receipts, offers."""


@reminders.command("run")
@click.option("--now", "moment", help="The moment to act at, ISO 8601 (default: now); "
              "without an offset it is read in LENDING_TIMEZONE.")
def reminders_run(moment: str | None) -> None:
    """One pass: queue every text due at --now, then send what is queued and due."""
    from lending.scheduler import text_messages_job

    settings = get_settings()
    now = _moment(moment) if moment else None
    report = text_messages_job(_engine(), settings)(now)
    if report is None:
        raise UserError("another instance is sending texts right now; try again shortly")
    swept, sent = report.sweep, report.dispatch
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(swept.queued.items()))
    click.echo(f"queued {swept.total}" + (f" ({kinds})" if kinds else ""))
    click.echo(f"not queued, opted out: {swept.opted_out}; cancelled: {swept.cancelled}")
    click.echo(f"sent {sent.sent + sent.found}, retrying {sent.retrying}, "
               f"failed {sent.failed}")


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup(file: Path) -> None:
    """Write a consistent copy of the whole database to FILE (safe while serving)."""
    from lending.backup import backup_database

    try:
        backup_database(get_settings().database_url, file)
    except _service_errors() as error:
        raise UserError(_one_line(error)) from error
    out.print(f"backed up the database to {file}")


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def restore(file: Path) -> None:
    """Replace the whole database with the copy in FILE. Stop the service first."""
    from lending.backup import restore_database

    try:
        restore_database(get_settings().database_url, file)
    except _service_errors() as error:
        raise UserError(_one_line(error)) from error
    out.print(f"restored the database from {file}")


@main.group()
def secret() -> None:
    """The secret key."""


@secret.command("reseal")
@click.option("--old-secret-stdin", is_flag=True, required=True,
              help="Read the previous LENDING_SECRET_KEY from standard input.")
def secret_reseal(old_secret_stdin: bool) -> None:
    """After changing LENDING_SECRET_KEY: seal the recipient keys under the new one."""
    from lending.audit.service import reseal_recipient_keys
    from lending.db import session_for

    old = sys.stdin.readline().rstrip("\n")
    if not old:
        raise UserError("give the previous secret on standard input")
    try:
        with session_for(_engine(), actor="cli") as session:
            count = reseal_recipient_keys(session, old)
    except RuntimeError as error:
        raise UserError(str(error)) from error
    out.print(f"resealed {count} recipient key(s) under the current LENDING_SECRET_KEY")


@main.group()
def retention() -> None:
    """Personal data over time."""


@retention.command("run")
@click.option("--now", "now_text", metavar="ISO-8601",
              help="Run as if it were this moment (default: now).")
def retention_run(now_text: str | None) -> None:
    """Pseudonymise every recipient past the retention period; print how many."""
    from lending.db import session_for
    from lending.privacy.service import pseudonymise_due

    now = _moment(now_text) if now_text else None
    settings = get_settings()
    with session_for(_engine(), actor="cli") as session:
        erased = pseudonymise_due(session, settings.retention_months, now)
    out.print(f"pseudonymised {len(erased)} recipient(s) past the retention period of "
              f"{settings.retention_months} months")


def _moment(text: str):
    from datetime import datetime
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise UserError(f"--now: {text!r} is not an ISO-8601 date and time") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=get_settings().zone)
    return moment


@main.group()
def recipient() -> None:
    """Recipients."""


@recipient.command("export")
@click.argument("recipient_id", metavar="ID", type=int)
@click.option("--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The JSON file to write (a .pdf beside it holds the readable copy).")
def recipient_export(recipient_id: int, output: Path) -> None:
    """Write a subject-access export: everything held about one recipient."""
    from lending.db import session_for
    from lending.privacy.service import export_json_chunks, export_pdf, start_export

    settings = get_settings()
    pdf = output.with_suffix(".pdf")
    with session_for(_engine(), actor="cli") as session:
        try:
            export = start_export(session, recipient_id, settings.today())
        except _service_errors() as error:
            raise UserError(_one_line(error)) from error
        # Written as it is read, a page at a time; the PDF from a second reading of the
        # same snapshot.
        with output.open("w", encoding="utf-8") as file:
            file.writelines(export_json_chunks(export))
        pdf.write_bytes(export_pdf(export, settings.organisation))
    out.print(f"wrote the export of recipient {recipient_id} to {output} and {pdf}")


@main.command()
def scheduler() -> None:
    """Run only the scheduler (for deployments with several web instances)."""
    from lending.scheduler import blocking_scheduler, pass_on_expired_offers

    _log_to_stderr()
    settings = get_settings()
    engine = _engine()
    pass_on_expired_offers(engine)  # catch up at once, then keep time
    out.print("scheduler running; Ctrl-C stops it")
    try:
        blocking_scheduler(settings, engine).start()
    except (KeyboardInterrupt, SystemExit):
        out.print("scheduler stopped")


if __name__ == "__main__":
    main()
