"""Imports: a preview before anything is written, every bad cell named in Chinese, all or
nothing, re-imports that change nothing, scope, encodings, templates and the command."""

import io
import re

import openpyxl
import pytest
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import func, select

from app import models, stats
from app.extensions import db
from seeds import demo

CASES_CSV = """案件编号,综治中心,纠纷类别,标题,涉及金额,来源,层级,登记时间,受理时间,办结时间,办结结果,化解层级,申请人,申请人身份证号,被申请人
652701-2023-00901,博乐市,民间借贷,古丽某诉马某借款纠纷,50000,窗口来访,县级,2023-05-04 09:00,2023-05-04 10:00,2023-05-20 16:00,调解成功,村级,古丽某,,马某
652701-2023-00902,博乐市,邻里纠纷,=HYPERLINK("http://x"),,热线电话,村级,2023/6/1,,,,,阿某,,
"""


def _upload(client, kind, name, content):
    """POST a file to the preview; the page."""
    response = client.post("/import/preview", data={
        "kind": kind, "file": (io.BytesIO(content), name)}, content_type="multipart/form-data")
    return response


def _counts(page):
    """{status: n} shown at the top of the preview."""
    return {status: int(n) for status, n in re.findall(
        r'data-status="(\w+)">[^<]*?(\d+)</span>', page)}


def _confirm(client, page):
    """Press the preview's import button."""
    token = re.search(r'name="token" value="(\w+)"', page).group(1)
    return client.post("/import/confirm", data={"token": token})


@pytest.fixture
def bole_admin(world, users):
    """The centre administrator scoped to Bole."""
    user = db.session.scalar(select(User).filter_by(username="centre_admin"))
    demo.set_scope(db.session, user, "652701", None)
    staff = db.session.scalar(select(User).filter_by(username="staff"))
    demo.set_scope(db.session, staff, "652701", None)
    db.session.commit()


@pytest.mark.parametrize("view, kind", [("regionmodelview", "region"),
                                        ("stationedunitmodelview", "unit"),
                                        ("staffmodelview", "staff"),
                                        ("expertmodelview", "expert")])
def test_an_exported_list_imports_back_unchanged(world, login_as, view, kind):
    """Export → import: every row unchanged, nothing to write."""
    client = login_as("admin")
    exported = client.get(f"/{view}/export-rows/xlsx/").data
    page = _upload(client, kind, f"{kind}.xlsx", exported).get_data(as_text=True)
    counts = _counts(page)
    assert counts["unchanged"] > 0, page[:3000]
    assert counts["new"] == counts["updated"] == counts["error"] == 0, re.findall(
        r"<div>([^<]*)</div>", page)[:8]


def test_historic_cases_come_in_with_their_timeline_and_count(world, login_as, bole_admin):
    """Two cases previewed, confirmed, written with an import event at their registration,
    the concluded one counted in May 2023; a re-import changes nothing; the counter moved past
    the numbers so the next registration does not collide."""
    client = login_as("staff")
    page = _upload(client, "case", "历史案件.csv", CASES_CSV.encode("utf-8")).get_data(
        as_text=True)
    assert _counts(page) == {"new": 2, "updated": 0, "unchanged": 0, "error": 0}, page[:2000]
    assert db.session.scalar(select(func.count(models.Dispute.id))) == 0  # nothing yet
    response = _confirm(client, page)
    assert response.status_code == 302
    case = db.session.scalar(select(models.Dispute).filter_by(case_no="652701-2023-00901"))
    assert case.status == "concluded" and case.outcome == "resolved"
    assert [e.action for e in case.events] == ["import"]
    assert case.events[0].at == case.registered_at
    assert [p.name for p in case.parties] == ["古丽某", "马某"]
    other = db.session.scalar(select(models.Dispute).filter_by(case_no="652701-2023-00902"))
    assert other.title == '=HYPERLINK("http://x")' and other.status == "registered"
    may = stats.summary(db.session, stats.area_by_code(db.session, "652701"),
                        stats.Period.parse("2023-05"))
    assert may["concluded"] == 1 and may["resolved"] == 1
    from app import rollup

    assert rollup.check(db.session) == []
    again = _upload(client, "case", "历史案件.csv", CASES_CSV.encode("utf-8")).get_data(
        as_text=True)
    assert _counts(again) == {"new": 0, "updated": 0, "unchanged": 2, "error": 0}
    from app import workflow

    centre = db.session.scalar(select(models.Centre).filter_by(short_name="博乐市"))
    assert workflow.next_case_no(db.session, centre, 2023) == "652701-2023-00903"
    db.session.rollback()


