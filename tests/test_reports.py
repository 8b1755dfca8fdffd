"""PDF statistics: figures read back from the PDF, the embedded subset font, the asset-only
fetcher, escaped case text, the row cap, the download button and `flask report`."""

import io
import re
import zipfile

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from app import models, reports, stats
from app.extensions import db
from tests.test_dashboard import _scope
from tests.test_stats import T, _area, _centre, add_case


def _text(pdf):
    """All the text of a PDF, pages joined."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _fonts(pdf):
    """(font name, embedded font file present) for every font the PDF uses."""
    found = {}
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            font = font.get_object()
            for descendant in font.get("/DescendantFonts", [font]):
                descendant = descendant.get_object()
                descriptor = descendant.get("/FontDescriptor")
                descriptor = descriptor.get_object() if descriptor else {}
                found[str(descendant["/BaseFont"])] = any(
                    key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))
    return found


@pytest.fixture
def march(world):
    """Nine cases in Bole in March 2025, seven resolved, one with markup in its title."""
    bole = _centre("博乐市")
    for day in range(1, 8):
        add_case(bole, T(2025, 3, day, 9), T(2025, 3, day + 2, 9), "resolved")
    add_case(bole, T(2025, 3, 9), title="<b>粗体</b><img src=\"file:///etc/passwd\">")
    add_case(bole, T(2025, 3, 10))
    db.session.commit()


def _pdf(app, register=False, code="652701", period="2025-03"):
    """The statistics PDF of an area and period."""
    with app.test_request_context():
        return reports.statistics_pdf(db.session, _area(code), stats.Period.parse(period),
                                      register=register)


def test_the_pdf_carries_the_module_figures_in_chinese(app, march):
    """Cover, KPI table and breakdowns read back from the PDF match the statistics module."""
    text = _pdf(app)
    content = _text(text)
    figures = stats.summary(db.session, _area("652701"), stats.Period.parse("2025-03"))
    assert "博乐市" in content and "2025年3月" in content and "综治中心矛盾纠纷化解统计报表" in content
    row = re.search(r"登记案件数\s+(\d+)", content)
    assert row and int(row.group(1)) == figures["registered"] == 9
    assert re.search(r"化解成功率\s+100\.0%", content)
    assert re.search(r"平均办结天数\s+2\.0", content)
    assert "指标说明" in content and "1 / " in content  # definitions and page numbers


def test_the_font_is_embedded_and_subset_and_is_the_only_one(app, march):
    """Every font in the PDF is the shipped Noto Sans SC, embedded as a subset."""
    fonts = _fonts(_pdf(app))
    assert fonts and all(embedded for embedded in fonts.values())
    assert all(re.fullmatch(r"[A-Z]{6}\+Zongzhi-Sans", name.lstrip("/")) for name in fonts), fonts


def test_case_text_is_escaped_and_nothing_outside_is_fetched(app, march, monkeypatch):
    """A title carrying markup prints as text in the register; no file or network is read."""
    refused = []
    original = reports.AssetFetcher.fetch

    def spy(self, url, headers=None):
        try:
            return original(self, url, headers)
        except ValueError:
            refused.append(url)
            raise

    monkeypatch.setattr(reports.AssetFetcher, "fetch", spy)
    content = _text(_pdf(app, register=True))
    assert "<b>粗体</b>" in content.replace("\n", "")
    assert refused == []


def test_a_bidi_override_in_a_title_cannot_reverse_the_register(app, march):
    """An unclosed right-to-left override in a title is dropped from the printed line, so the
    columns after it (status, outcome, dates) read as they should."""
    bole = _centre("博乐市")
    add_case(bole, T(2025, 3, 11), title="\u202e逆序标题")
    db.session.commit()
    with app.test_request_context():
        html = reports.statistics_html(db.session, _area("652701"),
                                       stats.Period.parse("2025-03"), register=True)
    assert "逆序标题" in html and not reports.BIDI_CONTROLS.search(html)
    line = next(line for line in _text(_pdf(app, register=True)).splitlines()
                if "逆序标题" in line)
    assert re.search(r"逆序标题.*登记", line), line  # the status still follows the title


@pytest.mark.parametrize("url", ["file:///etc/passwd", "http://127.0.0.1:9/x.css",
                                 "https://example.org/font.ttf", "zongzhi-asset:../config.py",
                                 "zongzhi-asset:fonts/../../config.py", "data:text/css,body{}"])
def test_the_fetcher_refuses_everything_but_the_shipped_assets(app, url):
    """Only the listed fonts and stylesheet are served; files, network and tricks are refused."""
    fetcher = reports.AssetFetcher(app.static_folder)
    with pytest.raises(ValueError):
        fetcher.fetch(url)
    assert fetcher.fetch("zongzhi-asset:report/report.css").read().startswith(b"/*")


def test_a_hostile_document_renders_without_reaching_out(app):
    """Links to files and hosts in the HTML are refused while the PDF is still produced."""
    html = ('<link rel="stylesheet" href="http://127.0.0.1:9/x.css">'
            '<img src="file:///etc/hostname"><p style="background: url(file:///etc/passwd)">'
            '文字</p>')
    seen = []
    original = reports.AssetFetcher.fetch

    class Spy(reports.AssetFetcher):
        def fetch(self, url, headers=None):
            seen.append(url)
            return original(self, url, headers)

    import weasyprint

    pdf = weasyprint.HTML(string=html, base_url=reports.ASSET_SCHEME,
                          url_fetcher=Spy(app.static_folder)).write_pdf()
    assert pdf.startswith(b"%PDF") and len(seen) == 3


def test_the_register_is_capped_with_a_message(app, march):
    """More cases than the cap: the report is refused with a clear Chinese message."""
    app.config["REPORT_MAX_ROWS"] = 5
    try:
        with app.test_request_context(headers={"Accept-Language": "zh"}):
            with pytest.raises(reports.ReportTooLarge) as refused:
                reports.statistics_pdf(db.session, _area("652701"), stats.Period.parse("2025-03"),
                                       register=True)
        assert "9" in str(refused.value) and "5" in str(refused.value)
    finally:
        app.config["REPORT_MAX_ROWS"] = 2000


def test_the_time_cap_refuses_a_slow_layout(app):
    """A layout longer than the cap is refused before the PDF is written."""
    with app.test_request_context(), pytest.raises(reports.ReportTooLarge):
        reports.render_pdf("<p>" + "文字 " * 20000 + "</p>", app.static_folder, 0)


def test_the_download_button_gives_the_pdf_and_audits_it(app, march, users, login_as):
    """The dashboard's PDF link downloads the report; the export is audited."""
    _scope("leader", "650000")
    client = login_as("leader")
    area = db.session.scalar(select(models.Region.id).filter_by(code="652701"))
    response = client.get(f"/dashboard/pdf?area={area}&period=2025-03")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "博乐市" in _text(response.data)
    db.session.rollback()  # a fresh snapshot (MariaDB reads repeatably within a transaction)
    assert db.session.scalar(select(models.AuditLog).where(
        models.AuditLog.action == "export", models.AuditLog.object_type == "report"))
    app.config["REPORT_MAX_ROWS"] = 1
    try:
        refused = client.get(f"/dashboard/pdf?area={area}&period=2025-03&register=1",
                             follow_redirects=True)
        assert "超过报表可容纳" in refused.get_data(as_text=True)
    finally:
        app.config["REPORT_MAX_ROWS"] = 2000
    staff = login_as("staff")
    assert staff.get(f"/dashboard/pdf?area={area}&period=2025-03").status_code == 403


