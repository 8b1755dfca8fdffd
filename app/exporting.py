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
import logging
import os
import tempfile
from dataclasses import dataclass
from types import SimpleNamespace

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
from sqlalchemy import inspect, select
from sqlalchemy.orm import aliased

from app import (audit, choices, display, exports, fab_compat, models, personal, scope,
                 storage)
from app.extensions import db

log = logging.getLogger(__name__)

FORMATS = ("xlsx", "csv")
CHUNK = 2000  # rows read per query
EXCEL_EPOCH = datetime.datetime(1899, 12, 30)  # day 0 of Excel's serial dates (1900 system)


@dataclass(frozen=True)
class Computed:
    """An exported column worked out for each record: from columns of its own it reads
    (`reads`, then value(item)), or fetched for a chunk of records at once
    (fetch(session, keys) -> {key: value}: its parties, the units it was referred to…)."""

    key: str
    label: object
    value: object = None
    reads: tuple = ()
    fetch: object = None


@dataclass(frozen=True)
class _Column:
    label: str
    value: object  # (item, fetched) -> value as written (str, number, date or datetime)
    fetch: object = None


def case_parties(session, keys):
    """Each case's parties by side: 申请人：刘某英；被申请人：张某."""
    party = models.Party
    sides = {}
    for case, role, name in session.execute(
            select(party.dispute_id, party.role, party.name)
            .where(party.dispute_id.in_(keys)).order_by(party.id)):
        sides.setdefault(case, {}).setdefault(role, []).append(name)
    return {case: "；".join(f"{choices.PARTY_ROLE.label_text(role)}：{'、'.join(names)}"
                           for role, names in found.items()) for case, found in sides.items()}


def case_units(session, keys):
    """The stationed units each case was referred to, in the order referred (博乐市·法院)."""
    referral, unit = models.Referral, models.StationedUnit
    found = {}
    for case, centre, department in session.execute(
            select(referral.dispute_id, models.Centre.short_name, models.Department.name)
            .join(unit, referral.unit_id == unit.id)
            .join(models.Centre, unit.centre_id == models.Centre.id)
            .join(models.Department, unit.department_id == models.Department.id)
            .where(referral.dispute_id.in_(keys)).order_by(referral.sent_at, referral.id)):
        found.setdefault(case, []).append(f"{centre}·{department}")
    return {case: "、".join(units) for case, units in found.items()}


def case_days(case):
    """Days from registration to conclusion, to one decimal (blank while not concluded)."""
    if case.conclude_seconds is None:
        return None
    return round(case.conclude_seconds / 86400, 1)


def column_model(model, column):
    """The model and attribute name a (possibly dotted) column ends on."""
    *path, name = column.split(".")
    for step in path:
        model = inspect(model).relationships[step].mapper.class_
    return model, name


def _path_value(item, column):
    """The value at a dotted column of a record (None where a related row is missing)."""
    for step in column.split("."):
        if item is None:
            return None
        item = getattr(item, step)
    return item


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


def _declared(view):
    """The view's exported columns as declared: export_columns, else its list's columns."""
    return getattr(view, "export_columns", None) or view.list_columns


def columns_of(view):
    """The exported columns of a view, each with how its cell is written."""
    model = view.datamodel.obj
    found = []
    for column in _declared(view):
        if isinstance(column, Computed):
            if column.fetch is not None:
                found.append(_Column(str(column.label), lambda item, fetched, c=column:
                                     plain(fetched[c.key].get(item.id)), column.fetch))
            else:
                found.append(_Column(str(column.label),
                                     lambda item, fetched, c=column: plain(c.value(item))))
            continue
        owner, name = column_model(model, column)
        label = str(view.label_columns.get(column, column))
        kind = getattr(owner, "personal_columns", {}).get(name)
        options = getattr(owner, "choice_columns", {}).get(name)
        if kind is not None:
            found.append(_Column(label, lambda item, fetched, c=column, k=kind:
                                 _personal(item, c, k)))
        elif options is not None:
            found.append(_Column(label, lambda item, fetched, c=column, o=options:
                                 o.label_text(_path_value(item, c))))
        else:
            found.append(_Column(label, lambda item, fetched, c=column:
                                 plain(_path_value(item, c))))
    return found


