"""List exports: the rows the list shows (scope, filters, order, every page) as Excel and CSV,
readable, masked where the role sees masked, formula-like text kept as text, audited, capped."""

import csv
import io
import re

import openpyxl
import pytest
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import select

from app import models, personal
from app.extensions import db
from seeds import demo
from tests.test_stats import T, _centre, add_case


@pytest.fixture
def register(world, users):
    """Sixty Bole cases and three Korla ones; one titled like a formula; two parties on one."""
    bole, korla = _centre("博乐市"), _centre("库尔勒市")
    made = []
    for day in range(60):
        made.append(add_case(bole, T(2025, 3, 1 + day % 28, 9, day % 60),
                             T(2025, 4, 1 + day % 28, 9) if day % 3 == 0 else None,
                             "resolved" if day % 3 == 0 else None,
                             title=f"博乐测试纠纷{day:02d}"))
    for day in range(3):
        add_case(korla, T(2025, 3, 2 + day, 9), title=f"库尔勒纠纷{day}")
    made[5].title = "=HYPERLINK(\"http://evil\",\"点我\")"
    made[7].parties.extend([
        models.Party(role="applicant", name="刘某英", id_number="652701199001011234",
                     phone="13812345678"),
        models.Party(role="respondent", name="张某", id_number="652701198502023456")])
    for name in ("staff", "leader"):
        user = db.session.scalar(select(User).filter_by(username=name))
        demo.set_scope(db.session, user, "652701", None)
    db.session.commit()
    return made


def _list_case_numbers(client, query):
    """The case numbers the list shows, page after page, in order."""
    found, page = [], 0
    while True:
        html = client.get(f"/disputemodelview/list/?{query}&page_DisputeModelView={page}"
                          ).get_data(as_text=True)
        numbers = re.findall(r">(T-\d{6})<", html)
        if not numbers:
            return found
        found += numbers
        page += 1


def _sheet_rows(content):
    """The rows of the first sheet below the header row, and the header and title lines."""
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    rows = [[cell for cell in row] for row in book.worksheets[0].iter_rows(values_only=True)]
    header = next(i for i, row in enumerate(rows) if row and row[0] == "案件编号")
    return rows[:header], rows[header], rows[header + 1:]


def test_the_case_list_exports_what_it_shows_in_excel(register, login_as):
    """Filters, order and every page: the file's case numbers are the list's, in its order;
    Chinese headers and labels; the title block says screen, filters, scope and who."""
    client = login_as("staff")
    query = "_flt_0_status=registered&_oc_DisputeModelView=registered_at&_od_DisputeModelView=asc"
    shown = _list_case_numbers(client, query)
    assert len(shown) == 40  # two pages of the Bole cases not concluded; no Korla case
    page = client.get(f"/disputemodelview/list/?{query}").get_data(as_text=True)
    assert "导出Excel" in page and "导出CSV" in page
    response = client.get(f"/disputemodelview/export-rows/xlsx/?{query}")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    title, header, rows = _sheet_rows(response.data)
    assert [row[0] for row in rows] == shown
    first = db.session.scalar(select(models.Dispute).filter_by(case_no=shown[0]))
    assert rows[0][1] == first.registered_at  # a real date and time, to the minute
    assert header[:6] == ["案件编号", "登记时间", "综治中心", "当事人", "纠纷类别", "标题"]
    assert {row[9] for row in rows} == {"已登记"} and {row[2] for row in rows} == {"博乐市"}
    text = " ".join(str(cell) for row in title for cell in row if cell)
    assert text.startswith("矛盾纠纷列表")
    assert "已登记" in text and "博乐市" in text and "staff" in text and "40" in text
    audit = db.session.scalars(select(models.AuditLog).filter_by(action="export")).all()
    assert audit and audit[-1].detail and "40" in str(audit[-1].detail)


def test_the_register_export_carries_parties_days_and_keeps_formulas_as_text(register,
                                                                            login_as):
    """Parties by side, the outcome and days; a title like a formula stays text."""
    client = login_as("staff")
    content = client.get("/disputemodelview/export-rows/xlsx/").data
    _title, header, rows = _sheet_rows(content)
    by_number = {row[0]: dict(zip(header, row)) for row in rows}
    case = by_number[register[7].case_no]
    assert case["当事人"] == "申请人：刘某英；被申请人：张某"
    concluded = by_number[register[0].case_no]
    assert concluded["办结结果"] if "办结结果" in concluded else True
    assert any(value == 31.0 for value in concluded.values()), concluded
    assert by_number[register[5].case_no]["标题"] == "=HYPERLINK(\"http://evil\",\"点我\")"
    book = openpyxl.load_workbook(io.BytesIO(content))
    cells = [c for row in book.worksheets[0].iter_rows() for c in row
             if c.value == "=HYPERLINK(\"http://evil\",\"点我\")"]
    assert cells and all(c.data_type == "s" for c in cells)


def test_csv_streams_the_same_rows_with_formulas_neutralised(register, login_as):
    """UTF-8 with a BOM; the same case numbers; the formula-like title starts with '."""
    client = login_as("staff")
    response = client.get("/disputemodelview/export-rows/csv/")
    body = response.data
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    header = next(i for i, row in enumerate(rows) if row and row[0] == "案件编号")
    numbers = [row[0] for row in rows[header + 1:]]
    assert numbers == _list_case_numbers(client, "a=1")
    assert "'=HYPERLINK(\"http://evil\",\"点我\")" in {row[5] for row in rows[header + 1:]}


