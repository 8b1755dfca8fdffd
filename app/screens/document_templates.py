"""文书模板: the administrator edits the wording of each kind of document for the region (a
centre administrator for their own centre), with the documented fields beside the editor, a
preview PDF before saving, and the shipped wording one click away."""

from types import SimpleNamespace

from flask import Response, abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import select

from app import audit, documents, models, scope
from app.extensions import db


def _owner():
    """(centre or None for the region, allowed): whose wording this user edits."""
    found = scope.current()
    if found.whole:
        return None, True
    if found.unit_id is not None or not found.path:
        return None, False
    centre = db.session.scalar(select(models.Centre).join(models.Region).where(
        models.Region.path == found.path))
    return centre, centre is not None


def _row(centre, kind):
    """The stored wording of a kind for the region (centre None) or a centre."""
    template = models.DocumentTemplate
    return db.session.scalar(select(template).where(
        template.kind == kind.code, template.centre_id.is_(None) if centre is None
        else template.centre_id == centre.id))


def _sample(centre):
    """A made-up case to preview a wording with (nothing is written)."""
    centre = centre or db.session.scalar(select(models.Centre).order_by(models.Centre.id))
    now = models.now()
    party = lambda role, name: SimpleNamespace(  # noqa: E731
        id=0 if role == "applicant" else 1, role=role, name=name, id_number="",
        phone="13800000000", address="示例住址")
    case = SimpleNamespace(
        id=0, centre=centre, case_no=f"{centre.region.code}-{now.year}-00000",
        title="示例：某甲诉某乙民间借贷纠纷", description="示例：借款到期未还。", amount=78000,
        category=SimpleNamespace(name="民间借贷"), route=None, registered_at=now,
        accepted_at=now, handle_due=now, decline_reason="示例理由",
        parties=[party("applicant", "某甲"), party("respondent", "某乙")])
    subject = SimpleNamespace(
        unit="示例单位", instructions="示例说明", sent_at=now, respond_due=now, answer_due=now,
        expert=None, staff=SimpleNamespace(name="示例调解员"), scheduled_at=now,
        agreement_text="示例协议内容", performance_method="银行转账", performance_due=now.date())
    return case, subject


class DocumentTemplateView(BaseView):
    """Edit, preview, save and reset the wording of the documents."""

    route_base = "/document-templates"
    default_view = "index"
    base_permissions = ["can_edit"]
    method_permission_name = {"index": "edit", "edit": "edit", "preview": "edit",
                              "save": "edit", "reset": "edit"}

    def _allowed(self):
        centre, allowed = _owner()
        if not allowed:
            abort(404)
        return centre

    def _kind(self, code):
        kind = documents.KINDS.get(code)
        if kind is None:
            abort(404)
        return kind

    @expose("/")
    @has_access
    def index(self):
        """The kinds, and whether this region's or centre's wording is its own."""
        centre = self._allowed()
        rows = [(kind, _row(centre, kind) is not None) for kind in documents.KINDS.values()]
        return self.render_template("zongzhi/document_templates.html", rows=rows,
                                    centre=centre)

    def _editor(self, kind, centre, body, problem=None):
        if problem:
            flash(problem, "danger")
        return self.render_template("zongzhi/document_template_edit.html", kind=kind,
                                    centre=centre, body=body, fields=documents.FIELDS,
                                    customised=_row(centre, kind) is not None)

    @expose("/edit/<code>")
    @has_access
    def edit(self, code):
        """The wording in force, in an editor."""
        centre = self._allowed()
        kind = self._kind(code)
        row = _row(centre, kind)
        body = row.body if row is not None else (
            documents.body_for(centre, kind) if centre is not None
            else documents.default_body(kind))
        return self._editor(kind, centre, body)

    def _try(self, kind, centre, body):
        """The typed wording rendered with a made-up case: PDF bytes, or a problem in words."""
        case, subject = _sample(centre)
        try:
            return documents.render(case, kind, subject, "示例〔2025〕1号", models.now(),
                                    body=body), None
        except documents.TemplateProblem as problem:
            return None, str(problem)

    @expose("/preview/<code>", methods=["POST"])
    @has_access
    def preview(self, code):
        """The typed wording as a PDF with a made-up case (nothing is saved)."""
        centre = self._allowed()
        kind = self._kind(code)
        body = request.form.get("body", "")
        content, problem = self._try(kind, centre, body)
        if problem:
            return self._editor(kind, centre, body, problem)
        return Response(content, mimetype="application/pdf", headers={
            "Content-Disposition": f"attachment; filename=preview-{code}.pdf",
            "X-Content-Type-Options": "nosniff"})

    @expose("/save/<code>", methods=["POST"])
    @has_access
    def save(self, code):
        """Save the typed wording once it renders; else the editor with it and the reason."""
        centre = self._allowed()
        kind = self._kind(code)
        body = request.form.get("body", "")
        _content, problem = self._try(kind, centre, body)
        if problem or not body.strip():
            return self._editor(kind, centre, body, problem or gettext("Write the wording."))
        row = _row(centre, kind) or models.DocumentTemplate(
            kind=kind.code, centre_id=centre.id if centre is not None else None)
        row.body, row.updated_at, row.updated_by_id = body, models.now(), current_user.id
        db.session.add(row)
        db.session.commit()
        audit.record("update", "document_template", row.id, detail={
            "kind": kind.code, "centre": centre.name if centre is not None else None})
        flash(gettext("The wording of %(kind)s is saved.", kind=kind.label), "success")
        return redirect(url_for("DocumentTemplateView.index"))

    @expose("/reset/<code>", methods=["POST"])
    @has_access
    def reset(self, code):
        """Go back to the wording above (the region's, or the shipped one)."""
        centre = self._allowed()
        kind = self._kind(code)
        row = _row(centre, kind)
        if row is not None:
            db.session.delete(row)
            db.session.commit()
            audit.record("delete", "document_template", detail={"kind": kind.code})
        flash(gettext("%(kind)s uses the default wording again.", kind=kind.label), "info")
        return redirect(url_for("DocumentTemplateView.index"))
