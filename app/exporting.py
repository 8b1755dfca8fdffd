"""Lists as spreadsheets: every list screen exports exactly the rows it shows (the user's
scope, the filters and order in force, every page) as Excel or CSV, with Chinese headers,
readable values, personal data masked for roles that see it masked, formula-like cells kept as
text, a title block saying what was exported, and an audit record.

Excel files are written by XlsxWriter in constant-memory mode (each row goes to a temporary
file as it is written) into a temporary file that is sent and then removed; CSV streams row by
row. The rows are read by key in chunks, so memory stays flat whatever the count; a setting
(EXPORT_MAX_ROWS) caps how many one export may hold, well inside a worker's timeout.
"""

import csv
import datetime
import decimal
import io
import os
import tempfile
from dataclasses import dataclass

import xlsxwriter
from flask import current_app, flash, redirect, request, send_file, stream_with_context, url_for
from flask import Response
from flask_appbuilder import expose, has_access
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import permission_name
from flask_appbuilder.urltools import get_filter_args, get_order_args
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import inspect

from app import audit, choices, display, exports, models, personal, scope
from app.extensions import db

FORMATS = ("xlsx", "csv")
CHUNK = 500  # rows read per query


@dataclass(frozen=True)
class Computed:
    """An exported column worked out from the record (parties, referred units, days…)."""

    key: str
    label: object
    value: object  # item -> value


@dataclass(frozen=True)
class _Column:
    label: str
    value: object  # item -> value as written (str, number, date or datetime)


def case_parties(case):
    """A case's parties by side: 申请人：刘某英；被申请人：张某."""
    sides = {}
    for party in case.parties:
        sides.setdefault(party.role, []).append(party.name)
    return "；".join(f"{choices.PARTY_ROLE.label(role)}：{'、'.join(names)}"
                    for role, names in sides.items())


def case_units(case):
    """The stationed units a case was referred to, in the order referred."""
    return "、".join(str(referral.unit) for referral in
                    sorted(case.referrals, key=lambda r: (r.sent_at or datetime.datetime.max,
                                                          r.id or 0)))


def case_days(case):
    """Days from registration to conclusion, to one decimal (blank while not concluded)."""
    if case.conclude_seconds is None:
        return None
    return round(case.conclude_seconds / 86400, 1)


def _path_value(item, column):
    """The value at a dotted column of a record (None where a related row is missing)."""
    for step in column.split("."):
        if item is None:
            return None
        item = getattr(item, step)
    return item


def _owner(model, column):
    """The model and attribute name a (possibly dotted) column ends on."""
    *path, name = column.split(".")
    for step in path:
        model = inspect(model).relationships[step].mapper.class_
    return model, name


def plain(value):
    """A value as a spreadsheet cell holds it: numbers and times as such, the rest as text
    the screens show (labels, names, 是/否), never the text 'None'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if isinstance(value, (int, float, datetime.date)):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)
    return str(display.display_value(value))


def columns_of(view):
    """The exported columns of a view: its export_columns, else the columns its list shows."""
    model = view.datamodel.obj
    found = []
    for column in getattr(view, "export_columns", None) or view.list_columns:
        if isinstance(column, Computed):
            found.append(_Column(str(column.label), lambda item, c=column: plain(c.value(item))))
            continue
        owner, name = _owner(model, column)
        label = str(view.label_columns.get(column, column))
        kind = getattr(owner, "personal_columns", {}).get(name)
        choices = getattr(owner, "choice_columns", {}).get(name)
        if kind is not None:
            found.append(_Column(label, lambda item, c=column, k=kind: _personal(item, c, k)))
        elif choices is not None:
            found.append(_Column(label, lambda item, c=column, ch=choices:
                                 "" if _path_value(item, c) is None
                                 else str(ch.label(_path_value(item, c)))))
        else:
            found.append(_Column(label, lambda item, c=column: plain(_path_value(item, c))))
    return found


def _personal(item, column, kind):
    """Personal data in full for a role that sees it so, masked for the others."""
    value = _path_value(item, column)
    if not value:
        return ""
    return str(value) if personal.can_view() else personal.mask(kind, str(value))


def ordered_keys(view, limit):
    """The keys of the rows the list shows, in its order, up to `limit` (+1 to tell a cap)."""
    datamodel = view.datamodel
    get_filter_args(view._filters)
    order_column, order_direction = get_order_args().get(type(view).__name__, ("", ""))
    if not order_column and view.base_order:
        order_column, order_direction = view.base_order
    joined = view._filters.get_joined_filters(view._base_filters)
    query = SQLAInterface.apply_all(datamodel, datamodel.session.query(datamodel.obj.id),
                                    joined, order_column, order_direction)
    return [key for (key,) in query.limit(limit + 1)]


def rows(view, keys):
    """The records of these keys, in their order, read a chunk at a time."""
    model, session = view.datamodel.obj, view.datamodel.session
    loads = getattr(view, "export_loads", None) or view.datamodel.eager or ()
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start:start + CHUNK]
        position = {key: index for index, key in enumerate(chunk)}
        found = session.query(model).options(*loads).filter(model.id.in_(chunk)).all()
        yield from sorted(found, key=lambda item: position[item.id])


def scope_name(found=None):
    """The scope in words: the region, the county, or the stationed unit."""
    found = scope.current() if found is None else found
    if found.unit_id is not None:
        unit = db.session.get(models.StationedUnit, found.unit_id)
        return str(unit) if unit is not None else ""
    if found.whole:
        root = db.session.query(models.Region).filter(models.Region.parent_id.is_(None)).order_by(
            models.Region.id).first()
        return root.name if root is not None else ""
    region = db.session.query(models.Region).filter_by(path=found.path).first()
    return region.name if region is not None else ""


def title_block(view, summary, count, when):
    """The lines above the header: the screen, its filters, the scope, when and by whom."""
    who = display.person_name(getattr(current_user, "first_name", ""),
                              getattr(current_user, "last_name", "")) or \
        getattr(current_user, "username", "")
    return [
        str(view.list_title),
        gettext("Filters: %(filters)s", filters=" · ".join(summary) if summary
                else gettext("none")),
        gettext("Scope: %(scope)s", scope=scope_name()),
        gettext("Exported %(when)s by %(who)s, %(count)d rows",
                when=f"{when:%Y-%m-%d %H:%M}", who=who, count=count),
    ]


def write_xlsx(path, sheet, title, columns, items):
    """An Excel workbook: the title block, the header row, one row per record. Formula-like
    text is written as text with Excel's quote prefix (shown as typed, never evaluated)."""
    book = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_formulas": False,
                                      "strings_to_urls": False, "strings_to_numbers": False})
    sheet_ = book.add_worksheet(sheet[:31])
    bold = book.add_format({"bold": True, "bg_color": "#E3EBF4", "border": 1})
    heading = book.add_format({"bold": True, "font_size": 13})
    quoted = book.add_format({"quote_prefix": True})
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    row = 0
    for line in title:
        sheet_.write_string(row, 0, line, heading if row == 0 else None)
        row += 1
    row += 1
    for index, column in enumerate(columns):
        sheet_.write_string(row, index, column.label, bold)
        sheet_.set_column(index, index, max(10, min(40, 2 * len(column.label) + 4)))
    row += 1
    for item in items:
        for index, column in enumerate(columns):
            value = column.value(item)
            if isinstance(value, datetime.datetime):
                sheet_.write_datetime(row, index, value, stamp)
            elif isinstance(value, datetime.date):
                sheet_.write_datetime(row, index, datetime.datetime.combine(value,
                                                                            datetime.time()), day)
            elif isinstance(value, (int, float)):
                sheet_.write_number(row, index, value)
            elif value:
                text = str(value)
                sheet_.write_string(row, index, text,
                                    quoted if text.startswith(exports.FORMULA_STARTS) else None)
        row += 1
    book.close()


