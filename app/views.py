"""The screens: declarative Flask-AppBuilder views over the domain model, and their menu."""

import csv
import io
import logging
import math
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Response, request, url_for
from flask_appbuilder import ModelView, expose
from flask_appbuilder.models.sqla.filters import FilterEqual
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.urltools import get_filter_args
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import Date, DateTime, Integer, inspect, select
from wtforms import DateField, DateTimeLocalField, HiddenField, SelectField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from app import (audit, display, exporting, exports, fab_compat, filters, importing, models,
                 personal, scope, workflow)
from app.datamodel import PLAIN_ROWS, ZongzhiInterface, eager_options
from app.exporting import ExportMixin
from app.fragments import CachedSearchWidget
from app.models import key_of
from app.saving import GuardedActions, SavingMixin
from app.screens import accounts, cases, home
from app.screens.api import ApiDocsView, CaseApi, EventFeedApi, ReferralApi
from app.screens.attachments import AttachmentView
from app.screens.accounts import PersonalDataView
from app.screens.api_clients import ApiClientView
from app.screens.resources import RESOURCES
from app.screens.dashboard import DashboardView
from app.screens.document_templates import DocumentTemplateView
from app.screens.documents import DocumentView
from app.screens.imports import ImportView
from app.screens.jobs import JobView
from app.screens.messages import NoticeView
from app.labels import LABELS
from app.lookup import LookupView
from app.widgets import LeanListWidget, LeanShowWidget, RemoteSelectField
from flask_appbuilder.security.sqla.models import User

log = logging.getLogger(__name__)

# Related rows are chosen by typing, through these lookups, never from a box holding a whole table.
REMOTE_LOOKUPS = {
    models.Dispute: "dispute",
    models.Expert: "expert",
    models.Staff: "staff",
    models.Party: "party",
    models.Centre: "centre",
    models.StationedUnit: "unit",
    models.Region: "region",
    User: "user",
    models.Category: "category",
    models.Department: "department",
    models.Language: "language",
    models.LegalRoute: "route",
    models.DepartmentFunction: "function",
}


def _finite(form, field):
    """Refuse infinities and not-a-number (1e309, NaN), which would be stored as such."""
    value = field.data
    if value is not None and not (value.is_finite() if hasattr(value, "is_finite")
                                  else math.isfinite(value)):
        raise ValidationError(_l("Enter a real amount."))


def not_negative(high=999_999_999_999):
    """Validators that refuse numbers below zero, as the database does, and numbers the column
    cannot hold."""
    return [_finite, NumberRange(min=0, message=_l("Must not be negative")),
            NumberRange(max=high, message=_l("Enter a number from 0 to %(high)s.", high=high))]


FILTER_ARG = re.compile(r"_flt_\d+_(.+)")


def _without_personal_filters(url, model):
    """The URL without the filter arguments that search a model's personal columns."""
    personal_columns = getattr(model, "personal_columns", {})
    if not personal_columns or "_flt_" not in url:
        return url
    parts = urlsplit(url)
    kept = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True)
            if not ((m := FILTER_ARG.fullmatch(key)) and m.group(1) in personal_columns)]
    return urlunsplit(parts._replace(query=urlencode(kept)))