def test_personal_data_is_masked_for_roles_that_see_it_masked(register, login_as, monkeypatch):
    """The parties list exported by a leader shows masked ID numbers; the administrator's
    shows them in full only when its role is granted unmasked personal data."""
    leader = login_as("leader")
    _title, header, rows = _sheet_rows_any(leader.get("/partymodelview/export-rows/xlsx/").data)
    column = header.index("身份证号")
    assert rows and all("*" in (row[column] or "*") for row in rows)
    assert "652701199001011234" not in str(rows)
    # A role granted unmasked personal data (no declared role holds it) exports them in full.
    monkeypatch.setattr(personal, "can_view", lambda: True)
    admin = login_as("admin")
    _title, header, rows = _sheet_rows_any(admin.get("/partymodelview/export-rows/xlsx/").data)
    assert "652701199001011234" in str(rows)


def _sheet_rows_any(content):
    """Title, header and rows of a sheet whose header is the first row after a blank one."""
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    rows = [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]
    header = next(i for i, row in enumerate(rows) if i and not any(rows[i - 1])) if any(
        not any(r) for r in rows) else 0
    return rows[:header], rows[header], rows[header + 1:]


def test_an_export_past_the_cap_says_so_and_exports_nothing(register, login_as, app):
    """More rows than EXPORT_MAX_ROWS: back to the list, filters kept, with a message."""
    client = login_as("staff")
    app.config["EXPORT_MAX_ROWS"] = 10
    try:
        response = client.get("/disputemodelview/export-rows/xlsx/?_flt_0_status=registered")
    finally:
        app.config["EXPORT_MAX_ROWS"] = 100000
    assert response.status_code == 302
    assert "_flt_0_status=registered" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "10" in page and "导出" in page


def test_every_list_screen_offers_an_export_that_opens(app, register, login_as):
    """Each list screen the administrator reaches answers its export with a workbook."""
    client = login_as("admin")
    names = sorted({rule.endpoint.split(".")[0] for rule in app.url_map.iter_rules()
                    if rule.endpoint.endswith(".export_rows")})
    assert len(names) > 10
    for name in names:
        response = client.get(f"/{name.lower()}/export-rows/xlsx/")
        if response.status_code in (302, 403, 404):  # a screen this role may not list
            continue
        assert response.status_code == 200, name
        book = openpyxl.load_workbook(io.BytesIO(response.data), read_only=True)
        assert book.worksheets[0].max_row >= 6, name


def test_a_long_list_is_exported_in_the_background(register, login_as, app):
    """Past EXPORT_MAX_ROWS the list is exported by the job queue as the person who asked
    (their filters, scope and masking); the message centre offers the file; another person
    cannot download it; past EXPORT_QUEUE_MAX_ROWS nothing is started."""
    from app import models
    from app.extensions import db
    from sqlalchemy import select

    client = login_as("staff")
    app.config["EXPORT_MAX_ROWS"] = 2
    try:
        response = client.get("/disputemodelview/export-rows/csv/?_flt_0_status=registered")
    finally:
        app.config["EXPORT_MAX_ROWS"] = 100000
    assert response.status_code == 302
    assert "后台" in client.get(response.headers["Location"]).get_data(as_text=True)
    db.session.rollback()
    notice = db.session.scalar(select(models.Notice).filter_by(kind="export_ready"))
    assert notice is not None, [(r.status, r.error) for r in db.session.scalars(
        select(models.JobRun))]
    assert notice.file_name.endswith(".csv")
    page = client.get("/messages/").get_data(as_text=True)
    assert "导出" in page and "zz-unread-count" in page
    opened = client.get(f"/messages/open/{notice.id}")
    assert opened.status_code == 302 and opened.headers["Location"].endswith(
        f"/messages/file/{notice.id}")
    download = client.get(opened.headers["Location"])
    assert download.status_code == 200
    text = download.data.decode("utf-8-sig")
    inline = client.get("/disputemodelview/export-rows/csv/?_flt_0_status=registered")
    # The same rows as the export in a request: the same filters, scope and columns.
    assert text.splitlines()[4:] == inline.data.decode("utf-8-sig").splitlines()[4:]
    assert len(text.splitlines()) > 8
    other = login_as("admin")
    assert other.get(f"/messages/file/{notice.id}").status_code == 404
    client = login_as("staff")
    app.config.update(EXPORT_MAX_ROWS=1, EXPORT_QUEUE_MAX_ROWS=2)
    try:
        refused = client.get("/disputemodelview/export-rows/xlsx/?_flt_0_status=registered")
    finally:
        app.config.update(EXPORT_MAX_ROWS=100000, EXPORT_QUEUE_MAX_ROWS=2000000)
    assert "缩小" in client.get(refused.headers["Location"]).get_data(as_text=True) or \
        "超过" in client.get(refused.headers["Location"]).get_data(as_text=True)
    assert db.session.scalar(select(models.Notice).filter_by(kind="export_ready")).id == \
        notice.id


def test_a_background_export_masks_personal_data(register, login_as, app):
    """The party list (personal columns) exported by the worker masks as the screen does."""
    from app import models
    from app.extensions import db
    from sqlalchemy import select

    client = login_as("staff")
    app.config["EXPORT_MAX_ROWS"] = 0
    try:
        client.get("/partymodelview/export-rows/csv/")
    finally:
        app.config["EXPORT_MAX_ROWS"] = 100000
    db.session.rollback()
    notice = db.session.scalar(select(models.Notice).filter_by(kind="export_ready"))
    assert notice is not None, [(r.status, r.error) for r in db.session.scalars(
        select(models.JobRun))]
    text = client.get(f"/messages/file/{notice.id}").data.decode("utf-8-sig")
    phones = [p for p in db.session.scalars(select(models.Party.phone)) if p]
    assert phones and not any(phone in text for phone in phones)
