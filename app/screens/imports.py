"""数据导入: upload a spreadsheet, see every row as new, updated, unchanged or in error, then
confirm; the file is kept (outside the web root, under a random name) only until it is
confirmed or its preview expires."""

import glob
import io
import logging
import os
import secrets
import time

from flask import (abort, current_app, flash, redirect, request, send_file, session, url_for)
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from sqlalchemy.exc import SQLAlchemyError

from app import audit, importing, scope
from app.extensions import db

log = logging.getLogger(__name__)

SESSION_KEY = "zz_import"
# Which screen each kind adds to: importing a kind needs the right to add there.
KIND_VIEWS = {"region": "RegionModelView", "unit": "StationedUnitModelView",
              "staff": "StaffModelView", "expert": "ExpertModelView",
              "case": "DisputeModelView"}


def _folder():
    """Where uploads wait for confirmation (the instance folder, never served)."""
    path = os.path.join(current_app.instance_path, "imports")
    os.makedirs(path, exist_ok=True)
    return path


def _forget_expired():
    """Remove uploads whose preview has expired (another worker may be removing them too)."""
    lifetime = current_app.config["IMPORT_PREVIEW_MINUTES"] * 60
    for path in glob.glob(os.path.join(_folder(), "*.upload*")):
        try:
            if os.path.getmtime(path) < time.time() - lifetime:
                os.unlink(path)
        except FileNotFoundError:
            pass


