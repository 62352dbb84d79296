"""The portal's ``flask`` commands: staff accounts and the import of kits."""
from __future__ import annotations

import secrets
import sys
from pathlib import Path

import click
from flask import Flask, current_app

from portal.auth.services import AccountError, create_staff, find_account
from portal.catalog.importer import import_materials
from portal.catalog.manifest import ManifestError
from portal.catalog.material_files import ContentError
from portal.jobs.cli import worker_command
from portal.storage import StorageError, get_storage


@click.command("create-staff")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--generate", is_flag=True,
              help="Generate a strong password and print it once (demo accounts).")
@click.option("--if-missing", is_flag=True, help="Do nothing if the account exists.")
def create_staff_command(email: str, password_stdin: bool, generate: bool, if_missing: bool):
    """Create a ministry staff account (the only way to get one)."""
    if if_missing and find_account(email) is not None:
        click.echo(f"Staff account {email} already exists; nothing changed.")
        return
    if generate:
        password = secrets.token_urlsafe(15)
    elif password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        account = create_staff(email, password)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    from portal.audit import record

    record("staff_created", f"account:{account.id}", account.email)
    click.echo(f"Staff account created for {email}.")
    if generate:
        click.echo(f"Its password (shown only now, keep it safe): {password}")
    _mail_second_factor_link(account)


def _mail_second_factor_link(account) -> None:
    """Mail the staff member the link that sets up their second factor; the command
    returns once the mail server has it (or fails, saying so)."""
    from portal.auth.second_factor import mail_setup_link
    from portal.mail import MailError

    try:
        mail_setup_link(account)
    except MailError as exc:
        raise click.ClickException(
            f"The set-up link could not be mailed ({exc}); run "
            f"`flask --app wsgi reset-second-factor {account.email}` once mail works.") from exc
    click.echo(f"A link to set up the second factor was mailed to {account.email}.")


@click.command("import-materials")
@click.option("--path", "materials_path", type=click.Path(file_okay=False, path_type=Path),
              help="The materials folder (default: PORTAL_MATERIALS_PATH or ./materials).")
def import_materials_command(materials_path: Path | None):
    """Import the kits of materials/ into the database and storage (idempotent)."""
    path = materials_path or Path(current_app.config["MATERIALS_PATH"])
    bar = None

    def progress(done: int, total: int, label: str) -> None:
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=total, label="Materials", show_pos=True,
                                    file=sys.stderr)
            bar.__enter__()
        bar.label = label.ljust(48)[:48]
        bar.update(1)

    try:
        report = import_materials(path, get_storage(), progress=progress)
    except (ManifestError, ContentError, StorageError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    for line in report.new_versions:
        click.echo(f"new version: {line}")
    for line in report.conflicts:
        click.echo(f"conflict: {line}", err=True)
    click.echo(
        f"{len(report.kits_created)} kit(s) created, {len(report.kits_updated)} updated, "
        f"{len(report.new_versions)} new material version(s), {report.unchanged} unchanged, "
        f"{len(report.conflicts)} conflict(s) left to staff."
    )


@click.command("purge-documents")
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="Age in days (default: PORTAL_DOCUMENT_RETENTION_DAYS, 90).")
def purge_documents_command(days: int | None):
    """Delete stored personalized documents nobody asked for in a while."""
    from portal.personalize.documents import purge_unused

    days = days or current_app.config["DOCUMENT_RETENTION_DAYS"]
    count = purge_unused(days)
    click.echo(f"{count} personalized document file(s) not requested in {days} days deleted.")


@click.command("purge")
def purge_command():
    """Delete what the privacy policy says is kept only for a while: accounts never
    confirmed, old mail links, old audit entries, unused personalized files."""
    from portal.auth.account_data import purge_expired

    counts = purge_expired()
    click.echo(", ".join(f"{name.replace('_', ' ')}: {count}" for name, count in counts.items()))


@click.command("reset-second-factor")
@click.argument("email")
def reset_second_factor_command(email: str):
    """Let a staff member set up a new second factor (a lost phone); ends their sessions."""
    from portal.audit import record
    from portal.auth.services import reset_second_factor

    account = find_account(email)
    if account is None or not account.is_staff:
        raise click.ClickException(f"No staff account for {email}.")
    reset_second_factor(account)
    record("second_factor_reset", f"account:{account.id}", account.email)
    click.echo(f"Second factor of {account.email} reset: it is set up again through the "
               "link mailed now.")
    _mail_second_factor_link(account)


@click.command("rollup")
@click.option("--every", type=click.IntRange(1, 3600), default=None, metavar="SECONDS",
              help="Keep running: catch up again every SECONDS (a service's loop).")
@click.option("--rebuild", is_flag=True,
              help="Count every event and scan again from the start (after a season moved).")
def rollup_command(every: int | None, rebuild: bool):
    """Bring the campaign figures up to date with the download events and QR scans."""
    import time

    from sqlalchemy.exc import SQLAlchemyError

    from portal.extensions import db
    from portal.tracking.rollup import catch_up
    from portal.tracking.rollup import rebuild as rebuild_rollups

    if rebuild:
        click.echo(f"Rollups rebuilt: {rebuild_rollups()} event(s) and scan(s) counted again.")
        if every is None:
            return
    while True:
        if every is None:
            click.echo(f"{catch_up()} event(s) and scan(s) rolled up.")
            return
        try:
            rolled = catch_up()
            if rolled:
                click.echo(f"{rolled} event(s) and scan(s) rolled up.")
        except SQLAlchemyError as exc:  # the loop outlives a database restart
            db.session.rollback()
            click.echo(f"Database unavailable ({type(exc).__name__}); trying again.", err=True)
        db.session.remove()  # a fresh session (and pooled connection) each round
        time.sleep(every)


@click.command("simulate-week")
@click.option("--events", type=click.IntRange(1, 10_000_000), required=True)
@click.option("--year", type=int, help="The campaign's year (default: the current campaign).")
@click.option("--seed", type=int, default=None, help="For repeatable data.")
@click.option("--no-rollup", is_flag=True, help="Leave the new events for a later rollup.")
def simulate_week_command(events: int, year: int | None, seed: int | None, no_rollup: bool):
    """Fill a campaign's week with realistic synthetic download events."""
    from sqlalchemy import select

    from portal.catalog.services import current_campaign
    from portal.extensions import db
    from portal.models import Campaign
    from portal.tracking.rollup import catch_up
    from portal.tracking.simulate import simulate_week

    campaign = (db.session.scalars(select(Campaign).where(Campaign.year == year)).first()
                if year else current_campaign())
    if campaign is None:
        raise click.ClickException("no such campaign; import the kits first")
    with click.progressbar(length=events, label="Events", file=sys.stderr) as bar:
        last = [0]

        def progress(done: int, total: int) -> None:
            bar.update(min(done, events) - last[0])
            last[0] = min(done, events)

        written = simulate_week(campaign, events, seed=seed, progress=progress)
    click.echo(f"{written} synthetic event(s) written to the {campaign.year} campaign.")
    if not no_rollup:
        click.echo(f"{catch_up()} event(s) rolled up.")


def init_app(app: Flask) -> None:
    app.cli.add_command(rollup_command)
    app.cli.add_command(simulate_week_command)
    app.cli.add_command(create_staff_command)
    app.cli.add_command(import_materials_command)
    app.cli.add_command(purge_documents_command)
    app.cli.add_command(purge_command)
    app.cli.add_command(reset_second_factor_command)
    app.cli.add_command(worker_command)