class ZongzhiModelView(GuardedActions, ExportMixin, SavingMixin, ModelView):
    """The project's base view: Chinese labels, readable values, coded fields as selects."""

    page_size = 25
    noun = None
    list_widget = LeanListWidget
    show_widget = LeanShowWidget
    search_widget = CachedSearchWidget
    # No file columns here: the download endpoint is left without a permission.
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete"]

    def __init__(self, **kwargs):
        model = self.datamodel.obj
        if self.noun is not None:
            self.list_title = _l("%(thing)s list", thing=self.noun)
            self.show_title = _l("Show %(thing)s", thing=self.noun)
            self.add_title = _l("Add %(thing)s", thing=self.noun)
            self.edit_title = _l("Edit %(thing)s", thing=self.noun)
        self.label_columns = {**self._default_labels(), **(self.label_columns or {})}
        self.add_form_extra_fields = {
            **self._generated_fields(self.add_columns or [], dates=True),
            **(self.add_form_extra_fields or {}),
        }
        self.edit_form_extra_fields = {
            **self._generated_fields(self.edit_columns or [], dates=True),
            **(self.edit_form_extra_fields or {}),
        }
        self.search_form_extra_fields = {
            **self._generated_fields(self.search_columns or [], search=True),
            **(self.search_form_extra_fields or {}),
        }
        formatters = {}
        shown = set(self.list_columns or []) | set(self.show_columns or [])
        shown |= self._fieldset_columns(self.show_fieldsets)
        for column in shown:
            owner, name = exporting.column_model(model, column)
            formatters[column] = display.formatter_for(
                getattr(owner, "choice_columns", {}).get(name)
            )
        self.formatters_columns = {**formatters, **(self.formatters_columns or {})}
        # Work phone numbers that are not personal data are still checked for shape.
        phones = {c for c in (self.add_columns or []) + (self.edit_columns or [])
                  if c.endswith("phone") and c not in getattr(model, "personal_columns", {})}
        self.validators_columns = {
            **{c: [Optional(), personal.Phone()] for c in phones},
            **(self.validators_columns or {}),
        }
        self.datamodel.eager = eager_options(model, self.list_columns or [])
        self.datamodel.plain_rows_for(self.list_columns or [])
        if scope.is_scoped(model):
            self.base_filters = [["id", scope.ScopeFilter, None], *(self.base_filters or [])]
        super().__init__(**kwargs)
        # Coded columns are matched exactly (an index lookup), never by prefix.
        for column in getattr(model, "choice_columns", {}):
            self._set_filters(column, lambda found: [
                f for f in found if type(f).__name__ in ("FilterEqual", "FilterNotEqual")])
        # Personal data may be searched by exact match only: no prefixes to enumerate numbers by.
        for column in getattr(model, "personal_columns", {}):
            self._set_filters(column, lambda found: [f for f in found
                                                     if isinstance(f, FilterEqual)])

    def _get_list_widget(self, **kwargs):
        """Flask-AppBuilder's list widget, its rows read as plain rows when its columns allow."""
        token = PLAIN_ROWS.set(self.datamodel)
        try:
            return super()._get_list_widget(**kwargs)
        finally:
            PLAIN_ROWS.reset(token)

    list_template = "zongzhi/list.html"

    def editable(self, item):
        """Whether the record may still be changed (a finished case may not)."""
        return True

    def _filter_summary(self):
        """The filters the list applies, in words ("纠纷类别：民间借贷 · 登记时间：2025年3月"),
        so a list opened from a chart says what it shows."""
        model = self.datamodel.obj
        options = getattr(model, "choice_columns", {})
        personal_columns = getattr(model, "personal_columns", {})
        relations = inspect(model).relationships
        said = []
        for flt, value in fab_compat.view_filters(self).get_filters_values():
            values = value if isinstance(value, list) else [value]
            column = flt.column_name
            label = str(getattr(flt, "label", None) or self.label_columns.get(column, column))
            for one in values:
                if one in (None, ""):
                    continue
                if hasattr(flt, "describe"):
                    text = flt.describe(one)
                elif column in personal_columns:
                    text = personal.mask(personal_columns[column], str(one))
                elif column in options:
                    text = str(options[column].label(one))
                elif column in relations:
                    target = relations[column].mapper.class_
                    key = key_of(one)
                    row = self.datamodel.session.get(target, key) if key is not None else None
                    text = str(row) if row is not None and scope.visible(target, row.id) \
                        else str(one)
                else:
                    text = str(one)
                said.append(f"{label}：{text}")
        return said

    def render_template(self, template, **kwargs):
        """Flask-AppBuilder's, with the list's filters in words for the list page."""
        if template == self.list_template and request.endpoint and \
                request.endpoint.endswith(".list"):
            kwargs.setdefault("filter_summary", self._filter_summary())
        return super().render_template(template, **kwargs)

    def _get_show_widget(self, pk, item, widgets=None, actions=None, show_fieldsets=None):
        """Flask-AppBuilder's record page, with an edit button when the user may edit it."""
        widgets = super()._get_show_widget(pk, item, widgets, actions, show_fieldsets)
        allowed = ("can_edit" in self.base_permissions and item is not None
                   and self.appbuilder.sm.has_access("can_edit", self.class_permission_name)
                   and self.editable(item) and scope.visible(type(item), item.id, write=True))
        widgets["show"].template_args["edit_url"] = \
            url_for(f"{self.endpoint}.edit", pk=pk) if allowed else None
        return widgets

    def update_redirect(self):
        """Flask-AppBuilder's back-link history, written only when it changes (rewriting it on
        every page made every response sign and send a new session cookie), and without the
        values of searches on personal data: the session cookie is signed, not encrypted, so an
        ID number searched for would sit readable in it."""
        url = _without_personal_filters(request.url, self.datamodel.obj)
        history = fab_compat.page_history()
        if not history or history[-1] != url:
            fab_compat.push_page_history(url)

    def _set_filters(self, column, change):
        """Change the filters a column offers, in the search form and in URLs alike
        (Flask-AppBuilder reads URL filters from every column, not only the searchable ones)."""
        filters = fab_compat.view_filters(self)
        for offered in (filters.get_search_filters(), fab_compat.offered_filters(filters)):
            if column in offered:
                offered[column] = change(offered[column])

    def _list_widget_of(self, rows, filters):
        """The list widget for rows already loaded (all of them, on one page), as
        Flask-AppBuilder's _get_list_widget builds it from a query."""
        rows = _in_base_order(rows, self.base_order)
        return self.list_widget(
            label_columns=self.label_columns, include_columns=self.list_columns,
            value_columns=self.datamodel.get_values(rows, self.list_columns),
            order_columns=self.order_columns, formatters_columns=self.formatters_columns,
            page=None, page_size=self.page_size, count=len(rows),
            pks=self.datamodel.get_keys(rows), actions=self.actions, filters=filters,
            modelview_name=self.__class__.__name__)

    def _check_scope(self, item):
        """Refuse, with a message, a write that would leave the user's scope."""
        try:
            scope.ensure_writable(item)
        except scope.OutOfScope:
            self.datamodel.session.rollback()
            audit.record("access_denied", item.__tablename__, getattr(item, "id", None),
                         outcome="denied", detail={"write": request.endpoint})
            raise

    def pre_add(self, item):
        """New rows must belong inside the user's scope."""
        self._check_scope(item)

    def pre_update(self, item):
        """Edits cannot move a row out of the user's scope."""
        self._check_scope(item)

    def pre_delete(self, item):
        """Only rows inside the scope can be deleted (the list already hides the others)."""
        self._check_scope(item)

    @staticmethod
    def _fieldset_columns(fieldsets):
        """The columns named in Flask-AppBuilder fieldsets."""
        return {column for _title, spec in (fieldsets or []) for column in spec["fields"]}

    def _default_labels(self):
        """Labels for every column the view mentions, from the shared catalogue of labels."""
        columns = self._fieldset_columns(self.show_fieldsets)
        for group in ("list_columns", "show_columns", "add_columns", "edit_columns",
                      "search_columns"):
            columns.update(getattr(self, group, None) or [])
        return {column: LABELS.get(column, LABELS.get(column.split(".")[0], column))
                for column in columns}

    def _generated_fields(self, columns, search=False, dates=False):
        """Selects for coded columns, search-as-you-type for relations, the browser's date inputs."""
        model = self.datamodel.obj
        mapper = inspect(model)
        fields = {}
        personal_columns = getattr(model, "personal_columns", {})
        for column in columns:
            label = LABELS.get(column, column)
            if column in personal_columns and not search:
                kind = personal_columns[column]
                check = {"id": personal.IdNumber(), "phone": personal.Phone()}.get(kind)
                fields[column] = personal.PersonalDataField(
                    label, kind=kind, validators=[Optional()] + ([check] if check else []),
                    render_kw={"class": "form-control"})
                continue
            if dates and column in mapper.columns:
                col = mapper.columns[column]
                checks = [InputRequired()] if not col.nullable else [Optional()]
                # The browser draws these in the user's language, with no script and offline.
                if isinstance(col.type, DateTime):
                    fields[column] = DateTimeLocalField(
                        label, format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"], validators=checks,
                        render_kw={"class": "form-control"})
                    continue
                if isinstance(col.type, Date):
                    fields[column] = DateField(label, validators=checks,
                                               render_kw={"class": "form-control"})
                    continue
            options = getattr(model, "choice_columns", {}).get(column)
            if options is not None:
                col = mapper.columns[column]
                required = not col.nullable and not search
                default = col.default.arg if col.default is not None and col.default.is_scalar else None
                coerce = int if isinstance(col.type, Integer) else str
                fields[column] = SelectField(
                    label,
                    choices=options.form_choices(blank=not required),
                    coerce=(lambda v, c=coerce: c(v) if v not in ("", None) else None),
                    default=default,
                    validators=[InputRequired()] if required else [Optional()],
                )
                continue
            if column in mapper.relationships:
                rel = mapper.relationships[column]
                target = rel.mapper.class_
                lookup = REMOTE_LOOKUPS.get(target)
                if lookup is None:
                    continue
                multiple = rel.uselist
                required = (not multiple and not search
                            and all(not c.nullable for c in rel.local_columns))
                fields[column] = RemoteSelectField(
                    label,
                    model=target,
                    lookup=lookup,
                    multiple=multiple,
                    allow_blank=not required,
                    placeholder=_l("Type to search"),
                    validators=[InputRequired()] if required else [Optional()],
                )
        return fields