def _plain_columns(view):
    """{name: column expression} and the joins that read the exported columns as plain rows
    (a column of the model or of one related row), or None when one cannot be read so."""
    model = view.datamodel.obj
    wanted = []
    for column in _declared(view):
        if isinstance(column, Computed):
            if column.fetch is None and not column.reads:
                return None  # it reads the record itself
            wanted.extend(column.reads)
        else:
            wanted.append(column)
    entities, joins = {"id": model.id}, {}
    for column in wanted:
        *path, name = column.split(".")
        owner = model
        if len(path) > 1:
            return None
        if path:
            relation = inspect(model).relationships.get(path[0])
            if relation is None or relation.uselist:
                return None
            owner = relation.mapper.class_
            joins.setdefault(path[0], aliased(owner))
        if name not in inspect(owner).column_attrs:
            return None
        entities[column] = getattr(joins[path[0]] if path else owner, name)
    return entities, joins


def _plain_rows(view, keys, plain_columns):
    """The records of these keys as plain objects (attributes, and related rows' attributes
    under the relation's name), from one query."""
    entities, joins = plain_columns
    model = view.datamodel.obj
    query = select(*[expression.label(name) for name, expression in entities.items()])
    for relation, alias in joins.items():
        query = query.outerjoin(alias, getattr(model, relation))
    names = [name.rpartition(".") for name in entities]  # (relation, ".", attribute)
    found = []
    for row in view.datamodel.session.execute(query.where(model.id.in_(keys))):
        item, related = SimpleNamespace(), {}
        for (relation, _dot, attribute), value in zip(names, row):
            if relation:
                related.setdefault(relation, {})[attribute] = value
            else:
                item.__dict__[attribute] = value
        for relation, values in related.items():
            item.__dict__[relation] = SimpleNamespace(**values)
        found.append(item)
    return found


def _personal(item, column, kind):
    """Personal data in full for a role that sees it so, masked for the others."""
    value = _path_value(item, column)
    if not value:
        return ""
    return str(value) if personal.can_view() else personal.mask(kind, str(value))


def _keys_query(view):
    """The query of the keys of the rows the list shows, in its order (the request's filters
    and sort)."""
    datamodel = view.datamodel
    get_filter_args(fab_compat.view_filters(view))
    order_column, order_direction = get_order_args().get(type(view).__name__, ("", ""))
    if not order_column and view.base_order:
        order_column, order_direction = view.base_order
    joined = fab_compat.view_filters(view).get_joined_filters(fab_compat.base_filters(view))
    return SQLAInterface.apply_all(datamodel, datamodel.session.query(datamodel.obj.id),
                                   joined, order_column, order_direction)


def ordered_keys(view, limit):
    """The keys of the rows the list shows, in its order, up to `limit` (+1 to tell a cap)."""
    return [key for (key,) in _keys_query(view).limit(limit + 1)]


def more_than(view, count):
    """Whether the list holds more than `count` rows (one row read, not `count`)."""
    return _keys_query(view).offset(count).limit(1).first() is not None


