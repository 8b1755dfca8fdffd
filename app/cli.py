"""Flask commands: seed the database and keep the translation catalogue compiled."""

import datetime
import os
import subprocess
import sys
import time

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from app import (accounts, accounts_scope, audit, clients, generations, importing, models,
                 notices, reports, rollup, scope, stats, webhooks)
from app.extensions import db
from seeds import demo, synthetic

seed = AppGroup("seed", help="Load data into the database.")
roles = AppGroup("roles", help="Keep the declared roles and their permissions in the database.")


@roles.command("sync")
def roles_sync():
    """Create the declared roles and every view's permissions (run at deploy, not at start-up)."""
    sync_roles()
    click.echo("roles and permissions synchronised")


def sync_roles():
    """Write the roles of app/roles.py and the permissions of every registered view."""
    appbuilder = current_app.appbuilder
    # The roles' rights are the patterns of app/roles.py, checked in memory; the rows here give
    # users something to hold and the role screens the permissions every view offers.
    names = [*current_app.config["FAB_ROLES"], appbuilder.sm.auth_role_public]
    for name in names:
        appbuilder.sm.add_role(name)
    appbuilder.add_permissions(update_perms=True)
    db.session.commit()
    # Flask-AppBuilder logs and swallows database errors here; do not let them pass silently.
    missing = [name for name in names if appbuilder.sm.find_role(name) is None]
    if missing:
        raise click.ClickException(f"roles could not be created: {', '.join(missing)}")
translate = AppGroup("translate", help="Extract, update and compile the translation catalogue.")
stats_group = AppGroup("stats", help="Rebuild and check the statistics' monthly rollups.")
users = AppGroup("users", help="Create logins and set their roles and scope (管辖范围).")


def _scope_value(text):
    """A scope from the command line: a region code (650000, 652700, 652701…) or a unit as
    <county code>:<department code> (652701:court); "" for none."""
    if not text:
        return ""
    code, _sep, department = text.partition(":")
    region = db.session.scalar(select(models.Region).filter_by(code=code))
    if region is None:
        raise click.BadParameter(f"no region with code {code!r}", param_hint="--scope")
    if not department:
        return f"r:{region.id}"
    unit = db.session.scalar(select(models.StationedUnit).join(models.Centre).join(
        models.Department).where(models.Centre.region_id == region.id,
                                 models.Department.code == department))
    if unit is None:
        raise click.BadParameter(f"no {department!r} unit at {code}", param_hint="--scope")
    return f"u:{unit.id}"


def _set_scope(user, text):
    """Give a login its scope, refusing what the form refuses."""
    try:
        accounts_scope.assign(db.session, user, _scope_value(text),
                              {role.name for role in user.roles})
    except ValueError as error:
        raise click.ClickException(str(error)) from None


@users.command("create")
@click.argument("username")
@click.option("--role", "role_names", multiple=True, required=True, help="A role (repeatable).")
@click.option("--scope", "scope_text", default="", help="Region code, or <county code>:<department code> for a unit liaison.")
@click.option("--name", default=None, help="Full name (default: the username).")
@click.option("--email", required=True)
@click.option("--password", required=True, help="A first password; it must be changed at first sign-in.")
def users_create(username, role_names, scope_text, name, email, password):
    """Create a login with its roles and scope, in one transaction."""
    sm = current_app.appbuilder.sm
    if sm.find_user(username=username) is not None:
        raise click.ClickException(f"{username} exists already; use `flask users scope`")
    roles = [sm.find_role(r) for r in role_names]
    if None in roles:
        raise click.BadParameter("unknown role", param_hint="--role")
    try:
        accounts.password_policy(password)
    except ValueError as error:  # wtforms' ValidationError
        raise click.BadParameter(str(error), param_hint="--password") from None
    user = sm.add_user(username, name or username, "", email, roles, password=password)
    if not user:
        raise click.ClickException("the login could not be created")
    _set_scope(user, scope_text)
    db.session.commit()
    accounts.require_password_change(username)
    click.echo(f"{username}: {', '.join(role_names)}, scope {scope_text or 'none'}")


