"""证据材料: upload a file to a case, download it (always as a download, never shown inline),
see an image's thumbnail, delete it softly; everything within the user's scope, ID copies only
for roles that see personal data unmasked."""

import logging
from urllib.parse import quote

from flask import Response, abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from app import attachments, audit, models, personal, scope, storage
from app.extensions import db

log = logging.getLogger(__name__)


class AttachmentView(BaseView):
    """Upload, download, thumbnail, delete."""

    route_base = "/attachments"
    base_permissions = ["can_upload", "can_download", "can_delete"]
    method_permission_name = {"upload": "upload", "download": "download",
                              "thumbnail": "download", "delete": "delete"}

    def _visible(self, pk):
        """A live attachment the user may see, else 404."""
        attachment = db.session.get(models.Attachment, pk)
        if attachment is None or attachment.deleted_at is not None or \
                not scope.visible(models.Dispute, attachment.dispute_id):
            abort(404)
        return attachment

    @staticmethod
    def _identity_refused(attachment):
        """True (and audited) when a role without the right to reveal personal data asks for an
        ID copy; a role with it gets the copy, each one audited as a reveal."""
        if attachment.kind != "id_copy" or personal.can_view():
            return False
        if personal.can_reveal():
            audit.record("reveal", "attachment", attachment.id, detail={"kind": "id_copy"})
            return False
        audit.record("access_denied", "attachment", attachment.id, outcome="denied",
                     detail={"kind": "id_copy"})
        return True

    @expose("/upload/<int:pk>", methods=["POST"])
    @has_access
    def upload(self, pk):
        """Keep an uploaded file for a case, then back to the case page."""
        case = db.session.get(models.Dispute, pk)
        if case is None or not scope.visible(models.Dispute, pk, write=True):
            abort(404)
        back = url_for("DisputeModelView.show", pk=pk) + "#attachments"
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash(gettext("Choose a file to upload."), "warning")
            return redirect(back)
        config = current_app.config
        try:
            attachment = attachments.keep(
                db.session, case, upload.stream, upload.filename, request.form.get("kind"),
                current_user, config["ATTACHMENT_MAX_BYTES"], config["ATTACHMENT_MAX_PER_CASE"],
                request.form.get("target"))
            db.session.commit()
        except attachments.Refused as problem:
            db.session.rollback()
            flash(str(problem), "warning")
            return redirect(back)
        except SQLAlchemyError:
            db.session.rollback()
            log.exception("keeping an attachment for case %s failed", pk)
            flash(gettext("The file could not be kept; nothing was saved. Try again."), "danger")
            return redirect(back)
        audit.record("create", "attachment", attachment.id, detail={
            "case": case.case_no, "kind": attachment.kind, "size": attachment.size,
            "type": attachment.content_type})
        flash(gettext("Kept %(name)s.", name=attachment.file_name), "success")
        return redirect(back)

    @expose("/download/<int:pk>")
    @has_access
    def download(self, pk):
        """The file, as a download (attachment, nosniff), whatever its type."""
        attachment = self._visible(pk)
        if self._identity_refused(attachment):
            return self._refused_page(attachment)
        try:
            content = storage.storage().get(attachment.storage_key)
        except storage.Missing:
            abort(404)
        return Response(content, mimetype=attachment.content_type, headers={
            "Content-Disposition": _disposition(attachment.file_name),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox"})

    @expose("/thumbnail/<int:pk>")
    @has_access
    def thumbnail(self, pk):
        """An image's small JPEG (made by us on upload)."""
        attachment = self._visible(pk)
        if attachment.thumbnail_key is None or (
                attachment.kind == "id_copy" and not personal.can_view()):
            abort(404)  # an ID copy's face is not shown in a list, whatever the role
        try:
            small = storage.storage().get(attachment.thumbnail_key)
        except storage.Missing:
            abort(404)
        return Response(small, mimetype="image/jpeg",
                        headers={"X-Content-Type-Options": "nosniff",
                                 "Cache-Control": "private, max-age=3600"})

    @expose("/delete/<int:pk>", methods=["POST"])
    @has_access
    def delete(self, pk):
        """Mark the file deleted: only within the case's own centre (write scope)."""
        attachment = self._visible(pk)
        if not scope.visible(models.Dispute, attachment.dispute_id, write=True):
            abort(404)
        attachments.remove(attachment, current_user)
        db.session.commit()
        audit.record("delete", "attachment", attachment.id, detail={
            "name": attachment.file_name, "kind": attachment.kind})
        flash(gettext("Deleted %(name)s (kept in the audit trail).",
                      name=attachment.file_name), "info")
        return redirect(url_for("DisputeModelView.show", pk=attachment.dispute_id)
                        + "#attachments")

    def _refused_page(self, attachment):
        flash(gettext("Your role may not reveal personal data: ID copies cannot be downloaded."),
              "warning")
        return redirect(url_for("DisputeModelView.show", pk=attachment.dispute_id)
                        + "#attachments", code=303)


def _disposition(name):
    """Content-Disposition for a download, with the UTF-8 name (RFC 5987)."""
    ascii_name = name.encode("ascii", "ignore").decode() or "file"
    ascii_name = ascii_name.replace('"', "")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