class ReadOnlyModelView(ZongzhiModelView):
    """A view whose rows are written by the system, never by hand."""

    base_permissions = ["can_list", "can_show"]


class RegionModelView(ZongzhiModelView):
    """Administrative divisions."""

    # Exported as the import file has them: export, edit, import again.
    export_columns = importing.export_columns("region")

    noun = _l("Administrative division")
    datamodel = ZongzhiInterface(models.Region)
    list_columns = ["code", "name", "level", "parent"]
    show_columns = ["code", "name", "level", "parent", "path"]
    add_columns = edit_columns = ["code", "name", "level", "parent"]
    search_columns = ["code", "name", "level", "parent"]
    base_order = ("path", "asc")


class DepartmentFunctionModelView(ZongzhiModelView):
    """Functions departments perform."""

    noun = _l("Department function")
    datamodel = ZongzhiInterface(models.DepartmentFunction)
    list_columns = show_columns = ["name", "merged_service"]
    add_columns = edit_columns = ["code", "name", "merged_service"]
    search_columns = ["name", "merged_service"]


class CategoryModelView(ZongzhiModelView):
    """Dispute categories."""

    noun = _l("Dispute category")
    datamodel = ZongzhiInterface(models.Category)
    list_columns = show_columns = ["name", "description"]
    add_columns = edit_columns = ["code", "name", "description"]
    search_columns = ["name"]


