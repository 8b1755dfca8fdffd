"""PDF statistics: one function from an area and a period to PDF bytes, drawn by WeasyPrint.

The figures come from the statistics module (the same cached report as the dashboard), the
charts are vector SVG drawn by pygal from those figures, and the Chinese text is set in the
Noto Sans SC font shipped in app/static/fonts, embedded and subset, so no system font is needed.
WeasyPrint may fetch only those shipped assets: every other URL (network, file://) is refused.
"""

import ctypes
import functools
import io
import math
import mimetypes
import os
import re
import time
import zipfile

import pygal
from flask import current_app, render_template
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from fontTools.ttLib import TTFont
from pygal.style import Style
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from app import choices, models, scope, stats

ASSET_SCHEME = "zongzhi-asset:"
ASSETS = {"fonts/NotoSansSC-Regular.ttf", "report/report.css", "report/document.css"}
FONT = "Zongzhi Sans"
PALETTE = ("#2f6fb0", "#e07b39", "#3a9a5b", "#c44e52", "#8172b2", "#937860", "#da8bc3",
           "#8c8c8c", "#ccb974", "#64b5cd")


@functools.lru_cache(maxsize=1)
def _advances(font_path):
    """Each character's advance width in em, read from the shipped font (fixed for a file)."""
    font = TTFont(font_path, lazy=True)
    units = font["head"].unitsPerEm
    metrics = font["hmtx"]
    return {code: metrics[glyph][0] / units for code, glyph in font.getBestCmap().items()}


class LineTable:
    """A long table drawn as one line of text per row, its columns aligned by tab stops.

    WeasyPrint lays out every table cell as a box of its own (about 2 ms a cell here, so a
    500-row register takes seconds); one preformatted line per row costs a tenth of that. The
    tabs each field needs to reach the next column are counted from the font's own advance
    widths, so the columns line up exactly; fields too long for their column are shortened.
    """

    def __init__(self, columns, font_path, width=None):
        self.labels = [label for label, _start in columns]
        self.starts = [start for _label, start in columns]
        self.advances = _advances(font_path)
        self.total = width  # the line's width in em (the last column's end), if bounded

    def width(self, text):
        """The text's width in em. Dashes, quotes, ellipses and the middle dot are set full
        width in Chinese text (the font's zh-Hans forms), whatever their default advance."""
        return sum(1.0 if 0x2010 <= ord(c) <= 0x206F or c == "\u00b7"
                   else self.advances.get(ord(c), 1.0) for c in text)

    def _wrap(self, text, room):
        """The text cut into pieces that each fit in `room` em (one piece when it fits)."""
        pieces, piece = [], ""
        for char in text:
            if piece and self.width(piece + char) > room:
                pieces.append(piece)
                piece = ""
            piece += char
        return [*pieces, piece]

    def _room(self, index):
        """The room of a column in em, None for an unbounded last column."""
        if index + 1 < len(self.starts):
            return self.starts[index + 1] - self.starts[index] - 0.6
        return None if self.total is None else self.total - self.starts[index]

    def line(self, fields):
        """One row: each field followed by the tabs that reach the next column; a field too
        long for its column wraps onto further lines of the row, in its own column."""
        wrapped = []
        for index, text in enumerate(fields):
            text, room = plain(text), self._room(index)
            wrapped.append([text] if room is None else self._wrap(text, room))
        lines = []
        for row in range(max(len(pieces) for pieces in wrapped)):
            out = []
            for index, pieces in enumerate(wrapped):
                text = pieces[row] if row < len(pieces) else ""
                if index + 1 < len(wrapped):
                    position = self.starts[index] + self.width(text)
                    out.append(text + "\t" * max(self.starts[index + 1] - math.floor(position), 1))
                else:
                    out.append(text)
            lines.append("".join(out).rstrip("\t"))
        return "\n".join(lines)

    def header(self):
        """The column labels as a line."""
        return self.line([str(label) for label in self.labels])


# Explicit bidi controls (embeddings, overrides, isolates and their ends): one left unclosed in
# a title would reverse every column after it on the register's line.
BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def plain(text):
    """Text as printed: its bidi controls removed, so it cannot reorder what follows."""
    return BIDI_CONTROLS.sub("", str(text if text is not None else ""))


class ReportTooLarge(Exception):
    """A report that would exceed the row or time cap."""


