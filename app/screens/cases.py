"""The case page and the referral page: what a case shows, the steps offered on it (declared in
the workflow, rendered from their fields) and the one handler every step form posts to."""

import functools

from flask import abort, current_app, flash, redirect, request, session, url_for
from flask_appbuilder import expose
from flask_appbuilder.actions import action
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.urltools import get_order_args, get_page_args, get_page_size_args
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import inspect, select
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from app import documents, fab_compat, inbox, models, personal, scope, transactions, workflow
from app.datamodel import eager_options

# The case's lists of related rows, by model, that the case page shows.
CASE_LISTS = {models.Party: "parties", models.Referral: "referrals",
              models.MediationSession: "sessions", models.Feedback: "feedback",
              models.CaseEvent: "events"}

STEP_FORM = "zongzhi_step_form"
REPEAT = "zongzhi.repeat_of"


def run_step(database, step, back):
    """Run a workflow step: commit and say so, or roll back and say why, keeping what was
    typed for the page to show again; then go back. A step that does not exist is a 404."""
    try:
        with transactions.saving(database):
            step()
            database.commit()
    except LookupError:
        database.rollback()
        abort(404)
    except (workflow.WorkflowError, transactions.SaveFailed) as error:
        database.rollback()
        flash(str(error), "danger")
        session[STEP_FORM] = _typed_values()
        return redirect(back)
    flash(_l("Done."), "success")
    return redirect(back)


def typed_for(prefix):
    """The values a refused step form of this page carried, once."""
    typed = session.get(STEP_FORM)
    if not typed or not typed.get("_path", "").startswith(prefix + "/"):
        return None
    session.pop(STEP_FORM)
    return typed


def _typed_values():
    """The step form's typed values, to fill the form again after a refusal (no secrets or
    personal data are typed into step forms)."""
    return {key: request.form.getlist(key) for key in request.form
            if key not in ("csrf_token", "version")} | {
        "_step": request.path.rsplit("/", 1)[-1], "_path": request.path}


def link_repeat(database, case):
    """Link the case to an earlier one sharing a party's ID number (in the same transaction),
    remembering it for the confirmation."""
    earlier = workflow.parties_changed(database, case, current_app.config["REPEAT_MONTHS"],
                                       within=scope.current())
    if earlier is not None:
        request.environ[REPEAT] = earlier.case_no


def repeat_messages():
    """The repeat-dispute warning of this request's save, if any."""
    case_no = request.environ.get(REPEAT)
    if case_no is None:
        return []
    return [(_l("Repeat dispute: this party was in case %(case_no)s.", case_no=case_no),
             "warning")]