def test_every_bad_cell_is_named_and_nothing_is_written(world, login_as, bole_admin):
    """Bad ID check digit, unknown centre and category, a date that is no date, a future
    time, a missing title, a resolved case without its level: each named by row and column;
    no import button; nothing written."""
    bad = (CASES_CSV.splitlines()[0] + "\n"
           "X-1,博乐市,民间借贷,甲,abc,窗口来访,县级,2023-05-04,,,,,甲,652701199001011230,\n"
           "X-2,不存在中心,没有类别,乙,,窗口来访,县级,昨天,,,,,乙,,\n"
           "X-3,博乐市,民间借贷,,,窗口来访,县级,2099-01-01,,,,,丙,,\n"
           "X-4,博乐市,民间借贷,丁,,窗口来访,县级,2023-05-04,,2023-05-06,调解成功,,丁,,\n")
    client = login_as("staff")
    page = _upload(client, "case", "bad.csv", bad.encode("utf-8")).get_data(as_text=True)
    assert _counts(page)["error"] == 4
    messages = " ".join(re.findall(r"<div>(第\d+行[^<]*)</div>", page))
    assert "第2行 身份证号" in messages or "第2行 申请人身份证号" in messages, messages
    assert "第2行 涉及金额" in messages
    assert "第3行 综治中心" in messages and "第3行 纠纷类别" in messages
    assert "第3行 登记时间" in messages
    assert "第4行 标题" in messages and "第4行 登记时间" in messages
    assert "第5行 化解层级" in messages
    assert 'name="token"' not in page
    assert db.session.scalar(select(func.count(models.Dispute.id))) == 0


def test_a_centre_admin_cannot_import_into_another_county(world, login_as, bole_admin):
    """A Bole administrator's rows for Korla are refused, row by row."""
    client = login_as("centre_admin")
    content = ("综治中心,部门,方式\n库尔勒市,人民法院,常驻\n").encode("utf-8")
    page = _upload(client, "unit", "units.csv", content).get_data(as_text=True)
    assert _counts(page)["error"] == 1 and "库尔勒市超出您的管辖范围" in page, page[-3000:]


def test_gb18030_csv_and_a_file_that_is_not_a_spreadsheet(world, login_as, bole_admin):
    """A staff list saved by Excel as GB18030 CSV reads; a renamed text file is refused."""
    client = login_as("centre_admin")
    content = "姓名,综治中心,电话\n新来的调解员,博乐市,13912345678\n".encode("gb18030")
    page = _upload(client, "staff", "staff.csv", content).get_data(as_text=True)
    assert _counts(page) == {"new": 1, "updated": 0, "unchanged": 0, "error": 0}, page[:3000]
    _confirm(client, page)
    assert db.session.scalar(select(models.Staff).filter_by(name="新来的调解员")) is not None
    response = _upload(client, "staff", "staff.xlsx", b"not a workbook")
    assert response.status_code == 302
    assert "Excel" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_templates_carry_headers_an_example_and_drop_downs(world, login_as):
    """Each kind's template: header row, example row, allowed values, validations."""
    client = login_as("admin")
    for kind in ("region", "unit", "staff", "expert", "case"):
        response = client.get(f"/import/template/{kind}")
        assert response.status_code == 200
        book = openpyxl.load_workbook(io.BytesIO(response.data))
        sheet = book.worksheets[0]
        assert sheet.cell(1, 1).value and sheet.cell(2, 1).value
        assert len(book.worksheets) == 2
        if kind != "staff":
            assert sheet.data_validations.dataValidation, kind


