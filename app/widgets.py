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
    """The list table with per-page work done once and the rows written in Python: a template
    loop per row and cell costs several times more."""

    template = "zongzhi/widgets/list.html"
    BUTTONS = (("can_show", "show", "fa-search", lazy_gettext("Show record")),
               ("can_edit", "edit", "fa-edit", lazy_gettext("Edit record")),
               ("can_delete", "delete", "fa-trash", lazy_gettext("Delete record")))

    def __call__(self, **kwargs):
        """The table, with its permissions, links and rows worked out once per page."""
        args = {**self.template_args, **kwargs}
        name = args["modelview_name"]
        helpers = current_app.jinja_env.filters
        allowed = {permission: helpers["is_item_visible"](permission, name)
                   for permission in ("can_add", "can_show", "can_edit", "can_delete")}
        actions = helpers["get_actions_on_list"](args.get("actions") or {}, name)
        suffix = helpers["set_link_filters"]("", args["filters"])
        buttons = []
        for permission, endpoint, icon, title in self.BUTTONS:
            url = helpers["safe_url_for"](f"{name}.{endpoint}", pk=0) \
                if allowed[permission] else None
            if url:
                buttons.append((endpoint, url[:-1], icon, escape(str(title))))
        formatters = args.get("formatters_columns") or {}
        columns = [(column, _cell_writer(formatters.get(column)))
                   for column in args["include_columns"]]
        show = next((url for endpoint, url, _icon, _title in buttons if endpoint == "show"),
                    None)
        rows = [self._row(escape(pk), item, columns, bool(actions), buttons, escape(suffix),
                          show)
                for pk, item in zip(args["pks"], args["value_columns"])]
        add = helpers["safe_url_for"](f"{name}.add") if allowed["can_add"] else None
        header = pagination.list_header(name, args.get("page"), args["page_size"],
                                        args["count"], add and add + suffix, actions,
                                        exporting.export_links(name))
        return super().__call__(**kwargs, rows=Markup("\n".join(rows)), header=header,
                                actions=actions, buttons=bool(buttons),
                                heads=Markup("".join(self._heads(args))))

    # A column whose value names the record: its cell links to the record's page.
    LINKED = ("case_no",)

    @staticmethod
    def _row(key, item, columns, tick, buttons, suffix, show=None):
        """One row: its tick box, its show, edit and delete buttons, its cells (a case number
        links to the case)."""
        row = ["<tr>"]
        if tick:
            row.append(f'<td><input id="{key}" class="action_check" name="rowid" '
                       f'value="{key}" type="checkbox"></td>')
        if buttons:
            row.append('<td><div class="btn-group btn-group-xs" style="display: flex;">')
            for endpoint, url, icon, title in buttons:
                if endpoint == "delete":
                    row.append(f'<a href="#" data-url="{url}{key}" class="btn btn-sm '
                               f'btn-default zz-delete" title="{title}">')
                else:
                    row.append(f'<a href="{url}{key}{suffix}" class="btn btn-sm btn-default" '
                               f'title="{title}">')
                row.append(f'<i class="fa {icon}"></i></a>')
            row.append("</div></td>")
        for column, write in columns:
            cell = write(item[column])
            if show and column in LeanListWidget.LINKED and cell != "<td></td>":
                cell = f'<td><a href="{show}{key}{suffix}">{cell[4:-5]}</a></td>'
            row.append(cell)
        row.append("</tr>")
        return "".join(row)

    @staticmethod
    def _heads(args):
        """The column headings; those an index can order by link to that order."""
        name, labels = args["modelview_name"], args["label_columns"]
        current = request.args.get(f"_oc_{name}")
        direction = request.args.get(f"_od_{name}")
        for column in args["include_columns"]:
            label = escape(labels.get(column))
            if column not in args["order_columns"]:
                yield f"<th>{label}</th>"
                continue
            icon = ("fa-arrows-v" if current != column
                    else "fa-chevron-up" if direction == "asc" else "fa-chevron-down")
            href = escape(pagination.link_order(column, name))
            yield f'<th><a href="{href}">{label} <i class="fa {icon} pull-right"></i></a></th>'


def _cell_writer(formatter):
    """A table cell for a value, written once per distinct value of the page's column (a list
    repeats its centres, categories and codes row after row)."""
    written = {}

    def cell(value):
        return f"<td>{escape(_formatted(formatter, value))}</td>"

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
    """Flask-AppBuilder's record page with its fields written in Python, as its template draws
    them (a macro call, a list search and a lazy translation per field cost more)."""

    template = "zongzhi/widgets/show.html"

    def __call__(self, **kwargs):
        """The record's fields, grouped as the view's fieldsets say (or in one table)."""
        args = {**self.template_args, **kwargs}
        values = dict(zip(args["include_columns"], args["value_columns"]))
        formatters, labels = args.get("formatters_columns") or {}, args["label_columns"]

        def table(columns):
            rows = "".join(
                f'<tr><th class="col-lg-2 col-md-2 col-sm-2">{escape(labels.get(column))}</th>'
                '<td><span style="white-space: pre-line">'
                f"{escape(_formatted(formatters.get(column), values[column]))}</span></td></tr>"
                for column in columns)
            return ('<div class="table-responsive"><table class="table table-bordered">'
                    f"{rows}</table></div>")

        if not args.get("fieldsets"):
            return super().__call__(**kwargs, fields=Markup(table(args["include_columns"])))
        groups = []
        for number, (title, spec) in enumerate(args["fieldsets"], 1):
            expanded = spec.get("expanded")
            shown = "collapse in" if expanded is None or expanded else "collapse"
            groups.append(
                f'<div class="panel-group" id="{number}"><div class="panel panel-default">'
                f'<div class="panel-heading"><h4 class="panel-title"><a class="accordion-toggle" '
                f'data-toggle="collapse" data-parent="#{number}" href="#{number}_href">'
                f'{escape(title)}<span class="caret"></span></a></h4></div>'
                f'<div id="{number}_href" class="panel-collapse {shown}"><div class="panel-body">'
                f'{table(spec.get("fields", []))}</div></div></div></div>')
        return super().__call__(**kwargs, fields=Markup("".join(groups)))