def test_flask_report_writes_the_pdf(app, march, tmp_path):
    """`flask report --scope … --period … --out FILE` writes the same report."""
    out = tmp_path / "bole.pdf"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["report", "--scope", "博乐市", "--period", "2025-03",
                                 "--out", str(out), "--register"])
    assert result.exit_code == 0, result.output
    content = _text(out.read_bytes())
    assert "博乐市" in content and "本期案件台账" in content
    bad = runner.invoke(args=["report", "--scope", "nowhere", "--period", "2025-03",
                              "--out", str(out)])
    assert bad.exit_code != 0 and "nowhere" in bad.output
    bad = runner.invoke(args=["report", "--period", "2025-13", "--out", str(out)])
    assert bad.exit_code != 0


def test_a_machine_without_any_font_still_renders_chinese(app, march, tmp_path):
    """With fontconfig knowing no font at all, `flask report` embeds the shipped font and the
    Chinese text reads back (WeasyPrint would otherwise draw empty boxes, silently)."""
    import os
    import subprocess
    import sys

    config = tmp_path / "fonts.conf"
    config.write_text('<?xml version="1.0"?><fontconfig><cachedir>'
                      f'{tmp_path}/cache</cachedir></fontconfig>')
    out = tmp_path / "bole.pdf"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "FONTCONFIG_FILE": str(config), "FLASK_APP": "run.py",
           "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"]}
    subprocess.run([sys.executable, "-m", "flask", "report", "--scope", "652701", "--period",
                    "2025-03", "--out", str(out)], cwd=root, env=env, check=True,
                   capture_output=True)
    content = out.read_bytes()
    assert "博乐市" in _text(content) and "登记案件数" in _text(content)
    fonts = _fonts(content)
    assert fonts and all(embedded for embedded in fonts.values())
    assert all(name.lstrip("/").endswith("+Zongzhi-Sans") for name in fonts)