@users.command("scope")
@click.argument("username")
@click.argument("scope_text", metavar="SCOPE")
def users_scope(username, scope_text):
    """Set a login's scope: a region code, or <county code>:<department code> for a unit."""
    user = current_app.appbuilder.sm.find_user(username=username)
    if user is None:
        raise click.ClickException(f"no login called {username}")
    _set_scope(user, scope_text)
    db.session.commit()
    click.echo(f"{username}: scope {scope_text}")


api_clients = AppGroup("clients", help="Other systems' API clients: create, rotate, revoke.")


@api_clients.command("create")
@click.argument("name")
@click.option("--role", "role_names", multiple=True, required=True, help="A role (repeatable): the client's rights.")
@click.option("--scope", "scope_text", default="", help="Region code, or <county code>:<department code>.")
@click.option("--days", type=int, default=365, help="Days until the token expires (0: never).")
@click.option("--rate", type=click.IntRange(1), default=120, help="Requests a minute.")
def clients_create(name, role_names, scope_text, days, rate):
    """Create a client with its own login (roles, scope) and print its token, once."""
    try:
        _client, token = clients.create(db.session, current_app.appbuilder.sm, name, role_names,
                                        _scope_value(scope_text), days, rate)
    except clients.Refused as problem:
        raise click.ClickException(str(problem)) from None
    click.echo(token)


@api_clients.command("rotate")
@click.argument("name")
def clients_rotate(name):
    """Give a client a new token (the old one stops working) and print it, once."""
    client = _client(name)
    token = clients.issue(client)
    db.session.commit()
    click.echo(token)


@api_clients.command("revoke")
@click.argument("name")
def clients_revoke(name):
    """Refuse a client from its next request on."""
    client = _client(name)
    client.revoked_at = models.now()
    db.session.commit()
    click.echo(f"{name}: revoked")


hooks = AppGroup("webhooks", help="Where API clients are sent case events.")


@hooks.command("subscribe")
@click.argument("client_name")
@click.argument("url")
@click.option("--action", "actions", multiple=True, help="An event action (repeatable; default: all).")
def webhooks_subscribe(client_name, url, actions):
    """Send a client's URL the case events of its scope, from now on; print the signing secret."""
    try:
        _subscription, secret = webhooks.subscribe(db.session, _client(client_name), url, actions)
    except ValueError as problem:
        raise click.ClickException(str(problem)) from None
    click.echo(secret)


@hooks.command("deliver")
def webhooks_deliver():
    """Send every due webhook now (the worker does this after each commit and every minute)."""
    click.echo(f"{webhooks.deliver_due(db.session)} events sent")


messages = AppGroup("notices", help="Deadline warnings and the message centre.")


@messages.command("scan")
def notices_scan():
    """Write the deadline warnings due now (the worker does this every minute)."""
    click.echo(f"{notices.scan(db.session)} messages written")


@messages.command("deliver")
def notices_deliver():
    """Send the text messages and e-mails due now (the worker does this after each scan)."""
    click.echo(f"{notices.deliver_due(db.session)} sent")


def _client(name):
    """A client by name, or a clear refusal."""
    client = db.session.scalar(select(models.ApiClient).filter_by(name=name))
    if client is None:
        raise click.ClickException(f"no client called {name}")
    return client


def _rollup_range(centre, first, last):
    """Centre ids and [start, end) months from the command's options."""
    centre_ids = None
    if centre:
        found = db.session.scalars(select(models.Centre.id).where(
            (models.Centre.name == centre) | (models.Centre.short_name == centre)
            | (models.Centre.id == (int(centre) if centre.isdigit() else -1)))).all()
        if not found:
            raise click.BadParameter(f"no centre called {centre!r}", param_hint="--centre")
        centre_ids = list(found)
    try:
        start = stats.Period.parse(first).start if first else None
        end = stats.Period.parse(last).end if last else None
    except stats.BadPeriod as error:
        raise click.BadParameter(str(error)) from None
    if isinstance(start, datetime.date) and end is not None and end <= start:
        raise click.BadParameter("--to comes before --from")
    return centre_ids, start, end