def rows(view, keys, columns):
    """(record, fetched) for these keys, in their order, a chunk at a time: plain rows when
    every column allows (no ORM objects to build), else the records; `fetched` holds each
    fetched column's values for the chunk."""
    model, session = view.datamodel.obj, view.datamodel.session
    plain_columns = _plain_columns(view)
    loads = view.datamodel.eager or ()
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start:start + CHUNK]
        position = {key: index for index, key in enumerate(chunk)}
        if plain_columns is not None:
            found = _plain_rows(view, chunk, plain_columns)
        else:
            found = session.query(model).options(*loads).filter(model.id.in_(chunk)).all()
        fetched = {column.key: column.fetch(session, chunk) for column in _declared(view)
                   if isinstance(column, Computed) and column.fetch is not None}
        for item in sorted(found, key=lambda item: position[item.id]):
            yield item, fetched


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
    getters = [column.value for column in columns]
    write_string, write_number = sheet_.write_string, sheet_.write_number
    starts = exports.FORMULA_STARTS
    for item, fetched in items:
        for index, value_of in enumerate(getters):
            value = value_of(item, fetched)
            kind = value.__class__
            if kind is str:
                if value:
                    if value.startswith(starts):
                        write_string(row, index, value, quoted)
                    else:
                        write_string(row, index, value)
            elif kind is datetime.datetime:  # Excel's serial day number (after 1900-03-01)
                write_number(row, index, (value - EXCEL_EPOCH).total_seconds() / 86400, stamp)
            elif kind is datetime.date:
                write_number(row, index, (value - EXCEL_EPOCH.date()).days, day)
            elif kind in (int, float):
                write_number(row, index, value)
            elif value:
                write_string(row, index, str(value))
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
    for count, (item, fetched) in enumerate(items, 1):
        writer.writerow(exports.safe_row(_csv_text(column.value(item, fetched))
                                         for column in columns))
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
            return self._export_queued(fmt, limit)
        summary = self._filter_summary()
        when = models.now()
        columns = columns_of(self)
        title = title_block(self, summary, len(keys), when)
        audit.record("export", self.datamodel.obj.__tablename__,
                     detail={"format": fmt, "rows": len(keys), "filters": summary,
                             "screen": str(self.list_title)})
        name = f"{self.datamodel.obj.__tablename__}-{when:%Y%m%d-%H%M}.{fmt}"
        if fmt == "csv":
            return Response(stream_with_context(csv_lines(title, columns,
                                                          rows(self, keys, columns))),
                            mimetype="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f"attachment; filename={name}",
                                     "X-Content-Type-Options": "nosniff"})
        handle, path = tempfile.mkstemp(suffix=".xlsx")
        os.close(handle)
        try:
            write_xlsx(path, str(self.list_title), title, columns, rows(self, keys, columns))
            response = send_file(path, as_attachment=True, download_name=name, mimetype=(
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
        except Exception:
            os.unlink(path)
            raise
        response.call_on_close(lambda: os.path.exists(path) and os.unlink(path))
        return response

    def _export_queued(self, fmt, limit):
        """A list too long to export while the person waits: the worker exports it and the
        message centre offers the file (past EXPORT_QUEUE_MAX_ROWS, refused)."""
        from app import jobs  # not at the top: importing it opens the queue's file or Redis

        most = current_app.config["EXPORT_QUEUE_MAX_ROWS"]
        if more_than(self, most):
            return self._export_refused(gettext(
                "This list has more than %(limit)d rows, more than one export may hold. "
                "Narrow it with the search (a period, a centre, a status) and export again.",
                limit=most))
        asked = (current_user.id, type(self).__name__, fmt, request.query_string.decode())
        db.session.commit()  # this request's bookkeeping first: the job starts from it
        try:
            jobs.export_list(*asked)
        except Exception:  # noqa: BLE001 — the queue's store is down: say so, lose nothing
            log.warning("export not queued", exc_info=True)
            return self._export_refused(gettext(
                "The export could not be started now; try again in a moment."))
        return self._export_refused(gettext(
            "This list has more than %(limit)d rows: it is being exported in the background. "
            "The message centre will offer the file when it is ready.", limit=limit))

    def _export_refused(self, message):
        """Back to the list as it was, saying why nothing was exported."""
        flash(message, "warning")
        query = request.query_string.decode()
        return redirect(url_for(f"{self.endpoint}.list") + (f"?{query}" if query else ""))


def export_in_background(view, fmt):
    """The export of the list the request describes, written to the file storage for the
    worker's job: (file key, file name, rows). The same columns, filters, order, scope,
    masking and audit as an export in a request."""
    most = current_app.config["EXPORT_QUEUE_MAX_ROWS"]
    keys = ordered_keys(view, most)[:most]
    summary = view._filter_summary()
    when = models.now()
    columns = columns_of(view)
    title = title_block(view, summary, len(keys), when)
    name = f"{view.datamodel.obj.__tablename__}-{when:%Y%m%d-%H%M}.{fmt}"
    handle, path = tempfile.mkstemp(suffix="." + fmt)
    os.close(handle)
    try:
        if fmt == "csv":
            with open(path, "wb") as out:
                for chunk in csv_lines(title, columns, rows(view, keys, columns)):
                    out.write(chunk)
        else:
            write_xlsx(path, str(view.list_title), title, columns, rows(view, keys, columns))
        with open(path, "rb") as stream:
            key, _size, _digest = storage.storage().put_stream(stream)
    finally:
        os.unlink(path)
    audit.record("export", view.datamodel.obj.__tablename__,
                 detail={"format": fmt, "rows": len(keys), "filters": summary,
                         "screen": str(view.list_title), "background": True})
    return key, name, len(keys)


def export_links(view_name):
    """The Excel and CSV links of the list page being shown (None off a list page): the same
    filters and order as the page."""
    if request.endpoint != f"{view_name}.list":
        return None
    query = request.query_string.decode()
    return [(label, url_for(f"{view_name}.export_rows", fmt=fmt) + (f"?{query}" if query else ""))
            for fmt, label in (("xlsx", _l("Export Excel")), ("csv", _l("Export CSV")))]
