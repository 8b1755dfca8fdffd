"""Form fields for related rows that can be many: a select box that searches as you type."""

import re

from flask_appbuilder.widgets import ListWidget, ShowWidget

from flask import current_app, request, url_for
from flask_babel import lazy_gettext
from markupsafe import Markup, escape
from wtforms import SelectFieldBase
from wtforms.validators import ValidationError

from app import exporting, pagination, scope
from app.extensions import db
from app.models import key_of


class RemoteSelectWidget:
    """Renders a select holding only the chosen row; the browser asks the lookup for the rest."""

    def __call__(self, field, **kwargs):
        kwargs.setdefault("id", field.id)
        css = kwargs.pop("class", "") or kwargs.pop("class_", "")
        attrs = {
            "class": f"{css} form-control remote-select".strip(),
            "data-lookup": url_for("LookupView.lookup", kind=field.lookup),
            "data-placeholder": str(field.placeholder),
            "data-allow-clear": "true" if field.allow_blank else "false",
            "name": field.name,
            **kwargs,
        }
        if field.multiple:
            attrs["multiple"] = "multiple"
        html = ["<select %s>" % " ".join(f'{k}="{escape(v)}"' for k, v in attrs.items())]
        if field.allow_blank and not field.multiple:
            html.append('<option value=""></option>')
        for pk, label, selected in field.iter_choices_for_render():
            flag = " selected" if selected else ""
            html.append(f'<option value="{escape(pk)}"{flag}>{escape(label)}</option>')
        html.append("</select>")
        return Markup("".join(html))


class RemoteSelectField(SelectFieldBase):
    """A related row chosen by typing; only the chosen row is ever loaded."""

    widget = RemoteSelectWidget()

    def __init__(self, label=None, validators=None, model=None, lookup=None, allow_blank=False,
                 multiple=False, placeholder="", **kwargs):
        super().__init__(label, validators, **kwargs)
        self.model = model
        self.lookup = lookup
        self.allow_blank = allow_blank
        self.multiple = multiple
        self.placeholder = placeholder
        self._formdata = None

    def _rows(self, pks):
        """The rows for the given keys, in one query."""
        keys = [key for key in map(key_of, pks) if key is not None]
        if not keys:
            return []
        query = db.session.query(self.model).filter(self.model.id.in_(keys))
        where = scope.condition(self.model)
        # A key outside the user's scope is treated as no choice at all.
        return (query if where is None else query.filter(where)).all()

    def process_formdata(self, valuelist):
        """Keep the posted keys; they are turned into rows when data is read."""
        values = [v for v in valuelist if v not in ("", "__None")]
        if self.multiple:
            self.data = self._rows(values)
        else:
            rows = self._rows(values[:1])
            self.data = rows[0] if rows else None
            self._formdata = values[0] if values else None

    def pre_validate(self, form):
        """Refuse a key that names no row."""
        if not self.multiple and self._formdata is not None and self.data is None:
            raise ValidationError(self.gettext("Not a valid choice"))

    def _active_filter_keys(self):
        """Keys given to this field as list filters in the URL (_flt_N_<name>=pk)."""
        pattern = re.compile(rf"^_flt_\d+_{re.escape(self.name)}$")
        return [v for k in request.args for v in request.args.getlist(k) if pattern.match(k)]

    def iter_choices_for_render(self):
        """The chosen rows, plus those named by active filters, as (pk, label, selected)."""
        if self.multiple:
            chosen = [row for row in (self.data or []) if row is not None]
        else:
            chosen = [self.data] if self.data is not None else []
        seen = {row.id for row in chosen}
        for row in chosen:
            yield str(row.id), str(row), True
        extra = [pk for pk in self._active_filter_keys() if str(pk) not in {str(s) for s in seen}]
        for row in self._rows(extra):
            yield str(row.id), str(row), False

    def iter_choices(self):
        """WTForms' choice protocol, limited to what is rendered."""
        for pk, label, selected in self.iter_choices_for_render():
            yield pk, label, selected, {}