_range_options = [
    click.option("--centre", default=None, help="A centre's name, short name or id (all by default)."),
    click.option("--from", "first", default=None, help="First month, e.g. 2025-01 (all by default)."),
    click.option("--to", "last", default=None, help="Last month, e.g. 2025-12 (all by default)."),
]


def _with_range(command):
    """Add the centre and month options to a command."""
    for option in reversed(_range_options):
        command = option(command)
    return command


@stats_group.command("rebuild")
@_with_range
def stats_rebuild(centre, first, last):
    """Recompute the monthly rollups from the case rows (all, or a centre and months)."""
    centre_ids, start, end = _rollup_range(centre, first, last)
    rows = rollup.rebuild(db.session, centre_ids, start, end)
    db.session.commit()
    generations.renew_all()  # cached figures were counted from the old rollups
    click.echo(f"rollups rebuilt: {rows} counts")


@stats_group.command("check")
@_with_range
@click.option("--quiet", "-q", is_flag=True, help="Print only the number of differences.")
def stats_check(centre, first, last, quiet):
    """Compare every rollup row with a full recomputation; exit status 1 on any difference."""
    centre_ids, start, end = _rollup_range(centre, first, last)
    differences = rollup.check(db.session, centre_ids, start, end)
    db.session.rollback()
    if not quiet:
        for key, kept, counted in differences:
            click.echo(f"{' '.join(map(str, key))}: stored {kept}, recomputed {counted}")
    click.echo(f"{len(differences)} differences")
    if differences:
        raise SystemExit(1)


@seed.command("demo")
@click.option("--cases", default=None, type=int, help="How many generated demo cases.")
def seed_demo(cases):
    """Load the article's world, one login per role and a few hundred demo cases."""
    sm = current_app.appbuilder.sm
    sync_roles()
    demo.load(db.session, sm, cases if cases is not None else demo.DEMO_CASES,
              must_change_password=True)
    for model in (models.Region, models.Centre, models.StationedUnit, models.Staff,
                  models.Expert, models.Dispute, models.Party, models.Referral):
        total = db.session.scalar(select(func.count()).select_from(model))
        click.echo(f"{model.__tablename__}: {total}")


@seed.command("synthetic")
@click.option("--centres", default=100, show_default=True, help="How many centres.")
@click.option("--disputes", default=1_000_000, show_default=True, help="How many disputes to add.")
@click.option("--seed", "seed_value", default=1, show_default=True, help="Random seed.")
def seed_synthetic(centres, disputes, seed_value):
    """Add synthetic centres and disputes for measuring speed (not for people to read)."""
    started = time.perf_counter()
    with click.progressbar(length=disputes, label="disputes") as bar:
        made = synthetic.generate(db.session, centres, disputes, seed_value, progress=bar.update)

    demo.load_petitions(db.session)  # monthly petition counts for every centre

    rollup.rebuild(db.session)  # the bulk insert bypassed the session's rollup upkeep
    # Case numbers given in bulk: each centre's counter starts again after its highest number.
    db.session.execute(models.CaseCounter.__table__.delete())
    db.session.commit()

    generations.renew_all()  # and the cached counts and figures
    click.echo(f"{made} disputes in {time.perf_counter() - started:.0f} s")


def _babel(*args):
    """Run pybabel from this interpreter's environment."""
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", *args], check=True)


@translate.command("extract")
def translate_extract():
    """Collect message ids from the code and templates into messages.pot."""
    root = os.path.dirname(current_app.root_path)
    _babel("extract", "-F", os.path.join(root, "babel.cfg"), "-k", "_l", "-k", "lazy_gettext",
           "-o", os.path.join(current_app.root_path, "translations", "messages.pot"),
           current_app.root_path)