class LegalRouteModelView(ZongzhiModelView):
    """The legal route map and its statutory clocks."""

    validators_columns = {"days_to_accept": not_negative(),
                          "days_to_handle": [NumberRange(min=1, message=_l("Must be at least 1"))],
                          "max_extension_days": not_negative()}

    noun = _l("Legal route")
    datamodel = ZongzhiInterface(models.LegalRoute)
    list_columns = ["sort_order", "name", "days_to_accept", "days_to_handle",
                    "max_extension_days", "extension_needs_approval"]
    show_columns = ["name", "sort_order", "days_to_accept", "days_to_handle",
                    "max_extension_days", "extension_needs_approval", "description"]
    add_columns = edit_columns = ["code", *show_columns]
    search_columns = ["name"]
    base_order = ("sort_order", "asc")


class LanguageModelView(ZongzhiModelView):
    """Languages of mediation."""

    noun = _l("Language")
    datamodel = ZongzhiInterface(models.Language)
    list_columns = show_columns = add_columns = edit_columns = search_columns = ["code", "name"]


class RotaSlotModelView(ZongzhiModelView):
    """Weekdays on which rotating units sit at the centre."""

    noun = _l("Rota slot")
    datamodel = ZongzhiInterface(models.RotaSlot)
    list_columns = ["unit", "weekday", "note"]
    show_columns = add_columns = edit_columns = ["unit", "weekday", "note"]
    search_columns = ["unit", "weekday"]
    base_order = ("weekday", "asc")


class StationedUnitModelView(ZongzhiModelView):
    """Departments stationed at centres, with their mode and rota."""

    # Exported as the import file has them: export, edit, import again.
    export_columns = importing.export_columns("unit")

    validators_columns = {"staff_count": not_negative()}

    noun = _l("Stationed unit")
    datamodel = ZongzhiInterface(models.StationedUnit)
    list_columns = ["centre.name", "department.name", "mode", "window", "staff_count", "active"]
    show_columns = ["centre", "department", "mode", "window", "contact_phone", "staff_count",
                    "stationed_since", "active"]
    add_columns = edit_columns = ["centre", "department", "mode", "window", "contact_phone",
                                  "staff_count", "stationed_since", "active"]
    search_columns = ["centre", "department", "mode", "active"]
    related_views = [RotaSlotModelView]
    base_order = ("centre_id", "asc")


class DepartmentModelView(ZongzhiModelView):
    """Departments, their functions and the dispute categories they answer for."""

    noun = _l("Department")
    datamodel = ZongzhiInterface(models.Department)
    list_columns = ["name", "functions"]
    show_columns = ["name", "functions", "categories", "description"]
    add_columns = edit_columns = ["code", "name", "functions", "categories", "description"]
    search_columns = ["name", "functions"]
    related_views = [StationedUnitModelView]


class StaffModelView(ZongzhiModelView):
    """People working at centres."""

    # Exported as the import file has them: export, edit, import again.
    export_columns = importing.export_columns("staff")

    noun = _l("Staff member")
    datamodel = ZongzhiInterface(models.Staff)
    list_columns = ["name", "centre.name", "unit", "position", "is_mediator", "active"]
    show_columns = ["name", "user", "centre", "unit", "position", "phone", "is_mediator",
                    "languages", "active"]
    add_columns = edit_columns = ["name", "user", "centre", "unit", "position", "phone",
                                  "is_mediator", "languages", "active"]
    search_columns = ["name", "centre", "unit", "is_mediator", "active"]


class ExpertModelView(ZongzhiModelView):
    """The electronic library of expert mediators."""

    # Exported as the import file has them: export, edit, import again.
    export_columns = importing.export_columns("expert")

    noun = _l("Expert mediator")
    datamodel = ZongzhiInterface(models.Expert)
    list_columns = ["name", "organisation", "specialties", "centre.name", "books_appointment",
                    "books_on_call", "books_video", "active"]
    show_columns = ["name", "organisation", "title", "phone", "centre", "region", "specialties",
                    "languages", "books_appointment", "books_on_call", "books_video", "bio",
                    "active"]
    add_columns = edit_columns = show_columns

    def prefill_add_form(self, form):
        """An expert added from a centre's page serves that centre's county by default."""
        filters = fab_compat.view_filters(self)
        if "centre" not in filters.get_relation_cols() or "region" not in form:
            return
        value = filters.get_filter_value("centre")
        key = key_of(value[0] if isinstance(value, list) and value else value)
        centre = self.datamodel.session.get(models.Centre, key) if key is not None else None
        if centre is not None and scope.visible(models.Centre, centre.id):
            form.region.data = centre.region

    search_columns = ["name", "organisation", "centre", "region", "specialties", "languages",
                      "books_appointment", "books_on_call", "books_video", "active"]


