"""Saving through Flask-AppBuilder's forms without ever losing what was typed.

Flask-AppBuilder's add and edit flash an exception's text (driver errors included) and send the
person away from the form. This mixin keeps its flow but: a refused or failed save rolls back,
says why in plain Chinese (the message of a refusal, or transactions.explain for a fault) and
draws the form again with every value typed; confirmations are worked out before the commit,
and nothing that can fail runs after it. Used by the project's base view and the user screens.
"""

import logging

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.urltools import (get_filter_args, get_order_args, get_page_args,
                                     get_page_size_args)
from flask_babel import gettext
from markupsafe import Markup

from app import audit, display, duties, fab_compat, models, scope, transactions, workflow

log = logging.getLogger(__name__)


def _flash_unseen_errors(form, hidden):
    """Errors of fields the form does not draw (a tab's fixed parent) are said in a message."""
    for name in hidden:
        field = getattr(form, name, None)
        for error in getattr(field, "errors", None) or []:
            flash(f"{field.label.text}：{error}", "danger")



ADDED = "zongzhi.added_pk"
REFUSAL = "zongzhi.refusal"


def _shown(item, name, value):
    """A value as the record page would show it (labels for codes)."""
    options = getattr(type(item), "choice_columns", {}).get(name)
    if options is not None and value not in (None, ""):
        return str(options.label(value))
    return display.display_value(value)


def show_newer_values(form, item):
    """After a stale edit: each field whose typed value differs from what is saved now says,
    beside it, what was saved; the form then carries the newer version, so saving again is a
    deliberate choice to put the person's values over the other's."""
    personal_columns = getattr(type(item), "personal_columns", {})
    differing = 0
    for field in form:
        name = field.name
        if name in ("version", "csrf_token") or name in personal_columns or \
                not hasattr(item, name):
            continue
        saved = _shown(item, name, getattr(item, name))
        if _shown(item, name, field.data) != saved:
            differing += 1
            note = gettext("Saved meanwhile by someone else: %(value)s",
                           value=saved or gettext("(blank)"))
            field.description = Markup('<span class="text-warning zz-newer">{}</span>').format(
                note)
    if "version" in form:
        form.version.data = item.version
        form.version.raw_data = [str(item.version)]
    flash(gettext("Someone else saved this record after you opened it. Your changes are still "
                  "in the form; beside %(count)d of the fields is what is saved now. Save again "
                  "to keep yours, or change them first.", count=differing), "warning")


class GuardedActions:
    """Flask-AppBuilder's row actions, refused before any row is touched when the action is
    unknown (404, not a 500), not granted, has no single-row form, or a row lies outside the
    user's scope."""

    def _visible_or_404(self, pks):
        """The rows for the keys, all inside the scope, or a 404 that changes nothing."""
        items = [self.datamodel.get(pk, fab_compat.base_filters(self)) for pk in pks]
        if not items or any(item is None for item in items):
            audit.record("access_denied", self.datamodel.obj.__tablename__, ",".join(map(str, pks)),
                         outcome="denied", detail={"action": request.endpoint})
            abort(404)
        return items

    def _action_allowed(self, name, single=False):
        """The action exists (in the form asked for) and the user's roles grant it."""
        action = self.actions.get(name)
        if action is None or single and not action.single:
            abort(404)
        permission = self.get_action_permission_name(name)
        return self.appbuilder.sm.has_access(permission, self.class_permission_name)

    @expose("/action/<string:name>/<pk>", methods=["GET", "POST"])
    def action(self, name, pk):
        """A single-row action: a known action, a granted right, a row inside the scope."""
        if self._action_allowed(name, single=True):
            self._visible_or_404([pk])
        return super().action(name, pk)

    @expose("/action_post", methods=["POST"])
    def action_post(self):
        """A bulk action: every selected row must lie inside the scope."""
        if self._action_allowed(request.form.get("action", "")):
            self._visible_or_404(request.form.getlist("rowid"))
        return super().action_post()