@pytest.mark.parametrize("values, ticks", [([0], [0, 1]), ([3], [0, 1, 2, 3, 4]),
                                           ([7, 2], [0, 2, 4, 6, 8]), ([193], list(range(0, 250, 50))),
                                           ([21, 11], [0, 5, 10, 15, 20, 25])])
def test_count_axes_tick_at_whole_numbers(values, ticks):
    """Count axes tick at 0, 1, 2, 5, 10… steps: never 0.4 or 1.2."""
    assert reports.count_ticks(values) == ticks


def test_bar_labels_have_room_for_chinese(app):
    """The room left of a bar chart grows with its longest Chinese label."""
    assert reports._label_room(["合同纠纷"]) > reports._label_room(["ab"])


def test_register_rows_wrap_within_the_page_instead_of_cutting(app):
    """A long title wraps onto more lines of its row, in its own column: nothing is cut with
    "…" and no line runs past the register's width."""
    import os

    font = os.path.join(app.static_folder, "fonts", "NotoSansSC-Regular.ttf")
    table = reports.LineTable([("a", 0), ("b", 11), ("c", 17)], font, width=30)
    title = "古丽娜尔·阿不都与杨娜农资购销合同纠纷及其他长长的附带请求事项"
    lines = table.line(["652701-2026-00031", title, "调解不成，导入其他法定途径"]).split("\n")
    assert len(lines) > 2 and "…" not in "".join(lines)
    columns = {0: "", 11: "", 17: ""}
    for line in lines:
        position = 0
        for piece in re.split("(\t)", line):
            if piece == "\t":
                position = int(position) + 1
            elif piece:
                assert position in columns, (line, position)  # each piece at its column
                columns[position] += piece
                position += table.width(piece)
        assert position <= 30, line
    assert list(columns.values()) == ["652701-2026-00031", title, "调解不成，导入其他法定途径"]


def test_charts_print_their_values_where_they_read(app):
    """Bars and slices carry their counts, in text not stroked in the series' colour."""
    data = {"trend": [{"month": "2025-03", "registered": 7, "concluded": 5}],
            "by_category": [{"label": "民间借贷", "value": 12}],
            "by_centre": [{"label": "博乐市", "value": 9}],
            "by_source": [{"label": "窗口来访", "value": 8}, {"label": "热线电话", "value": 4}],
            "by_level": [{"label": "村级", "value": 3}],
            "funnel": [{"label": "已登记", "value": 11}]}
    with app.test_request_context():
        drawn = reports.charts(data)
    for name, value in (("trend", "7"), ("category", "12"), ("centre", "9"), ("source", "8"),
                        ("funnel", "11")):
        assert re.search(rf'class="value" style="[^"]*stroke:none[^"]*"[^>]*>{value}<',
                         drawn[name]), name
    assert "窗口来访 8（67%）" in drawn["source"]


def test_a_batch_of_county_pdfs_reaches_the_message_centre(app, march, users, login_as):
    """A leader of the region asks for every county's PDF: a page says which, the post queues
    the job, and the message centre offers one ZIP holding a PDF per area, the region's first."""
    _scope("leader", "650000")
    client = login_as("leader")
    asked = client.get("/dashboard/pdf-batch?period=2025-03")
    assert asked.status_code == 200
    page = asked.get_data(as_text=True)
    assert "博乐市" in page and "库尔勒市" in page
    posted = client.post("/dashboard/pdf-batch?period=2025-03")
    assert posted.status_code == 302
    assert "后台生成" in client.get(posted.headers["Location"]).get_data(as_text=True)
    db.session.rollback()
    notice = db.session.scalar(select(models.Notice).filter_by(kind="export_ready"))
    assert notice is not None, [(r.status, r.error) for r in db.session.scalars(
        select(models.JobRun))]
    assert notice.file_name.endswith(".zip")
    download = client.get(f"/messages/file/{notice.id}")
    assert download.status_code == 200 and download.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(download.data))
    names = archive.namelist()
    assert len(names) >= 3 and names[0].startswith("01-")
    assert all(archive.read(name).startswith(b"%PDF") for name in names)