class AssetFetcher(URLFetcher):
    """Serves the report's own fonts and stylesheet; refuses everything else, and notes it."""

    def __init__(self, static_folder, **kwargs):
        super().__init__(**kwargs)
        self.static_folder = static_folder
        self.refused = []

    def fetch(self, url, headers=None):
        """The asset's bytes, or an error (WeasyPrint then leaves the resource out)."""
        name = url[len(ASSET_SCHEME):] if url.startswith(ASSET_SCHEME) else None
        if name not in ASSETS:
            self.refused.append(url)
            raise ValueError(f"refused: {url}")
        path = os.path.join(self.static_folder, name)
        with open(path, "rb") as handle:
            body = handle.read()
        mime = mimetypes.guess_type(path)[0] or "application/octet-stream"
        return URLFetcherResponse(url, body, headers={"Content-Type": mime})


def _style():
    """The charts' look: the report's font, white background, our palette."""
    return Style(font_family=FONT, background="white", plot_background="white",
                 colors=PALETTE, guide_stroke_color="#dde3ea", guide_stroke_dasharray="0",
                 major_guide_stroke_color="#c9d3de", major_guide_stroke_dasharray="0", label_font_size=11, major_label_font_size=11,
                 value_font_size=10, legend_font_size=11, title_font_size=13)


TOOLTIPS = re.compile(r"<(desc|title)\b.*?</\1>", re.S)

# The charts' own stylesheet, instead of pygal's (73 rules a chart, mostly for hover effects and
# tooltips that paper has no use for; WeasyPrint parses and matches every one: a third of the
# report's layout time). Each chart is its own SVG image, so the rules need no chart prefix.
CHART_CSS = "inline:" + """
.graph > .background, .plot > .background { fill: white; }
.graph, .legends .legend text, .series text, .title { fill: #1d2733; }
.title, text.no_data, .centered, .axis.x text { text-anchor: middle; }
.axis text { fill: #555; }
.axis.y text { text-anchor: end; }
.guide.line, .line { fill: none; }
.axis .line { stroke: #8a97a6; }
.axis .guide.line { stroke: #dde3ea; }
.axis .major.guide.line { stroke: #c9d3de; }
.horizontal .axis.y .guide.line, .vertical .axis.x .guide.line { opacity: 0; }
.slice { stroke: white; stroke-width: 1; }
""" + "".join(f".color-{index} {{ fill: {color}; stroke: {color}; }}\n"
              for index, color in enumerate(PALETTE))


VALUE_TEXT = re.compile(r'<text text-anchor="\w+" x="([-\d.]+)" y="([-\d.]+)" class="value">')
# How each kind of chart shows its values: beside a horizontal bar's end, above a column, in
# white on a slice (pygal's own placing, on the bar's edge in the series' colour, is unreadable).
VALUE_PLACES = {
    "hbar": ('<text text-anchor="start" x="{x:.1f}" y="{y:.1f}" class="value" '
             'style="fill:#1d2733;stroke:none;font-size:10px" dx="4" dy="3">'),
    "bar": ('<text text-anchor="middle" x="{x:.1f}" y="{y:.1f}" class="value" '
            'style="fill:#1d2733;stroke:none;font-size:9px">'),
    "pie": ('<text text-anchor="middle" x="{x:.1f}" y="{y:.1f}" class="value" '
            'style="fill:white;stroke:none;font-size:11px" dy="4">'),
}


def _svg(chart, values=None):
    """A pygal chart as inline SVG: no scripts, no XML declaration, and no tooltips (on paper
    they are invisible; WeasyPrint would still lay out every one of them); the values, if
    printed, placed where they read (VALUE_PLACES)."""
    drawn = TOOLTIPS.sub("", chart.render(is_unicode=True))
    if values is None:
        return drawn
    place = VALUE_PLACES[values]
    return VALUE_TEXT.sub(lambda m: place.format(x=float(m[1]), y=float(m[2])), drawn)


def count_ticks(values, most=6):
    """Whole-number axis ticks from 0 past the largest count, at a round step (1, 2, 5, 10…):
    counts never tick at 0.4 or 1.2."""
    top = max([int(v or 0) for v in values] or [0])
    step = 1
    while top / step > most:
        for factor in (2, 5 / 2, 2):
            step = int(step * factor)
            if top / step <= most:
                break
    return list(range(0, top + step + 1, step)) if top else [0, 1]