class LeanListWidget(ListWidget):
    """Flask-AppBuilder's list table with the per-page work done once (permissions, URLs,
    labels) and each cell written once per distinct value of its column; the table itself is
    the template zongzhi/widgets/list.html."""

    template = "zongzhi/widgets/list.html"
    BUTTONS = (("can_show", "show", "fa-search", lazy_gettext("Show record"), lazy_gettext("Show")),
               ("can_edit", "edit", "fa-edit", lazy_gettext("Edit record"), lazy_gettext("Edit")),
               ("can_delete", "delete", "fa-trash", lazy_gettext("Delete record"),
                lazy_gettext("Delete")))
    # A column whose value names the record: its cell links to the record's page.
    LINKED = ("case_no",)

    def __call__(self, **kwargs):
        """The table, with its permissions, links and headings worked out once per page."""
        args = {**self.template_args, **kwargs}
        name = args["modelview_name"]
        helpers = current_app.jinja_env.filters
        allowed = {permission: helpers["is_item_visible"](permission, name)
                   for permission in ("can_add", "can_show", "can_edit", "can_delete")}
        actions = helpers["get_actions_on_list"](args.get("actions") or {}, name)
        suffix = helpers["set_link_filters"]("", args["filters"])
        buttons = []
        for permission, endpoint, icon, title, label in self.BUTTONS:
            url = url_for(f"{name}.{endpoint}", pk=KEY_MARK) if allowed[permission] else None
            if url:
                buttons.append({"endpoint": endpoint, "url": url[:-len(str(KEY_MARK))],
                                "icon": icon, "title": str(title), "label": str(label)})
        show = next((b["url"] for b in buttons if b["endpoint"] == "show"), None)
        formatters = args.get("formatters_columns") or {}
        columns = [(column, _cell_writer(formatters.get(column)),
                    bool(show) and column in self.LINKED) for column in args["include_columns"]]
        add = helpers["safe_url_for"](f"{name}.add") if allowed["can_add"] else None
        header = pagination.list_bar(name, args.get("page"), args["page_size"], args["count"],
                                     add and add + suffix, actions, exporting.export_links(name))
        return super().__call__(**kwargs, header=header, actions=actions, buttons=buttons,
                                columns=columns, show=show, suffix=suffix,
                                rows=zip(args["pks"], args["value_columns"]),
                                heads=list(self._heads(args)))

    @staticmethod
    def _heads(args):
        """The column headings as (label, order link or None, icon): those an index can order
        by link to that order."""
        name, labels = args["modelview_name"], args["label_columns"]
        current = request.args.get(f"_oc_{name}")
        direction = request.args.get(f"_od_{name}")
        for column in args["include_columns"]:
            label = labels.get(column)
            if column not in args["order_columns"]:
                yield label, None, None
                continue
            icon = ("fa-arrows-v" if current != column
                    else "fa-chevron-up" if direction == "asc" else "fa-chevron-down")
            yield label, pagination.link_order(column, name), icon


# The key the record buttons' URLs are built with once per page, then cut off (each row's own
# key goes in its place): a number no record has, as the routes take whole numbers.
KEY_MARK = 987654321


def _cell_writer(formatter):
    """A table cell's text for a value (escaped), written once per distinct value of the page's
    column (a list repeats its centres, categories and codes row after row)."""
    written = {}

    def cell(value):
        return escape(_formatted(formatter, value))

    def write(value):
        try:
            return written[value]
        except KeyError:
            written[value] = cell(value)
            return written[value]
        except TypeError:  # unhashable: written each time
            return cell(value)

    return write


def _formatted(formatter, value):
    """A value as its column's formatter shows it (as it is, without one)."""
    return formatter(value) if formatter else value


class LeanShowWidget(ShowWidget):
    """Flask-AppBuilder's record page with each field's value formatted once, in Python; the
    fields and fieldsets are drawn by the template zongzhi/widgets/show.html."""

    template = "zongzhi/widgets/show.html"

    def __call__(self, **kwargs):
        """The record's fields, grouped as the view's fieldsets say (or in one table)."""
        args = {**self.template_args, **kwargs}
        formatters = args.get("formatters_columns") or {}
        shown = {column: _formatted(formatters.get(column), value)
                 for column, value in zip(args["include_columns"], args["value_columns"])}
        return super().__call__(**kwargs, shown=shown)