class PartyModelView(ZongzhiModelView):
    """Parties to disputes."""

    base_order = ("id", "asc")  # in the order they were entered, on every engine

    def editable(self, item):
        """The parties of a finished case are fixed with it."""
        return item.dispute is None or item.dispute.status not in workflow.FINISHED

    def pre_add(self, item):
        """Parties of a concluded case are fixed, like the case; a party seen in an open or
        recent case makes this a repeat dispute (linked in the same transaction)."""
        super().pre_add(item)
        _case_must_be_open(self.datamodel.session, item)
        _note_repeat(self.datamodel.session, item)

    def pre_update(self, item):
        """The same rules after an edit (an ID number may have changed)."""
        super().pre_update(item)
        _case_must_be_open(self.datamodel.session, item)
        _note_repeat(self.datamodel.session, item)

    def add_messages(self, item):
        """Saved, and a repeat dispute named when one was found."""
        return [*super().add_messages(item), *cases.repeat_messages()]

    def edit_messages(self, item):
        """Saved, and a repeat dispute named when one was found."""
        return [*super().edit_messages(item), *cases.repeat_messages()]

    noun = _l("Party")
    datamodel = ZongzhiInterface(models.Party)
    list_columns = ["dispute.case_no", "role", "name", "id_number", "phone"]
    show_columns = ["dispute", "role", "name", "id_number", "phone", "address"]
    add_columns = edit_columns = ["dispute", "role", "name", "id_number", "phone", "address"]
    search_columns = ["dispute", "role", "name", "id_number"]


def _case_must_be_open(session, party):
    """Refuse changing the parties of a finished case."""
    case = party.dispute or session.get(models.Dispute, party.dispute_id)
    if case is not None:
        try:
            workflow.check_editable(case)
        except workflow.WorkflowError:
            session.rollback()
            raise


def _note_repeat(session, party):
    """Link a party's case to an earlier one sharing an ID number (see cases.link_repeat)."""
    case = party.dispute or session.get(models.Dispute, party.dispute_id)
    if case is not None:
        cases.link_repeat(session, case)


class ReferralModelView(cases.ReferralPage, ZongzhiModelView):
    """Referrals from centres to stationed units: sent from the case page, worked by the unit."""

    noun = _l("Referral")
    datamodel = ZongzhiInterface(models.Referral)
    base_permissions = ["can_list", "can_show", "can_step"]
    method_permission_name = {"step": "step"}
    label_columns = {"position": _l("Order")}
    list_columns = ["dispute.case_no", "unit", "status", "sent_at", "respond_due", "answer_due",
                    "reported_at", "answered_at"]
    show_columns = ["dispute", "unit", "status", "summoned", "position", "instructions", "sent_at",
                    "respond_due", "reported_at", "answer_due", "answered_at", "result",
                    "returned_at", "return_reason", "sent_by"]
    search_columns = ["dispute", "unit", "status", "summoned", "sent_at", "respond_due",
                      "answer_due"]
    base_order = ("sent_at", "desc")
    show_template = "zongzhi/referral_show.html"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # Overdue referrals, the dashboard's drill-down: the condition the figure counts.
        self._set_filters("status", lambda found: [
            *found, filters.FilterOverdue("status", self.datamodel)])

class MediationSessionModelView(ZongzhiModelView):
    """Mediation sessions and online hearings."""

    validators_columns = {"duration_minutes": [NumberRange(min=1, message=_l("Must be at least 1"))]}

    noun = _l("Mediation session")
    datamodel = ZongzhiInterface(models.MediationSession)
    list_columns = ["dispute.case_no", "scheduled_at", "mode", "expert", "staff", "result",
                    "follow_up_on"]
    show_columns = ["dispute", "scheduled_at", "duration_minutes", "mode", "place", "link",
                    "expert", "staff", "result", "agreement_text", "performance_method",
                    "performance_due", "follow_up_on", "followed_up_at", "follow_up_note"]
    # Booked, decided and followed up from the case page, through the workflow.
    base_permissions = ["can_list", "can_show"]
    search_columns = ["dispute", "scheduled_at", "mode", "expert", "staff", "result",
                      "follow_up_on"]
    base_order = ("scheduled_at", "desc")


class FeedbackModelView(ZongzhiModelView):
    """Parties' satisfaction after conclusion."""

    noun = _l("Feedback record")
    datamodel = ZongzhiInterface(models.Feedback)
    list_columns = ["dispute.case_no", "satisfaction", "channel", "collected_at", "note"]
    show_columns = ["dispute", "satisfaction", "channel", "collected_at", "collected_by", "note"]
    # Collected from the case page: feedback closes the loop, so it goes through the workflow.
    base_permissions = ["can_list", "can_show"]
    search_columns = ["dispute", "satisfaction", "channel", "collected_at"]
    base_order = ("collected_at", "desc")


class CaseEventModelView(ReadOnlyModelView):
    """The timeline of every case: written by the workflow, read by people."""

    noun = _l("Timeline entry")
    datamodel = ZongzhiInterface(models.CaseEvent)
    list_columns = ["dispute.case_no", "at", "action", "from_status", "to_status", "actor",
                    "note"]
    show_columns = ["dispute", "at", "action", "from_status", "to_status", "actor", "note"]
    search_columns = ["dispute", "at", "action", "actor"]
    base_order = ("at", "desc")


class DispatchRuleModelView(ZongzhiModelView):
    """The weights behind dispatch suggestions, tuned by the administrator."""

    noun = _l("Dispatch rule")
    datamodel = ZongzhiInterface(models.DispatchRule)
    base_permissions = ["can_list", "can_show", "can_edit"]
    list_columns = ["name", "weight", "enabled"]
    show_columns = edit_columns = ["name", "weight", "enabled", "description"]
    search_columns = ["name", "enabled"]
    base_order = ("id", "asc")


