"""文书: issue a document from a case (numbered, drawn, kept as printed) and download the ones
issued, within the user's scope."""

import logging

from flask import Response, abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from app import audit, documents, models, reports, scope, storage
from app.extensions import db
from app.models import key_of

log = logging.getLogger(__name__)
ATTEMPTS = 4


def _contended(error):
    """True for a deadlock or a lock wait given up (worth trying again)."""
    text = str(getattr(error, "orig", error)).lower()
    return "deadlock" in text or "lock wait" in text or "could not serialize" in text


class DocumentView(BaseView):
    """Issue and download case documents."""

    route_base = "/documents"
    base_permissions = ["can_issue", "can_download"]
    method_permission_name = {"issue": "issue", "download": "download"}

    @expose("/issue/<int:pk>/<kind>", methods=["POST"])
    @has_access
    def issue(self, pk, kind):
        """Issue one document of the case, then back to the case page saying its number."""
        chosen = documents.KINDS.get(kind)
        case = db.session.get(models.Dispute, pk)
        if chosen is None or case is None or not scope.visible(models.Dispute, pk, write=True):
            abort(404)
        subject = None
        if chosen.subject in ("referral", "session"):
            model = models.Referral if chosen.subject == "referral" else models.MediationSession
            key = key_of(request.form.get("subject"))
            subject = db.session.get(model, key) if key is not None else None
            if subject is None or subject.dispute_id != case.id:
                abort(404)
        back = url_for("DisputeModelView.show", pk=pk)
        subject_id = getattr(subject, "id", None)
        for attempt in range(ATTEMPTS):
            try:
                # A fresh transaction for the issue (nothing was written before it), read
                # after the case's lock is taken; a deadlock between first issues of a
                # centre's year (MariaDB) is simply tried again.
                db.session.commit()
                # The case's lock first: MariaDB takes the snapshot at the first plain read.
                db.session.execute(select(models.Dispute.id).where(models.Dispute.id == pk)
                                   .with_for_update())
                case = db.session.get(models.Dispute, pk)
                if subject_id is not None:
                    subject = db.session.get(type(subject), subject_id)
                document = documents.issue(db.session, case, chosen, current_user, subject)
                db.session.commit()
                break
            except (documents.DocumentError, documents.TemplateProblem,
                    reports.ReportTooLarge) as problem:
                db.session.rollback()
                flash(str(problem), "warning")
                return redirect(back)
            except OperationalError as error:
                db.session.rollback()
                if attempt + 1 < ATTEMPTS and _contended(error):
                    continue
                log.exception("issuing %s for case %s failed", kind, pk)
                flash(gettext("The document could not be issued; nothing was kept. Try "
                              "again."), "danger")
                return redirect(back)
            except SQLAlchemyError:
                db.session.rollback()
                log.exception("issuing %s for case %s failed", kind, pk)
                flash(gettext("The document could not be issued; nothing was kept. Try "
                              "again."), "danger")
                return redirect(back)
        audit.record("create", "case_document", document.id, detail={
            "kind": kind, "number": document.number, "version": document.version,
            "case": case.case_no})
        flash(gettext("Issued %(document)s %(number)s (version %(version)d).",
                      document=chosen.label, number=document.number,
                      version=document.version), "success")
        return redirect(back)

    @expose("/download/<int:pk>")
    @has_access
    def download(self, pk):
        """An issued document's PDF as printed, for users who see its case."""
        document = db.session.get(models.CaseDocument, pk)
        if document is None or not scope.visible(models.Dispute, document.dispute_id):
            abort(404)
        try:
            content = storage.storage().get(document.storage_key)
        except storage.Missing:
            abort(404)
        audit.record("export", "case_document", document.id, detail={
            "number": document.number, "version": document.version})
        name = f"{document.kind}-{document.id}-v{document.version}.pdf"
        return Response(content, mimetype="application/pdf", headers={
            "Content-Disposition": f"attachment; filename={name}",
            "X-Content-Type-Options": "nosniff"})