@translate.command("update")
def translate_update():
    """Merge new message ids into the catalogues."""
    folder = os.path.join(current_app.root_path, "translations")
    _babel("update", "-i", os.path.join(folder, "messages.pot"), "-d", folder)


@translate.command("compile")
def translate_compile():
    """Compile the catalogues into the .mo files the app reads."""
    compile_catalogues(os.path.join(current_app.root_path, "translations"))


def compile_catalogues(folder):
    """Compile every catalogue under folder (also used by the set-up script)."""
    _babel("compile", "-d", folder)


@click.command("report")
@click.option("--scope", "scope_text", default="650000", show_default=True,
              help="Region code, or the name of a region, prefecture, county or centre.")
@click.option("--period", "period_text", required=True,
              help="2025, 2025-Q1, 2025-03, 2025-03-07 or 2025-03-01~2025-03-15.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True),
              help="Where to write the PDF.")
@click.option("--register/--no-register", "with_register", default=False,
              help="Append the case register (台账) of the period.")
def report_command(scope_text, period_text, out, with_register):
    """Write the PDF statistics of an area and a period."""
    area = stats.area_by_code(db.session, scope_text)
    if area is None:
        raise click.BadParameter(f"no region, county or centre called {scope_text!r}",
                                 param_hint="--scope")
    try:
        period = stats.Period.parse(period_text)
    except stats.BadPeriod as error:
        raise click.BadParameter(str(error), param_hint="--period") from None
    with current_app.test_request_context():
        try:
            content = reports.statistics_pdf(db.session, area, period, register=with_register)
        except reports.ReportTooLarge as error:
            raise click.ClickException(str(error)) from None
    with open(out, "wb") as handle:
        handle.write(content)
    click.echo(f"{out}: {area.name} {period.code}, {len(content):,} bytes")


@click.command("import")
@click.argument("kind", type=click.Choice(["region", "unit", "staff", "expert", "case"]))
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check every row and say what would change; "
              "write nothing.")
def import_command(kind, path, dry_run):
    """Import a spreadsheet (xlsx or CSV) as the import screen does, for the whole region:
    every row is checked first, and the file is written in one transaction only if no row has
    an error."""
    chosen = importing.KINDS[kind]
    with open(path, "rb") as handle:
        data = handle.read()
    name = os.path.basename(path)
    with current_app.test_request_context():
        try:
            table = importing.read_table(name, data, chosen,
                                         current_app.config["IMPORT_MAX_ROWS"])
        except importing.FileProblem as problem:
            raise click.ClickException(str(problem)) from None
        context = importing.Context(db.session, scope.WHOLE, None, name)
        with click.progressbar(length=len(table), label="checking") as bar:
            results = importing.preview(context, chosen, table, progress=bar.update)
        counts = importing.counts(results)
        for row in results:
            for message in row.messages:
                click.echo(message, err=True)
        click.echo(", ".join(f"{status}: {n}" for status, n in counts.items()))
        if counts["error"]:
            db.session.rollback()
            raise click.ClickException("nothing was imported: correct the rows above")
        if dry_run:
            db.session.rollback()
            click.echo("dry run: nothing was written")
            return
        written = importing.write(context, chosen, results)
        db.session.commit()
        audit.record("create", chosen.model.__tablename__, detail={
            "file": name, "kind": kind, "command": True, **counts}, username="flask import")
        click.echo(f"written: {written} rows")
        for name, login, password in context.created_logins:
            click.echo(f"new login {login} for {name}: one-time password {password} "
                       "(to be changed at the first sign-in)")


def register(app):
    """Attach the command groups to the app."""
    app.cli.add_command(seed)
    app.cli.add_command(roles)
    app.cli.add_command(translate)
    app.cli.add_command(stats_group)
    app.cli.add_command(users)
    app.cli.add_command(api_clients)
    app.cli.add_command(hooks)
    app.cli.add_command(messages)
    app.cli.add_command(report_command)
    app.cli.add_command(import_command)