class ImportView(BaseView):
    """Upload, preview, confirm."""

    route_base = "/import"
    default_view = "index"
    base_permissions = ["can_import"]
    method_permission_name = {"index": "import", "template": "import", "preview": "import",
                              "confirm": "import", "cancel": "import"}

    def _kinds(self):
        """The kinds this user may import (those whose screen they may add to)."""
        sm = self.appbuilder.sm
        return [kind for code, kind in importing.KINDS.items()
                if sm.has_access("can_add", KIND_VIEWS[code])]

    def _kind(self, code):
        """A kind this user may import, else 404."""
        kind = importing.KINDS.get(code)
        if kind is None or kind not in self._kinds():
            abort(404)
        return kind

    def _context(self, name):
        return importing.Context(db.session, scope.current(), current_user, name)

    @expose("/")
    @has_access
    def index(self):
        """The kinds, their templates and the upload form."""
        return self.render_template("zongzhi/import.html", kinds=self._kinds(),
                                    limits=self._limits())

    def _limits(self):
        config = current_app.config
        return {"mb": config["IMPORT_MAX_BYTES"] // (1024 * 1024),
                "rows": config["IMPORT_MAX_ROWS"],
                "minutes": config["IMPORT_PREVIEW_MINUTES"]}

    @expose("/template/<code>")
    @has_access
    def template(self, code):
        """The kind's xlsx template."""
        kind = self._kind(code)
        return send_file(io.BytesIO(importing.template(kind)), as_attachment=True,
                         download_name=f"{code}-template.xlsx",
                         mimetype="application/vnd.openxmlformats-officedocument."
                                  "spreadsheetml.sheet")

    @expose("/preview", methods=["POST"])
    @has_access
    def preview(self):
        """Read the uploaded file and show what confirming it would do; nothing is written."""
        kind = self._kind(request.form.get("kind", ""))
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash(gettext("Choose a file to import."), "warning")
            return redirect(url_for("ImportView.index"))
        limit = current_app.config["IMPORT_MAX_BYTES"]
        data = upload.stream.read(limit + 1)
        if len(data) > limit:
            flash(gettext("The file is larger than %(mb)d MB: split it.",
                          mb=limit // (1024 * 1024)), "warning")
            return redirect(url_for("ImportView.index"))
        name = os.path.basename(upload.filename.replace("\\", "/"))[:100]
        try:
            table = importing.read_table(name, data, kind, current_app.config["IMPORT_MAX_ROWS"])
        except importing.FileProblem as problem:
            flash(str(problem), "warning")
            return redirect(url_for("ImportView.index"))
        _forget_expired()
        token = secrets.token_hex(16)
        with open(os.path.join(_folder(), f"{token}.upload"), "wb") as out:
            out.write(data)
        previous = session.get(SESSION_KEY)
        if previous:
            self._discard(previous)
        session[SESSION_KEY] = {"token": token, "kind": kind.code, "name": name}
        results = importing.preview(self._context(name), kind, table)
        db.session.rollback()  # a preview writes nothing
        return self._preview_page(kind, name, results)

    def _preview_page(self, kind, name, results):
        counts = importing.counts(results)
        errors = [row for row in results if row.status == "error"]
        shown = [row for row in results if row.status != "error"][:200]
        return self.render_template("zongzhi/import_preview.html", kind=kind, name=name,
                                    counts=counts, errors=errors, shown=shown,
                                    total=len(results), fields=kind.fields)

    def _discard(self, pending):
        token = pending.get("token", "")
        name = token if token.endswith(".claimed") else f"{token}.upload"
        try:
            os.unlink(os.path.join(_folder(), name))
        except FileNotFoundError:
            pass

    @expose("/confirm", methods=["POST"])
    @has_access
    def confirm(self):
        """Write the previewed file, all rows in one transaction, if it still has no error."""
        pending = session.get(SESSION_KEY)
        path = os.path.join(_folder(), f"{(pending or {}).get('token', '')}.upload") \
            if pending else None
        if not pending or not os.path.exists(path) or \
                request.form.get("token") != pending["token"]:
            flash(gettext("The preview has expired: upload the file again."), "warning")
            return redirect(url_for("ImportView.index"))
        kind = self._kind(pending["kind"])
        # Claimed first, atomically: a second press (or a second worker) finds it gone.
        claimed = path + ".claimed"
        try:
            os.rename(path, claimed)
        except FileNotFoundError:
            flash(gettext("This file is already being imported, or its preview has expired."),
                  "warning")
            return redirect(url_for("ImportView.index"))
        pending = {**pending, "token": pending["token"] + ".upload.claimed"}
        with open(claimed, "rb") as source:
            data = source.read()
        try:
            table = importing.read_table(pending["name"], data, kind,
                                         current_app.config["IMPORT_MAX_ROWS"])
        except importing.FileProblem as problem:
            os.unlink(claimed)
            flash(str(problem), "warning")
            return redirect(url_for("ImportView.index"))
        context = self._context(pending["name"])
        results = importing.preview(context, kind, table)
        counts = importing.counts(results)
        if counts["error"]:
            db.session.rollback()
            self._discard(pending)
            session.pop(SESSION_KEY, None)
            flash(gettext("Some rows have errors: correct the file and upload it again. "
                          "Nothing was imported."), "danger")
            return self._preview_page(kind, pending["name"], results)
        try:
            importing.write(context, kind, results)
            db.session.commit()
        except (SQLAlchemyError, ValueError) as error:  # e.g. a row another import just added
            db.session.rollback()
            self._discard(pending)
            session.pop(SESSION_KEY, None)
            log.warning("import of %s failed: %s", pending["name"], error)
            flash(gettext("The import could not be written (another change got there first, "
                          "or a row no longer fits); nothing was imported. Upload the file "
                          "again to see its rows as they stand now."), "danger")
            return redirect(url_for("ImportView.index"))
        logins = [login for _name, login, _password in context.created_logins]
        audit.record("create", kind.model.__tablename__, detail={
            "file": pending["name"], "kind": kind.code, **counts,
            **({"logins": logins} if logins else {})})
        self._discard(pending)
        session.pop(SESSION_KEY, None)
        done = gettext("Imported %(file)s: %(new)d new, %(updated)d updated, %(unchanged)d "
                       "unchanged.", file=pending["name"],
                       **{k: counts[k] for k in ("new", "updated", "unchanged")})
        if context.created_logins:
            # One-time passwords are shown on this page once, never put in a flash (the
            # session cookie is signed, not encrypted) or stored anywhere readable.
            return self.render_template("zongzhi/import_done.html", message=done,
                                        logins=context.created_logins,
                                        list_url=url_for(f"{KIND_VIEWS[kind.code]}.list"))
        flash(done, "success")
        return redirect(url_for(f"{KIND_VIEWS[kind.code]}.list"))

    @expose("/cancel", methods=["POST"])
    @has_access
    def cancel(self):
        """Drop the previewed file."""
        pending = session.pop(SESSION_KEY, None)
        if pending:
            self._discard(pending)
        flash(gettext("The import was cancelled; nothing was written."), "info")
        return redirect(url_for("ImportView.index"))


MENU_LABEL = _l("Data import")