class CasePage:
    """The case page of the dispute view: its facts, deadlines, the steps offered, the timeline,
    documents and files; the step handler; the bulk accept; edits checked by the workflow."""

    def editable(self, item):
        """A finished case is frozen."""
        return item.status not in workflow.FINISHED

    def pre_update(self, item):
        """An edit made on an out-of-date copy is refused; finished cases are read-only."""
        history = inspect(item).attrs.version.history
        if history.deleted and history.added:
            # The form only carried the version to compare; the ORM counts it up itself.
            set_committed_value(item, "version", history.deleted[0])
            workflow.check_version(item, history.added[0])
        try:
            workflow.check_editable(item)
        except workflow.WorkflowError:
            self.datamodel.session.rollback()
            raise
        super().pre_update(item)

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        """The case page: facts, current step, deadlines, the steps open to this user, timeline."""
        database = self.datamodel.session
        case = self._case_for_page(pk)
        widgets = self._get_show_widget(pk, case)
        self.update_redirect()
        widgets = fab_compat.related_views_widgets(
            self, case, orders=get_order_args(), pages=get_page_args(),
            page_sizes=get_page_size_args(), widgets=widgets)
        unit = scope.current().unit_id
        # A unit liaison sees their own unit's referrals and deadlines, not the others'.
        referrals = [r for r in case.referrals if unit is None or r.unit_id == unit]
        may_write = scope.visible(models.Dispute, case.id, write=True)
        context = {
            "case": case, "time_left": inbox.time_left, "referrals": referrals,
            "offers": workflow.steps_for(database, case, current_user),
            "deadlines": workflow.deadlines(case, referrals),
            "tracks": workflow.parallel_tracks(database, case, within=scope.current()),
            "choices": models.choices,
            "files": database.scalars(select(models.Attachment).where(
                models.Attachment.dispute_id == case.id,
                models.Attachment.deleted_at.is_(None)).order_by(
                models.Attachment.uploaded_at)).all(),
            "may_upload": self.appbuilder.sm.has_access("can_upload", "AttachmentView")
            and may_write,
            "sees_identity": personal.can_view() or personal.can_reveal(),
            # Documents issued from the case, and those the user may issue now.
            "documents": database.scalars(select(models.CaseDocument).where(
                models.CaseDocument.dispute_id == case.id).order_by(
                models.CaseDocument.issued_at)).all(),
            "offered": documents.offered(case) if self.appbuilder.sm.has_access(
                "can_issue", "DocumentView") and may_write else [],
            # A refused step's typed values, filled into its form again.
            "typed": typed_for(request.path.replace("/show/", "/step/")),
        }
        return self.render_template(self.show_template, pk=pk, title=self.show_title,
                                    widgets=widgets, related_views=fab_compat.related_views(self),
                                    **context)

    @expose("/step/<int:pk>/<step>", methods=["POST"])
    @has_access
    def step(self, pk, step):
        """One step of the closed loop, taken from the case page."""
        case = self._visible_or_404([pk])[0]
        scope.seen(models.Dispute, pk)  # read through the scope filter: the step need not ask
        database = self.datamodel.session
        return run_step(database, lambda: workflow.perform(
            database, case, current_user, step, request.form, request.form.get("version")),
            url_for("DisputeModelView.show", pk=pk))

    @action("accept_selected", _l("Accept"), _l("Accept the selected cases?"), "fa-check",
            single=False)
    def accept_selected(self, items):
        """受理 several cases: each one checked as if accepted on its own page."""
        database = self.datamodel.session
        done, refused = 0, []
        try:
            with transactions.saving(database):
                for case in items:
                    try:
                        with database.begin_nested():
                            workflow.perform(database, case, current_user, "accept", {})
                        done += 1
                    except workflow.WorkflowError as error:
                        refused.append(f"{case.case_no}：{error}")
                database.commit()
        except (workflow.WorkflowError, transactions.SaveFailed) as error:
            flash(str(error), "danger")
            return redirect(self.get_redirect())
        flash(_l("%(count)s cases accepted.", count=done), "success" if done else "info")
        for message in refused:
            flash(message, "warning")
        return redirect(self.get_redirect())

    def _get_related_view_widget(self, item, related_view, order_column="", order_direction="",
                                 page=None, page_size=None):
        """A related list of the case page from the rows the page loaded with the case, when
        it shows all of them in its own order; else Flask-AppBuilder's query."""
        model = related_view.datamodel.obj
        rows = getattr(item, CASE_LISTS[model], None) if model in CASE_LISTS else None
        order = related_view.base_order
        if (rows is None or order_column or page
                or len(rows) > (page_size or related_view.page_size)
                or not scope.all_seen_with_case(model)
                # Without an order, or with blanks in it (engines place blanks differently),
                # the order is the query's to give.
                or not order or any(getattr(row, order[0]) is None for row in rows)):
            return super()._get_related_view_widget(item, related_view, order_column,
                                                    order_direction, page, page_size)
        filters = related_view.datamodel.get_filters()
        filters.add_filter_related_view(related_view.datamodel.get_related_fk(models.Dispute),
                                        self.datamodel.FilterRelationOneToManyEqual, item.id)
        return related_view._list_widget_of(list(rows), filters)

    def _case_for_page(self, pk):
        """The case, if the user may see it, with everything its page reads, in one query for
        the case and its single related rows and one per list of related rows."""
        try:
            pk = int(pk)
        except ValueError:
            abort(404)
        Dispute = models.Dispute
        query = self.datamodel.session.query(Dispute).filter(Dispute.id == pk)
        case = fab_compat.base_filters(self).apply_all(
            query.options(*self._case_page_loads())).first()
        if case is None:
            abort(404)
        scope.seen(models.Dispute, pk)  # read through the scope filter: the steps need not ask
        return case

    @functools.cache
    def _case_page_loads(self):
        """The loader options of the case page, built once (building them, and SQLAlchemy's
        walk over new ones for its cache key, cost more than the queries they make)."""
        Dispute = models.Dispute
        # Joined loading for a few single rows only: every further join multiplies
        # PostgreSQL's planning time (eight joins took it 12 ms to plan, 0.6 ms to run).
        return (
            *(joinedload(getattr(Dispute, name)) for name in ("centre", "category", "route")),
            *(selectinload(getattr(Dispute, name)) for name in (
                "place", "handler", "registered_by", "repeat_of", "language")),
            # Each list with what its related list shows (which covers the page's own reads:
            # each referral's unit and department, each event's actor), but not the case
            # again: it is in the session already, and every row would carry its columns.
            *(selectinload(getattr(Dispute, name)).options(*self._case_list_loads(model))
              for model, name in CASE_LISTS.items()))

    def _case_list_loads(self, model):
        """Loader options for a list of the case's related rows: what its related list shows,
        less the relationship back to the case."""
        back = {rel.key for rel in inspect(model).relationships if rel.mapper.class_ is
                models.Dispute}
        columns = [column for column in self._related_view_of(model).list_columns
                   if column.split(".")[0] not in back]
        return eager_options(model, columns)

    def _related_view_of(self, model):
        """The related list view of a child model of the case."""
        return next(view for view in fab_compat.related_views(self)
                    if view.datamodel.obj is model)


class ReferralPage:
    """The referral page of the referral view: the case in brief, the deadline, the unit's
    steps offered, and their handler."""

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        """The referral, with the unit's next step."""
        widgets = fab_compat.show_widgets(self, pk)
        item = self.datamodel.get(pk, fab_compat.base_filters(self))
        return self.render_template(
            self.show_template, pk=pk, title=self.show_title, widgets=widgets,
            related_views=fab_compat.related_views(self), referral=item, time_left=inbox.time_left,
            deadline=workflow.referral_deadline(item),
            offers=workflow.steps_for(self.datamodel.session, item, current_user))

    @expose("/step/<int:pk>/<step>", methods=["POST"])
    @has_access
    def step(self, pk, step):
        """部门报到 / 办理反馈 / 退回: the unit's steps on a referral."""
        referral = self._visible_or_404([pk])[0]
        database = self.datamodel.session
        return run_step(database, lambda: workflow.perform(
            database, referral, current_user, step, request.form),
            url_for("ReferralModelView.show", pk=pk))