class ServiceRecordModelView(ZongzhiModelView):
    """Counts of the centres' other services."""

    validators_columns = {"count": not_negative()}

    noun = _l("Service record")
    datamodel = ZongzhiInterface(models.ServiceRecord)
    list_columns = ["centre.name", "kind", "count", "period_start", "period_end"]
    show_columns = add_columns = edit_columns = [
        "centre", "kind", "count", "period_start", "period_end", "note"]
    search_columns = ["centre", "kind", "period_start", "period_end"]
    base_order = ("period_start", "desc")

    def _check_period(self, item):
        """One calendar month at most, and not ending before it starts."""
        problem = item.period_problem()
        if problem:
            raise workflow.WorkflowError(problem)

    def pre_add(self, item):
        """The period's rule, then the scope."""
        self._check_period(item)
        super().pre_add(item)

    def pre_update(self, item):
        """The period's rule, then the scope."""
        self._check_period(item)
        super().pre_update(item)


class DisputeModelView(cases.CasePage, ZongzhiModelView):
    """Disputes: registered here, then carried through the closed loop on the case page."""

    validators_columns = {"amount": not_negative()}
    noun = _l("Dispute")
    datamodel = ZongzhiInterface(models.Dispute)
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete", "can_step"]
    method_permission_name = {"step": "step", "accept_selected": "step"}
    list_columns = ["case_no", "title", "centre.short_name", "category.name", "source", "level",
                    "status", "registered_at"]
    # Sorting is offered on the columns an index keeps in order: at a million cases any other
    # order is a sort of every row the filters keep.
    order_columns = ["case_no", "source", "level", "status", "registered_at"]
    show_fieldsets = [
        (_l("Case"), {"fields": ["case_no", "title", "centre", "category", "description",
                                 "amount", "source", "level", "risk", "place", "route",
                                 "language", "handler", "repeat_of"]}),
        (_l("Progress"), {"fields": ["status", "registered_at", "accept_due", "accepted_at",
                                     "declined_at", "decline_reason", "referred_at",
                                     "handle_due", "extension_days", "concluded_at", "outcome",
                                     "outcome_note", "resolved_level", "closed_at",
                                     "registered_by"]}),
    ]
    add_columns = ["centre", "category", "title", "description", "amount", "source", "level",
                   "risk", "place", "route", "language", "handler"]
    # The two sides are entered with the case (more parties are added on the case page).
    REGISTERED_PARTIES = ("applicant", "respondent")
    add_fieldsets = [
        (_l("Case"), {"fields": add_columns}),
        *((models.choices.PARTY_ROLE.label(role),
           {"fields": [f"{role}_name", f"{role}_id_number", f"{role}_phone"]})
          for role in REGISTERED_PARTIES),
    ]
    add_form_extra_fields = {
        field: maker for role in REGISTERED_PARTIES for field, maker in (
            (f"{role}_name", StringField(
                LABELS["name"], validators=[InputRequired(), Length(max=50)],
                render_kw={"class": "form-control"})),
            (f"{role}_id_number", personal.PersonalDataField(
                LABELS["id_number"], kind="id", validators=[Optional(), personal.IdNumber()],
                render_kw={"class": "form-control"})),
            (f"{role}_phone", personal.PersonalDataField(
                LABELS["phone"], kind="phone", validators=[Optional(), personal.Phone()],
                render_kw={"class": "form-control"})))}
    # The case register (台账) a centre files: what the list's export writes.
    export_columns = ["case_no", "registered_at", "centre.short_name",
                      exporting.Computed("parties", _l("Parties"), fetch=exporting.case_parties),
                      "category.name", "title", "amount", "source", "level", "status",
                      exporting.Computed("units", _l("Referred units"), fetch=exporting.case_units),
                      "outcome", "resolved_level", "concluded_at",
                      exporting.Computed("days", _l("Days taken"), exporting.case_days,
                                         reads=("conclude_seconds",))]
    edit_columns = ["category", "title", "description", "amount", "source", "level", "risk",
                    "place", "route", "language", "handler", "version"]
    edit_form_extra_fields = {"version": HiddenField()}
    search_columns = ["case_no", "title", "centre", "category", "source", "level", "risk",
                      "status", "registered_at", "concluded_at"]
    related_views = [PartyModelView, ReferralModelView, MediationSessionModelView,
                     FeedbackModelView, CaseEventModelView]
    base_order = ("registered_at", "desc")
    show_template = "zongzhi/case_show.html"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # The title column's first filter is the text search over title and description.
        self._set_filters("title", lambda found: [
            filters.TextSearchFilter("title", self.datamodel), *found])
        # The dashboard's drill-down links: the same conditions as the figures they open.
        for column, extra in (("centre", filters.FilterInArea),
                              ("registered_at", filters.FilterInPeriod),
                              ("concluded_at", filters.FilterConcludedIn),
                              ("status", filters.FilterReached)):
            self._set_filters(column, lambda found, extra=extra, column=column: [
                *found, extra(column, self.datamodel)])

    def pre_add(self, item):
        """Check the centre is in scope, then number and register the case through the workflow,
        with the parties typed on the form (a repeat dispute is linked at once)."""
        super().pre_add(item)
        session = self.datamodel.session
        item.parties = [models.Party(role=role, name=getattr(item, f"{role}_name", None),
                                     id_number=getattr(item, f"{role}_id_number", None) or None,
                                     phone=getattr(item, f"{role}_phone", None) or None)
                        for role in self.REGISTERED_PARTIES]
        workflow.register(session, item, actor=current_user)
        cases.link_repeat(session, item)

    add_lands_on_record = True

    def prefill_add_form(self, form):
        """A clerk registers at their own centre, as the handler, at the county level (the
        centres are county centres); all can be changed within the scope."""
        staff = self.datamodel.session.scalar(
            select(models.Staff).filter_by(user_id=getattr(current_user, "id", None)))
        centre = staff.centre if staff is not None else None
        own = scope.current()
        if centre is None and own.path and own.unit_id is None:
            centre = self.datamodel.session.scalar(
                select(models.Centre).join(models.Region).where(models.Region.path == own.path))
        if centre is not None and scope.visible(models.Centre, centre.id):
            form.centre.data = centre
        if staff is not None and "handler" in form:
            form.handler.data = staff
        if "level" in form and not form.level.data:
            form.level.data = "county"

    def add_messages(self, item):
        """Tell the user the case number the system gave (and a repeat dispute found)."""
        return [(_l("Case %(case_no)s registered", case_no=item.case_no), "info"),
                *cases.repeat_messages()]