def test_the_import_command_checks_then_writes(app, world, tmp_path):
    """`flask import case FILE --dry-run` writes nothing; without it the cases come in."""
    path = tmp_path / "cases.csv"
    path.write_text(CASES_CSV, encoding="utf-8-sig")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["import", "case", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "new: 2" in result.output
    assert db.session.scalar(select(func.count(models.Dispute.id))) == 0
    result = runner.invoke(args=["import", "case", str(path)])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.scalar(select(func.count(models.Dispute.id))) == 2


def test_a_staff_import_can_make_their_logins(world, login_as, bole_admin, client):
    """New 登录账号 with a role: the login is made in the same transaction with the centre's
    scope (the unit's, for a liaison), its one-time password shown once, and it must change
    the password at its first sign-in; a login name already used elsewhere is refused."""
    admin = login_as("centre_admin")
    content = ("姓名,综治中心,部门,电话,登录账号,角色\n"
               "新窗口员,博乐市,,13911112222,newclerk,窗口工作人员\n"
               "新联络员,博乐市,人民法院,13911113333,newliaison,入驻单位联络员\n").encode()
    page = _upload(admin, "staff", "staff.csv", content).get_data(as_text=True)
    assert _counts(page)["new"] == 2, page[-3000:]
    done = _confirm(admin, page).get_data(as_text=True)
    passwords = re.findall(r"<code>([^<]+)</code>", done)
    assert len(passwords) == 2 and "newclerk" in done
    clerk = db.session.scalar(select(User).filter_by(username="newclerk"))
    liaison = db.session.scalar(select(User).filter_by(username="newliaison"))
    assert [r.name for r in clerk.roles] == ["staff"]
    assert db.session.get(models.UserScope, liaison.id).unit_id is not None
    assert db.session.scalar(select(models.Staff).filter_by(name="新窗口员")).user == clerk
    admin.post("/logout/")
    response = admin.post("/login/", data={"username": "newclerk", "password": passwords[0]})
    assert response.status_code == 302
    assert "resetmypassword" in admin.get("/disputemodelview/list/").headers.get("Location", "")
    again = _upload(login_as("centre_admin"), "staff", "staff.csv", content).get_data(
        as_text=True)
    assert _counts(again) == {"new": 0, "updated": 0, "unchanged": 2, "error": 0}, again[-2000:]


def test_the_case_register_imports_back_unchanged(app, world, login_as):
    """The case list's Excel register, imported again: every case unchanged."""
    demo.load(db.session, app.appbuilder.sm, cases=40)
    client = login_as("admin")
    exported = client.get("/disputemodelview/export-rows/xlsx/").data
    page = _upload(client, "case", "台账.xlsx", exported).get_data(as_text=True)
    counts = _counts(page)
    total = db.session.scalar(select(func.count(models.Dispute.id)))
    assert counts == {"new": 0, "updated": 0, "unchanged": total, "error": 0}, re.findall(
        r"<div>([^<]*)</div>", page)[:6]


def test_a_second_press_of_import_writes_nothing_more(world, login_as, bole_admin):
    """The same preview confirmed twice (a double click): the rows are written once."""
    client = login_as("centre_admin")
    content = "姓名,综治中心,电话\n双击调解员,博乐市,13912345670\n".encode()
    page = _upload(client, "staff", "staff.csv", content).get_data(as_text=True)
    token = re.search(r'name="token" value="(\w+)"', page).group(1)
    first = client.post("/import/confirm", data={"token": token})
    second = client.post("/import/confirm", data={"token": token})
    assert first.status_code == second.status_code == 302
    assert db.session.scalar(select(func.count(models.Staff.id)).where(
        models.Staff.name == "双击调解员")) == 1


def test_a_region_admin_cannot_import_over_another_subtree(app, world, client):
    """An administrator scoped to Bole naming Korla's county code under Bole is refused (the
    county would move out of another's subtree)."""
    from tests.conftest import PASSWORD

    sm = app.appbuilder.sm
    user = sm.add_user("bole_root", "博", "乐", "br@example.org", sm.find_role("admin"),
                       password=PASSWORD)
    demo.set_scope(db.session, user, "652701", None)
    db.session.commit()
    client.post("/login/", data={"username": "bole_root", "password": PASSWORD})
    content = "区划代码,名称,层级,上级区划代码\n652801,改名,乡镇,652701\n".encode()
    page = _upload(client, "region", "regions.csv", content).get_data(as_text=True)
    assert _counts(page)["error"] == 1, page[-2000:]