def _label_room(labels, size=11):
    """Extra room left of a horizontal bar chart: pygal measures Chinese characters as about
    half their width, so without it the labels' first characters are cut off."""
    widest = max([sum(2 if ord(c) > 0x2E80 else 1 for c in str(label)) for label in labels]
                 or [0])
    return 10 + widest * size // 4


def charts(data):
    """The report's charts as SVG, drawn from the same figures as the tables (which carry the
    values), on whole-number count axes."""
    # The values are printed on the bars and slices (zeros left out) as well as in the tables.
    common = {"style": _style(), "js": [], "css": [CHART_CSS],
              "disable_xml_declaration": True, "width": 760,
              "height": 300, "print_values": True, "print_zeroes": False,
              "print_values_position": "top", "margin": 10,
              "no_data_text": gettext("No data in this period")}
    drawn = {}
    trend_values = [p[key] for p in data["trend"] for key in ("registered", "concluded")]
    trend = pygal.Bar(**common, legend_at_bottom=True, x_label_rotation=0,
                      y_labels=count_ticks(trend_values))
    trend.x_labels = [p["month"][2:] for p in data["trend"]]
    trend.add(str(stats.FIGURE_BY_CODE["registered"].name), [p["registered"] for p in data["trend"]])
    trend.add(str(stats.FIGURE_BY_CODE["concluded"].name), [p["concluded"] for p in data["trend"]])
    drawn["trend"] = _svg(trend, "bar")
    for name, key in (("category", "by_category"), ("centre", "by_centre")):
        items = data[key][:20]
        chart = pygal.HorizontalBar(**{**common, "height": max(160, 22 * len(items) + 40)},
                                    show_legend=False,
                                    y_labels=count_ticks(i["value"] for i in items),
                                    margin_left=_label_room(i["label"] for i in items))
        chart.x_labels = [i["label"] for i in reversed(items)]
        chart.add("", [i["value"] for i in reversed(items)])
        drawn[name] = _svg(chart, "hbar")
    for name, key in (("source", "by_source"), ("level", "by_level")):
        chart = pygal.Pie(**{**common, "width": 370, "height": 420}, inner_radius=0.45,
                          legend_at_bottom=True, legend_at_bottom_columns=2,
                          truncate_legend=-1, margin_bottom=10 + 16 * ((len(data[key]) + 1) // 2))
        total = sum(item["value"] for item in data[key]) or 1
        for item in data[key]:  # the legend says each slice's count and share too
            chart.add(f"{item['label']} {item['value']}（{item['value'] / total:.0%}）",
                      item["value"])
        drawn[name] = _svg(chart, "pie")
    funnel = pygal.HorizontalBar(**{**common, "height": 200}, show_legend=False,
                                 y_labels=count_ticks(i["value"] for i in data["funnel"]),
                                 margin_left=_label_room(i["label"] for i in data["funnel"]))
    funnel.x_labels = [i["label"] for i in reversed(data["funnel"])]
    funnel.add("", [i["value"] for i in reversed(data["funnel"])])
    drawn["funnel"] = _svg(funnel, "hbar")
    return drawn


def centre_rows(data):
    """One row per centre: registered, concluded, success rate, average days and rank (ranked
    centres first, by rank; then the others by cases registered)."""
    registered = {item["code"]: item for item in data["by_centre"]}
    rows = []
    for entry in data["ranking"]:
        rows.append({**entry, "registered": registered.get(entry["code"], {}).get("value", 0)})
    ranked_codes = {entry["code"] for entry in data["ranking"]}
    for item in data["by_centre"]:
        if item["code"] not in ranked_codes:
            rows.append({"code": item["code"], "label": item["label"], "registered": item["value"],
                         "concluded": 0, "success_rate": None, "days_mean": None, "rank": None})
    return sorted(rows, key=lambda r: (r["rank"] is None, r["rank"] or 0, -r["registered"],
                                       str(r["label"])))


def register_rows(session, area, period, limit):
    """The case register (台账) of the period: cases registered in it, oldest first."""
    dispute = models.Dispute
    query = select(dispute).where(stats.in_period(dispute.registered_at, period))
    where = scope.condition(models.Dispute, area.scope)
    if where is not None:
        query = query.where(where)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    if total > limit:
        raise ReportTooLarge(gettext(
            "The case register of this period has %(count)d cases, more than the %(limit)d a "
            "report may hold. Choose a shorter period or a smaller area.", count=total,
            limit=limit))
    rows = session.scalars(query.options(joinedload(dispute.centre), joinedload(dispute.category))
                           .order_by(dispute.registered_at, dispute.id)).all()
    return [{"case_no": d.case_no, "registered": f"{d.registered_at:%Y-%m-%d}",
             "centre": d.centre.short_name, "category": d.category.name, "title": d.title,
             "status": str(choices.DISPUTE_STATUS.label(d.status)),
             "outcome": str(choices.OUTCOME.label(d.outcome)),
             "concluded": f"{d.concluded_at:%Y-%m-%d}" if d.concluded_at else ""}
            for d in rows]


def statistics_html(session, area, period, user=None, register=False, now=None, data=None):
    """The report as HTML (escaped by Jinja), ready for WeasyPrint; `data` is the area's
    stats.report when the caller has it (the dashboard's, from the cache)."""
    now = now or models.now()
    data = data or stats.report(session, area, period, now=now)
    by_department = data["timeliness_by"] == "department"
    limit = current_app.config["REPORT_MAX_ROWS"]
    centres = centre_rows(data)
    rows = register_rows(session, area, period, limit) if register else None
    font_path = os.path.join(current_app.static_folder, "fonts", "NotoSansSC-Regular.ttf")
    centre_table = LineTable([(_l("Rank"), 0), (_l("Centre"), 4),
                              (stats.FIGURE_BY_CODE["registered"].name, 16),
                              (stats.FIGURE_BY_CODE["concluded"].name, 24),
                              (stats.FIGURE_BY_CODE["success_rate"].name, 32),
                              (stats.FIGURE_BY_CODE["days_mean"].name, 40)], font_path)
    # A4 less the margins at the register's 7.5 pt: 66 em to a line.
    register_table = LineTable([(_l("Case number"), 0), (_l("Registered"), 11),
                                (_l("Centre"), 17), (_l("Category"), 23), (_l("Title"), 29),
                                (_l("Status"), 47), (_l("Outcome"), 51),
                                (_l("Concluded"), 60)], font_path, width=66)
    return render_template(
        "reports/statistics.html", centre_table=centre_table, register_table=register_table,
        line_table=functools.partial(LineTable, font_path=font_path), data=data, area=area, period=period, charts=charts(data),
        figures=stats.FIGURES, by_code=stats.FIGURE_BY_CODE, register=rows,
        generated=now, user=user, asset=ASSET_SCHEME, font=FONT, by_department=by_department,
        centres=centres)


def render_pdf(html, static_folder, max_seconds):
    """PDF bytes from report HTML, with only the shipped assets; refused past the time cap."""
    fetcher = AssetFetcher(static_folder)
    started = time.monotonic()
    try:
        document = HTML(string=html, base_url=ASSET_SCHEME, url_fetcher=fetcher).render()
        if time.monotonic() - started > max_seconds:
            raise ReportTooLarge(gettext("The report took too long to lay out. Choose a shorter "
                                         "period or a smaller area."))
        return document.write_pdf()
    finally:
        _give_back_memory()


def _give_back_memory():
    """Return the memory a layout freed to the system (glibc keeps freed blocks for reuse;
    a worker that drew one PDF would otherwise stay about 30 MB larger)."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to do


def statistics_pdf(session, area, period, user=None, register=False, now=None, data=None):
    """The statistics of an area over a period as PDF bytes."""
    html = statistics_html(session, area, period, user, register, now, data)
    return render_pdf(html, current_app.static_folder, current_app.config["REPORT_MAX_SECONDS"])


def batch_areas(areas, area):
    """The area and every county below it with a centre, for a batch of statistics PDFs."""
    return [area] + [a for a in areas if a.level == "county" and a.path != area.path
                     and a.path.startswith(area.path)]


def statistics_batch(session, areas, area, period, user, report):
    """A ZIP of the statistics PDF of the area and of each county below it: (bytes, count).
    `report(area)` gives each area's data (the dashboard's, from the cache)."""
    buffer = io.BytesIO()
    chosen = batch_areas(areas, area)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for n, each in enumerate(chosen, 1):
            content = statistics_pdf(session, each, period, user=user, data=report(each))
            archive.writestr(f"{n:02d}-{each.name}-{period.code}.pdf", content)
    return buffer.getvalue(), len(chosen)