def csv_lines(title, columns, items):
    """The same as CSV (UTF-8 with a byte-order mark for Excel), a line at a time; formula-like
    text gets a leading apostrophe (exports.safe_cell)."""
    out = io.StringIO()
    writer = csv.writer(out)

    def flushed():
        text = out.getvalue()
        out.seek(0)
        out.truncate()
        return text.encode("utf-8")

    yield "\ufeff".encode("utf-8")
    for line in title:
        writer.writerow(exports.safe_row([line]))
    writer.writerow([])
    writer.writerow(exports.safe_row(column.label for column in columns))
    yield flushed()
    for count, item in enumerate(items, 1):
        writer.writerow(exports.safe_row(_csv_text(column.value(item)) for column in columns))
        if count % 200 == 0:
            yield flushed()
    yield flushed()


def _csv_text(value):
    """A cell's text in a CSV file: times as 2025-03-07 14:30, dates as 2025-03-07."""
    if isinstance(value, datetime.datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


class ExportMixin:
    """操作 → 导出Excel / 导出CSV on a list screen: what the list shows, as a file."""

    export_columns = None  # strings (list columns) and Computed; None: the list's columns
    export_loads = None    # loader options for the exported rows; None: the list's

    @expose("/export-rows/<fmt>/")
    @has_access
    @permission_name("list")
    def export_rows(self, fmt):
        """The list's rows as an Excel or CSV file; past the cap, the list with a message."""
        if fmt not in FORMATS:
            return self._export_refused(gettext("Choose Excel or CSV."))
        limit = current_app.config["EXPORT_MAX_ROWS"]
        keys = ordered_keys(self, limit)
        if len(keys) > limit:
            return self._export_refused(gettext(
                "This list has more than %(limit)d rows, more than one export may hold. "
                "Narrow it with the search (a period, a centre, a status) and export again.",
                limit=limit))
        summary = self._filter_summary()
        when = models.now()
        columns = columns_of(self)
        title = title_block(self, summary, len(keys), when)
        audit.record("export", self.datamodel.obj.__tablename__,
                     detail={"format": fmt, "rows": len(keys), "filters": summary,
                             "screen": str(self.list_title)})
        name = f"{self.datamodel.obj.__tablename__}-{when:%Y%m%d-%H%M}.{fmt}"
        if fmt == "csv":
            return Response(stream_with_context(csv_lines(title, columns, rows(self, keys))),
                            mimetype="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f"attachment; filename={name}",
                                     "X-Content-Type-Options": "nosniff"})
        handle, path = tempfile.mkstemp(suffix=".xlsx")
        os.close(handle)
        try:
            write_xlsx(path, str(self.list_title), title, columns, rows(self, keys))
            response = send_file(path, as_attachment=True, download_name=name, mimetype=(
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
        except Exception:
            os.unlink(path)
            raise
        response.call_on_close(lambda: os.path.exists(path) and os.unlink(path))
        return response

    def _export_refused(self, message):
        """Back to the list as it was, saying why nothing was exported."""
        flash(message, "warning")
        query = request.query_string.decode()
        return redirect(url_for(f"{self.endpoint}.list") + (f"?{query}" if query else ""))


def export_links(view_name):
    """The Excel and CSV links of the list page being shown (None off a list page): the same
    filters and order as the page."""
    if request.endpoint != f"{view_name}.list":
        return None
    query = request.query_string.decode()
    return [(label, url_for(f"{view_name}.export_rows", fmt=fmt) + (f"?{query}" if query else ""))
            for fmt, label in (("xlsx", _l("Export Excel")), ("csv", _l("Export CSV")))]