def _in_base_order(rows, order):
    """Rows in a view's base order (column, direction; no blanks), ties by key in the same
    direction, as Flask-AppBuilder orders its query."""
    column, direction = order
    return sorted(rows, key=lambda row: (getattr(row, column), row.id),
                  reverse=direction == "desc")


class CentreModelView(ZongzhiModelView):
    """County centres: where they are, who leads them, how they were built."""

    noun = _l("Centre")
    datamodel = ZongzhiInterface(models.Centre)
    list_columns = ["name", "region.parent", "is_pilot", "standard_status", "origin",
                    "opened_on", "director"]
    show_columns = ["name", "short_name", "region", "director", "head", "address", "phone",
                    "opened_on", "is_pilot", "standard_status", "origin", "notes"]
    add_columns = edit_columns = show_columns
    search_columns = ["name", "region", "is_pilot", "standard_status", "origin", "opened_on"]
    related_views = [StationedUnitModelView, StaffModelView, ExpertModelView, DisputeModelView,
                     ServiceRecordModelView]
    base_order = ("name", "asc")


class AuditLogModelView(ReadOnlyModelView):
    """The audit trail: read and exported by the auditor, changed by nobody."""

    datamodel = ZongzhiInterface(models.AuditLog)
    noun = _l("Audit record")
    base_permissions = ["can_list", "can_show", "can_export"]
    list_columns = ["at", "username", "ip", "action", "object_type", "object_id", "outcome"]
    show_columns = ["at", "user_id", "username", "ip", "action", "object_type", "object_id",
                    "outcome", "detail"]
    search_columns = ["at", "username", "ip", "action", "object_type", "object_id", "outcome"]
    base_order = ("at", "desc")
    list_template = "zongzhi/audit_list.html"
    label_columns = {"action": _l("Operation"), "outcome": _l("Result")}
    formatters_columns = {"object_type": lambda table: str(TABLE_NOUNS.get(table, table or ""))}
    EXPORT_LIMIT = 100000

    @expose("/export/")
    @has_access
    def export(self):
        """The records the current filters select, as a CSV file Excel opens in Chinese."""
        filters = fab_compat.view_filters(self)
        get_filter_args(filters)
        joined = filters.get_joined_filters(fab_compat.base_filters(self))
        _count, rows = self.datamodel.query(joined, "at", "desc", page=0,
                                            page_size=self.EXPORT_LIMIT)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(exports.safe_row(str(self.label_columns[c]) for c in self.show_columns))
        for row in rows:
            writer.writerow(exports.safe_row(self.formatters_columns[c](getattr(row, c))
                                             for c in self.show_columns))
        audit.record("export", "audit_log", detail={"rows": len(rows), "filters": request.args})
        return Response("\ufeff" + out.getvalue(), mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": "attachment; filename=audit-log.csv"})


MENU = [
    # (view, name, label, icon, category)
    (DisputeModelView, "Disputes", _l("Disputes"), "fa-folder-open", "CaseWork"),
    (PartyModelView, "Parties", _l("Parties"), "fa-users", "CaseWork"),
    (ReferralModelView, "Referrals", _l("Referrals"), "fa-share", "CaseWork"),
    (MediationSessionModelView, "Sessions", _l("Mediation sessions"), "fa-comments", "CaseWork"),
    (FeedbackModelView, "Feedback", _l("Feedback"), "fa-smile-o", "CaseWork"),
    (CaseEventModelView, "Timeline", _l("Case timeline"), "fa-history", "CaseWork"),
    (ExpertModelView, "Experts", _l("Expert mediators"), "fa-graduation-cap", "Experts"),
    (CentreModelView, "Centres", _l("Centres"), "fa-building", "CentreSetup"),
    (StationedUnitModelView, "StationedUnits", _l("Stationed units"), "fa-sitemap",
     "CentreSetup"),
    (RotaSlotModelView, "Rota", _l("Rota"), "fa-calendar", "CentreSetup"),
    (StaffModelView, "Staff", _l("Staff"), "fa-id-badge", "CentreSetup"),
    (DepartmentModelView, "Departments", _l("Departments"), "fa-university", "CentreSetup"),
    (DepartmentFunctionModelView, "Functions", _l("Department functions"), "fa-tags",
     "CentreSetup"),
    (CategoryModelView, "Categories", _l("Dispute categories"), "fa-list", "CentreSetup"),
    (LegalRouteModelView, "Routes", _l("Legal route map"), "fa-road", "CentreSetup"),
    (LanguageModelView, "Languages", _l("Languages"), "fa-language", "CentreSetup"),
    (RegionModelView, "Regions", _l("Administrative divisions"), "fa-map", "CentreSetup"),
    (DispatchRuleModelView, "DispatchRules", _l("Dispatch rules"), "fa-sliders", "CentreSetup"),
    (ServiceRecordModelView, "ServiceRecords", _l("Service records"), "fa-bar-chart",
     "Statistics"),
    (AuditLogModelView, "AuditLog", _l("Audit log"), "fa-eye", "Audit"),
]

CATEGORIES = {
    "CaseWork": (_l("Case work"), "fa-briefcase"),
    "Experts": (_l("Expert library"), "fa-graduation-cap"),
    "CentreSetup": (_l("Centre setup"), "fa-cogs"),
    "Statistics": (_l("Statistics"), "fa-line-chart"),
    "Audit": (_l("Security audit"), "fa-shield"),
    "DataExchange": (_l("Data import"), "fa-upload"),
}


class HomeView(home.HomeView):
    """The landing page, its shortcuts the menu's lists."""

    menu = MENU


class RolePermissionsView(accounts.RolePermissionsView):
    """What each role may do, described by the menu's screens."""

    menu = MENU


# What the audit trail calls each table: the noun of its screen.
TABLE_NOUNS = {view.datamodel.obj.__tablename__: view.noun for view, *_ in MENU}
TABLE_NOUNS.update({"ab_user": _l("Users"), "ab_role": _l("Roles"),
                    "case_document": _l("Documents"), "attachment": _l("Case files"),
                    "document_template": _l("Document templates"),
                    "notice_preference": _l("Message settings")})


def register(appbuilder):
    """Add every screen to the app under the Chinese menu, grouped by job."""
    appbuilder.add_view_no_menu(LookupView)
    appbuilder.add_view_no_menu(PersonalDataView)
    appbuilder.add_view_no_menu(CaseApi)
    appbuilder.add_view_no_menu(ReferralApi)
    appbuilder.add_view_no_menu(EventFeedApi)
    appbuilder.add_view_no_menu(ApiDocsView)
    for resource in RESOURCES:
        appbuilder.add_view_no_menu(resource)
    appbuilder.add_view_no_menu(DocumentView)
    appbuilder.add_view_no_menu(AttachmentView)
    appbuilder.add_view_no_menu(NoticeView)
    appbuilder.add_view(JobView, "Jobs", label=_l("Background jobs"), icon="fa-tasks",
                        category="Security")
    appbuilder.add_view(ApiClientView, "ApiClients", label=_l("API clients"), icon="fa-plug",
                        category="Security")
    appbuilder.add_view(RolePermissionsView, "RolePermissions", label=_l("Role permissions"),
                        icon="fa-key", category="Security")
    for view, name, label, icon, category in MENU:
        category_label, category_icon = CATEGORIES[category]
        appbuilder.add_view(view, name, label=label, icon=icon, category=category,
                            category_label=category_label, category_icon=category_icon)
    label, icon = CATEGORIES["Statistics"]
    appbuilder.add_view(DashboardView, "Dashboard", label=_l("Dashboard"), icon="fa-dashboard",
                        category="Statistics", category_label=label, category_icon=icon)
    for chart, chart_label in DashboardView.CHARTS.items():
        appbuilder.add_link(f"Chart{chart.title()}", href=f"/dashboard/chart/{chart}",
                            label=chart_label, icon="fa-bar-chart", category="Statistics")
    appbuilder.add_link("FigureDefinitions", href="/dashboard/definitions",
                        label=_l("Figure definitions"), icon="fa-book", category="Statistics")
    label, icon = CATEGORIES["CentreSetup"]
    appbuilder.add_view(DocumentTemplateView, "DocumentTemplates", label=_l("Document templates"),
                        icon="fa-file-text-o", category="CentreSetup", category_label=label,
                        category_icon=icon)
    label, icon = CATEGORIES["DataExchange"]
    appbuilder.add_view(ImportView, "Import", label=_l("Data import"), icon="fa-upload",
                        category="DataExchange", category_label=label, category_icon=icon)