class SavingMixin:
    """Add, edit and delete that keep the form and say why (see the module's docstring)."""

    # After an add, open the new record (a case: its next steps are there) instead of going back.
    add_lands_on_record = False

    # What a refused save says comes from these errors; anything else is a fault, logged in
    # full and told in general words.
    REFUSALS = (workflow.WorkflowError, scope.OutOfScope, transactions.SaveFailed,
                models.TreeError, duties.DutiesBreached)

    def _save(self, change, confirm, conflict_shown=False):
        """Apply a change and commit it: True when saved (the confirmation flashed), False when
        refused or failed (rolled back, the reason flashed, the form left as typed; a version
        conflict is said by the caller when it shows the newer values)."""
        session = self.datamodel.session
        try:
            with transactions.saving(session):
                change()
                session.flush()
                messages = confirm()
                session.commit()
        except self.REFUSALS as error:
            session.rollback()
            request.environ[REFUSAL] = error
            if not (conflict_shown and isinstance(error, workflow.VersionConflict)):
                flash(str(error), "danger")
            return False
        except Exception:
            log.exception("save failed on %s", request.path)
            session.rollback()
            flash(transactions.explain(None), "danger")
            return False
        for message, category in messages:
            flash(message, category)
        return True

    def _after_commit(self, hook, item):
        """A post_add/post_update hook: the save is committed, so a failure here is logged and
        never answered as an error."""
        try:
            hook(item)
        except Exception:
            log.exception("after-save hook failed on %s", request.path)

    def _add(self):
        """Flask-AppBuilder's add, except that a refused or failed save keeps the form with
        every value typed and says why."""
        get_filter_args(fab_compat.view_filters(self), disallow_if_not_in_search=False)
        exclude_cols = fab_compat.view_filters(self).get_relation_cols()
        form = self.add_form.refresh()
        if request.method == "POST":
            self._fill_form_exclude_cols(exclude_cols, form)
            if form.validate():
                self.process_form(form, True)
                item = self.datamodel.obj()

                def change():
                    form.populate_obj(item)
                    self.pre_add(item)
                    self.datamodel.session.add(item)

                def confirm():
                    request.environ[ADDED] = self.datamodel.get_pk_value(item)
                    return self.add_messages(item)

                if self._save(change, confirm):
                    self._after_commit(self.post_add, item)
                    return None
            else:
                _flash_unseen_errors(form, exclude_cols)
            return self._get_add_widget(form=form, exclude_cols=exclude_cols)
        self.update_redirect()
        self.prefill_add_form(form)
        return self._get_add_widget(form=form, exclude_cols=exclude_cols)

    def prefill_add_form(self, form):
        """Fill a new record's form with what the person most likely means (a hook)."""

    def post_add_redirect(self):
        """After an add: the new record's page when the view says so, else where the person
        came from (Flask-AppBuilder's)."""
        added = request.environ.get(ADDED)
        if self.add_lands_on_record and added is not None:
            return redirect(url_for(f"{type(self).__name__}.show", pk=added))
        return super().post_add_redirect()

    def _fill_form_exclude_cols(self, exclude_cols, form):
        """Flask-AppBuilder's: a form opened from a record's tab gets the parent from the
        tab's filter (the field is not drawn); it then also counts as typed, so the field's
        required check passes instead of failing unseen."""
        super()._fill_form_exclude_cols(exclude_cols, form)
        for key in exclude_cols:
            field = getattr(form, key, None)
            if field is not None and field.data is not None:
                field.raw_data = [str(fab_compat.view_filters(self).get_filter_value(key))]

    def add_messages(self, item):
        """What a successful add says, worked out before the commit."""
        return [(self.add_row_message, "success")]

    def edit_messages(self, item):
        """What a successful edit says, worked out before the commit."""
        return [(self.edit_row_message, "success")]

    def _edit(self, pk):
        """Flask-AppBuilder's edit, except that a refused or failed save keeps the form with
        every value typed and says why."""
        pages, page_sizes, orders = get_page_args(), get_page_size_args(), get_order_args()
        get_filter_args(fab_compat.view_filters(self), disallow_if_not_in_search=False)
        exclude_cols = fab_compat.view_filters(self).get_relation_cols()
        item = self.datamodel.get(pk, fab_compat.base_filters(self))
        if not item:
            abort(404)
        pk = self.datamodel.get_pk_value(item)
        if request.method == "POST":
            form = self.edit_form.refresh(request.form)
            self._fill_form_exclude_cols(exclude_cols, form)
            fab_compat.mark_form_for_edit(form, pk)
            if form.validate():
                self.process_form(form, False)

                def change():
                    form.populate_obj(item)
                    self.pre_update(item)

                if self._save(change, lambda: self.edit_messages(item), conflict_shown=True):
                    self._after_commit(self.post_update, item)
                    return None
                self.datamodel.session.expire_all()
                item = self.datamodel.get(pk, fab_compat.base_filters(self))
                if item is None:
                    abort(404)
                if isinstance(request.environ.get(REFUSAL), workflow.VersionConflict):
                    show_newer_values(form, item)
        else:
            form = self.edit_form.refresh(obj=item)
            self.prefill_form(form, pk)
        widgets = self._get_edit_widget(form=form, exclude_cols=exclude_cols)
        widgets = fab_compat.related_views_widgets(self, item, filters={}, orders=orders,
                                                   pages=pages, page_sizes=page_sizes,
                                                   widgets=widgets)
        if request.method != "POST":
            self.update_redirect()
        return widgets

    def _delete(self, pk):
        """Flask-AppBuilder's delete, with refusals and failures said in plain words."""
        item = self.datamodel.get(pk, fab_compat.base_filters(self))
        if not item:
            abort(404)

        def change():
            self.pre_delete(item)
            self.datamodel.session.delete(item)

        if self._save(change, lambda: [(self.delete_row_message, "success")]):
            self._after_commit(self.post_delete, item)
        self.update_redirect()

