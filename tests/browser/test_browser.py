"""Real-browser tests: Playwright driving Debian's Chromium against the app on a local port."""

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

from sqlalchemy import func, select

from app import models
from app.extensions import db
from seeds import demo

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = os.path.join(os.path.dirname(__file__), "..", "..", "artifacts")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason="Debian's chromium is not installed (scripts/test.sh installs it)"),
]


@pytest.fixture
def live_server(app):
    """The app served on a free local port for the length of a test."""
    demo.load(db.session, app.appbuilder.sm, cases=30)
    # The browser posts real forms: check their CSRF tokens as production does.
    app.config["WTF_CSRF_ENABLED"] = True
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    app.config["WTF_CSRF_ENABLED"] = False


@pytest.fixture
def page():
    """A Chromium page that may reach nothing but this machine."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
        outside = []

        def only_local(route):
            """Refuse any request to a host other than the app, and remember it."""
            if route.request.url.startswith("http://127.0.0.1:"):
                return route.continue_()
            outside.append(route.request.url)
            return route.abort()

        context.route("**/*", only_local)
        tab = context.new_page()
        tab.outside_requests = outside
        # Script errors and Content-Security-Policy refusals show up as console errors.
        tab.console_errors = []
        tab.on("console", lambda msg: msg.type == "error" and tab.console_errors.append(msg.text))
        yield tab
        browser.close()


def login(page, base, username):
    """Sign in through the login form (signing out whoever was signed in)."""
    page.context.clear_cookies()
    page.goto(f"{base}/login/")
    page.fill("#username", username)
    page.fill("#password", demo.DEMO_PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_staff_logs_in_and_sees_the_case_list_in_chinese(live_server, page):
    """Window staff sign in, open the case list, see it in Chinese; a screenshot is kept."""
    login(page, live_server, "staff")
    page.goto(f"{live_server}/disputemodelview/list/")
    page.wait_for_load_state("networkidle")
    assert page.locator("h4.panel-title").first.inner_text().strip() == "矛盾纠纷列表"
    headers = page.locator("table thead th").all_inner_texts()
    assert "案件编号" in " ".join(headers) and "状态" in " ".join(headers)
    bole_cases = db.session.scalar(
        select(func.count(models.Dispute.id)).join(models.Centre).where(models.Centre.short_name == "博乐市"))
    rows = page.locator("table tbody tr")
    assert rows.count() == min(25, bole_cases)
    # Window staff see their own centre's cases only.
    assert set(page.locator("table tbody tr td:nth-child(5)").all_inner_texts()) == {"博乐市"}
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, "case-list.png"), full_page=True)
    assert page.outside_requests == []
    assert page.console_errors == []
    # Signing out from the user menu (a form posted with its CSRF token).
    page.locator(".navbar .fa-user").first.click()
    page.screenshot(path=os.path.join(ARTIFACTS, "user-menu.png"))
    page.locator("form.zz-logout button").click()
    page.wait_for_load_state("networkidle")
    page.goto(f"{live_server}/disputemodelview/list/")
    assert "/login/" in page.url


def test_search_as_you_type_finds_a_centre(live_server, page):
    """Typing in a related field asks the lookup and offers only matching rows."""
    login(page, live_server, "admin")
    page.goto(f"{live_server}/disputemodelview/add")
    page.wait_for_load_state("networkidle")
    page.locator("#centre + .select2 .select2-selection").click()
    page.locator(".select2-search__field").fill("博乐")
    from playwright.sync_api import expect

    options = page.locator(".select2-results__option:not(.loading-results)")
    expect(options).to_have_text(["博乐市社会治安综合治理中心"])
    options = options.all_inner_texts()
    assert options == ["博乐市社会治安综合治理中心"]
    assert page.outside_requests == []
    assert page.console_errors == []


def choose(page, field, text):
    """Pick a row in a search-as-you-type box by typing part of its name."""
    from playwright.sync_api import expect

    page.locator(f"#{field} + .select2 .select2-selection").click()
    page.locator(".select2-search__field").fill(text)
    option = page.locator(".select2-results__option:not(.loading-results)", has_text=text).first
    expect(option).to_be_visible()
    option.click()


def step(page, name):
    """Submit one step form on the case or referral page."""
    page.locator(f"#step-{name} button[type=submit]").click()
    page.wait_for_load_state("networkidle")


def test_the_bole_case_journey(live_server, page):
    """Register the Bole case, refer it to the court, report in and answer as the court's liaison,
    hold an online session, conclude with the agreement and record the party's feedback."""
    from playwright.sync_api import expect

    login(page, live_server, "staff")
    page.goto(f"{live_server}/disputemodelview/add")
    choose(page, "centre", "博乐")
    choose(page, "category", "民间借贷")
    page.fill("#title", "浏览器测试：刘某英诉张某借款纠纷")
    page.fill("#description", "2024年1月借款7.8万元用于合资开美容店，对方出疆后联系不上。")
    page.fill("#amount", "78000")
    page.select_option("#source", "window")
    page.select_option("#level", "county")
    page.select_option("#risk", "medium")
    # The two sides are typed on the registration form itself.
    page.fill("#applicant_name", "刘某英")
    page.fill("#applicant_id_number", "652701198506120020")
    page.fill("#applicant_phone", "13899751234")
    page.fill("#respondent_name", "张某")
    page.screenshot(path=os.path.join(ARTIFACTS, "registration-form.png"), full_page=True)
    page.click("#model_form button[type=submit]")
    page.wait_for_load_state("networkidle")
    db.session.rollback()  # a fresh snapshot: the server committed after ours began
    case = db.session.scalar(select(models.Dispute).filter_by(title="浏览器测试：刘某英诉张某借款纠纷"))
    assert case is not None and case.status == "registered"
    assert sorted((p.role, p.name) for p in case.parties) == [("applicant", "刘某英"),
                                                              ("respondent", "张某")]
    assert page.url.endswith(f"/disputemodelview/show/{case.id}")  # lands on the new case
    step(page, "accept")
    page.locator("#step-refer label", has_text="人民法院").locator("input").check()
    page.fill("#step-refer textarea[name=instructions]", "请依托智慧法院平台开展线上调解。")
    step(page, "refer")
    expect(page.locator(".zz-case-state")).to_contain_text("已转办")

    login(page, live_server, "liaison")
    db.session.rollback()
    referral = db.session.scalar(select(models.Referral).filter_by(dispute_id=case.id))
    page.goto(f"{live_server}/")
    expect(page.locator(".zz-inbox", has_text="待报到的转办")).to_contain_text(case.case_no)
    page.goto(f"{live_server}/referralmodelview/show/{referral.id}")
    page.locator("form[action$='/report_in'] button").click()
    page.wait_for_load_state("networkidle")
    page.fill("textarea[name=result]", "已联系张某，同意线上调解。")
    page.locator("form[action$='/answer'] button").click()
    page.wait_for_load_state("networkidle")

    login(page, live_server, "staff")
    page.goto(f"{live_server}/disputemodelview/show/{case.id}")
    page.fill("#step-book input[name=scheduled_at]", "2025-03-10T10:00")
    page.select_option("#step-book select[name=mode]", "online_court")
    page.fill("#step-book input[name=link]", "智慧法院“互联网法庭”")
    step(page, "book")
    page.select_option("#step-result select[name=result]", "agreed")
    page.fill("#step-result textarea[name=agreement_text]", "张某每月按时还款，一年内还清7.8万元。")
    page.fill("#step-result input[name=follow_up_on]", "2025-04-10")
    step(page, "result")
    page.select_option("#step-conclude select[name=outcome]", "resolved")
    page.select_option("#step-conclude select[name=resolved_level]", "county")
    page.fill("#step-conclude textarea[name=note]", "线上调解成功，达成还款协议。")
    step(page, "conclude")
    page.locator("#step-feedback input[name=satisfaction][value='3']").check()
    page.select_option("#step-feedback select[name=channel]", "phone")
    step(page, "feedback")
    expect(page.locator(".zz-case-state")).to_contain_text("已反馈")
    page.screenshot(path=os.path.join(ARTIFACTS, "case-journey.png"), full_page=True)

    db.session.rollback()
    case = db.session.get(models.Dispute, case.id)
    assert case.status == "closed" and case.outcome == "resolved"
    assert case.sessions[0].mode == "online_court" and case.sessions[0].result == "agreed"
    assert [e.action for e in case.events] == [
        "register", "accept", "refer", "report_in", "answer", "book", "mediate", "conclude",
        "feedback"]
    assert page.outside_requests == [] and page.console_errors == []


def test_the_dashboard_draws_offline_and_drills_down(live_server, page):
    """A leader lands on the dashboard; every chart is drawn from our own ECharts copy with no
    outside request; clicking a category bar opens the list of exactly those cases."""
    login(page, live_server, "leader")
    page.goto(f"{live_server}/dashboard/?period=2025")
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").first.inner_text().startswith("统计看板")
    charts = page.locator(".zz-chart[data-drawn]")
    assert charts.count() == 7
    for index in range(7):
        # Drawn means shapes (ECharts' SVG renderer leaves paths for bars, slices and axes), or,
        # for a chart with nothing to show this period, the empty-period message.
        shapes = charts.nth(index).locator("svg path").count()
        assert shapes > 5 or "本期无数据" in charts.nth(index).inner_text()
    assert sum(charts.nth(i).locator("svg path").count() > 5 for i in range(7)) >= 6
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, "dashboard.png"), full_page=True)
    chart = page.locator('.zz-chart[data-chart="category"]')
    chart.scroll_into_view_if_needed()
    first = page.evaluate("""() => {
        const el = document.querySelector('.zz-chart[data-chart="category"]');
        const chart = echarts.getInstanceByDom(el);
        const item = chart.getOption().series[0].data[0];
        const point = chart.convertToPixel({seriesIndex: 0}, [item.value / 2, 0]);
        return {value: item.value, x: point[0], y: point[1]};
    }""")
    box = chart.bounding_box()
    with page.expect_navigation():
        page.mouse.click(box["x"] + first["x"], box["y"] + first["y"])
    page.wait_for_load_state("networkidle")
    assert "/disputemodelview/list/" in page.url
    assert f"记录数目: {first['value']}" in " ".join(page.locator(".well").all_inner_texts())
    assert "2025年" in page.locator(".zz-filters").inner_text()  # the list says what it shows
    page.screenshot(path=os.path.join(ARTIFACTS, "drill-down.png"), full_page=True)
    assert page.outside_requests == []
    assert page.console_errors == []


def _bole_centre():
    """Bole's centre."""
    return db.session.scalar(select(models.Centre).where(models.Centre.short_name == "博乐市"))


def _open_bole_case():
    """An open Bole case (its parties may still change)."""
    return db.session.scalar(select(models.Dispute).where(
        models.Dispute.centre_id == _bole_centre().id,
        models.Dispute.status.in_(("registered", "accepted", "referred"))))


def _rotating_unit():
    """A Bole unit sitting at the centre in rotation."""
    return db.session.scalar(select(models.StationedUnit).where(
        models.StationedUnit.centre_id == _bole_centre().id))


def _department_not_at_bole():
    """The name of a department not yet stationed at Bole."""
    stationed = select(models.StationedUnit.department_id).where(
        models.StationedUnit.centre_id == _bole_centre().id)
    return db.session.scalar(select(models.Department.name).where(
        models.Department.id.not_in(stationed)).order_by(models.Department.id))


# (parent page, tab's child screen, what a person types, the model the row lands in)
TAB_ADDS = [
    (lambda: f"/disputemodelview/show/{_open_bole_case().id}", "partymodelview",
     {"select:role": "third_party", "name": "浏览器第三人"}, models.Party),
    (lambda: f"/stationedunitmodelview/show/{_rotating_unit().id}", "rotaslotmodelview",
     {"select:weekday": "4", "note": "浏览器轮驻"}, models.RotaSlot),
    (lambda: f"/centremodelview/show/{_bole_centre().id}", "stationedunitmodelview",
     {"choose:department": lambda: _department_not_at_bole(), "select:mode": "on_call"},
     models.StationedUnit),
    (lambda: f"/centremodelview/show/{_bole_centre().id}", "staffmodelview",
     {"name": "浏览器调解员", "position": "调解员"}, models.Staff),
    (lambda: f"/centremodelview/show/{_bole_centre().id}", "expertmodelview",
     {"name": "浏览器专家", "organisation": "律师事务所"}, models.Expert),
    (lambda: f"/centremodelview/show/{_bole_centre().id}", "disputemodelview",
     {"choose:category": "邻里", "title": "浏览器标签页登记", "description": "相邻通行纠纷",
      "select:source": "window", "select:level": "county", "select:risk": "low",
      "applicant_name": "甲某", "respondent_name": "乙某"}, models.Dispute),
    (lambda: f"/centremodelview/show/{_bole_centre().id}", "servicerecordmodelview",
     {"select:kind": "visitor", "count": "9", "period_start": "2026-11-01",
      "period_end": "2026-11-30"}, models.ServiceRecord),
]


@pytest.mark.parametrize("parent, child, typed, model", TAB_ADDS, ids=[t[1] for t in TAB_ADDS])
def test_every_tab_add_saves_and_comes_back(live_server, page, parent, child, typed, model):
    """On the case, unit and centre pages, each tab's 新增 opens the form with the parent
    fixed; saving writes the row and returns to the parent's page, where the row is listed."""
    from playwright.sync_api import expect

    login(page, live_server, "admin")
    db.session.rollback()
    parent_url = parent()
    before = db.session.scalar(select(func.count()).select_from(model))
    page.goto(live_server + parent_url)
    page.wait_for_load_state("networkidle")
    add = page.locator(f'a[href^="/{child}/add?"]').first
    expect(add).to_have_count(1)
    # Open the tab that holds the list, as a person would, then its 新增 button.
    pane = add.evaluate("a => a.closest('.tab-pane') && a.closest('.tab-pane').id")
    if pane:
        page.locator(f'a[data-toggle="tab"][href="#{pane}"]').click()
    add.click()
    page.wait_for_load_state("networkidle")
    for key, value in typed.items():
        kind, _sep, name = key.rpartition(":")
        value = value() if callable(value) else value
        if kind == "select":
            page.select_option(f"#model_form [name={name}]", value)
        elif kind == "choose":
            choose(page, name, value)
        else:
            page.fill(f"#model_form [name={name}]", value)
    page.click("#model_form button[type=submit]")
    page.wait_for_load_state("networkidle")
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, f"tab-add-{child}.png"), full_page=True)
    db.session.rollback()  # what the server committed
    assert db.session.scalar(select(func.count()).select_from(model)) == before + 1, page.url
    assert page.url.split("?")[0].endswith(parent_url) or model is models.Dispute, page.url
    assert page.locator(".alert-danger").count() == 0
    assert page.outside_requests == [] and page.console_errors == []


def test_excel_out_and_a_previewed_import_in(live_server, page, tmp_path):
    """Staff export the case list from 导出 → 导出Excel (a workbook with the list's cases), then
    import two historic cases: the preview counts them, 导入 writes them, and the case list
    shows them."""
    import io

    import openpyxl

    login(page, live_server, "staff")
    page.goto(f"{live_server}/disputemodelview/list/")
    page.locator("button:has-text('导出')").click()
    with page.expect_download() as download:
        page.locator("a.zz-export:has-text('导出Excel')").click()
    book = openpyxl.load_workbook(io.BytesIO(open(download.value.path(), "rb").read()),
                                  read_only=True)
    cells = [row[0] for row in book.worksheets[0].iter_rows(values_only=True)]
    bole = db.session.scalar(select(func.count(models.Dispute.id)).join(models.Centre)
                             .where(models.Centre.short_name == "博乐市"))
    assert "案件编号" in cells and len(cells) - cells.index("案件编号") - 1 == bole
    path = tmp_path / "历史案件.csv"
    path.write_text("案件编号,综治中心,纠纷类别,标题,来源,层级,登记时间,办结时间,办结结果,化解层级,申请人\n"
                    "652701-2022-00701,博乐市,民间借贷,浏览器导入的历史借款纠纷,窗口来访,村级,"
                    "2022-04-01 09:00,2022-04-09 15:00,调解成功,村级,历史申请人甲\n"
                    "652701-2022-00702,博乐市,邻里纠纷,浏览器导入的历史邻里纠纷,热线电话,村级,"
                    "2022-05-01 09:00,,,,历史申请人乙\n", encoding="utf-8")
    page.goto(f"{live_server}/import/")
    page.select_option("#kind", "case")
    page.set_input_files("#file", str(path))
    page.click(".zz-import-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-status=new]").inner_text().strip() == "新增 2"
    page.screenshot(path=os.path.join(ARTIFACTS, "import-preview.png"), full_page=True)
    page.click(".zz-import-confirm button")
    page.wait_for_load_state("networkidle")
    assert "/disputemodelview/list/" in page.url
    assert "新增2行" in page.content()
    page.goto(f"{live_server}/disputemodelview/list/?_flt_0_title=浏览器导入")
    assert "浏览器导入的历史借款纠纷" in page.content()
    assert "浏览器导入的历史邻里纠纷" in page.content()
    assert page.outside_requests == [] and page.console_errors == []


def test_the_step_forms_are_drawn_from_the_offered_steps(live_server, page):
    """A case in hand shows the forms of exactly the steps the workflow offers, drawn from their
    fields; a refused one comes back with what was typed; a liaison's referral page shows the
    unit's steps. Screenshots are kept."""
    from playwright.sync_api import expect

    from app import workflow

    db.session.rollback()
    case = db.session.scalar(select(models.Dispute).where(
        models.Dispute.status == "accepted").order_by(models.Dispute.id))
    clerk = case.events[0].actor  # who registered it: its centre's window clerk
    offered = [o.step.name for o in workflow.steps_for(db.session, case, clerk)]
    login(page, live_server, clerk.username)
    page.goto(f"{live_server}/disputemodelview/show/{case.id}")
    drawn = page.eval_on_selector_all(".zz-step", "els => els.map(e => e.id.slice(5))")
    assert drawn == offered and {"refer", "book", "conclude"} <= set(drawn)
    expect(page.locator("#step-refer")).to_contain_text("报到时限")
    page.fill("#step-extend input[name=days]", "365")  # more than the route allows
    page.fill("#step-extend input[name=approved_by]", "中心主任")
    page.locator("#step-extend button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=os.path.join(ARTIFACTS, "case-steps.png"), full_page=True)
    expect(page.locator(".alert-danger").first).to_be_visible()
    assert page.input_value("#step-extend input[name=approved_by]") == "中心主任"
    page.screenshot(path=os.path.join(ARTIFACTS, "case-steps.png"), full_page=True)
    referral = db.session.scalar(select(models.Referral).where(
        models.Referral.status == "sent").order_by(models.Referral.id))
    liaison = next(u for u in db.session.scalars(select(models.UserScope).where(
        models.UserScope.unit_id == referral.unit_id)))
    login(page, live_server, liaison.user.username)
    page.goto(f"{live_server}/referralmodelview/show/{referral.id}")
    drawn = page.eval_on_selector_all(".zz-step", "els => els.map(e => e.id.slice(5))")
    assert drawn == ["report_in", "return"]
    page.screenshot(path=os.path.join(ARTIFACTS, "referral-steps.png"), full_page=True)


def test_swagger_ui_draws_the_api_offline(live_server, page):
    """The API documentation page draws every operation from our own files, with no request
    outside and no script error (the Content-Security-Policy holds)."""
    login(page, live_server, "staff")
    page.goto(f"{live_server}/api/v1/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=15000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/cases" in paths and "/api/v1/events" in paths
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, "api-docs.png"), full_page=True)
    assert page.outside_requests == []
    assert page.console_errors == []


def test_a_liaison_is_warned_and_opens_the_referral_from_the_bell(live_server, page):
    """A referral due to report in within a day: after the scan the liaison's bell counts it;
    the message centre says it in Chinese; clicking it opens the referral and the count goes;
    a refused settings form keeps what was typed and says why."""
    from app import notices, workflow

    staff = app_user("staff")
    case = models.Dispute(centre=_bole_centre(), title="浏览器测试：期限提醒",
                          description="借款未还", source="window", level="county", risk="low",
                          category=db.session.scalar(select(models.Category)))
    db.session.add(case)
    workflow.register(db.session, case, staff)
    workflow.accept(db.session, case, staff)
    court = db.session.scalar(select(models.StationedUnit).join(models.Department).where(
        models.StationedUnit.centre_id == _bole_centre().id, models.Department.code == "court"))
    workflow.refer(db.session, case, staff, [court], respond_hours=20)
    db.session.commit()
    db.session.execute(models.Notice.__table__.delete())
    db.session.commit()
    assert notices.scan(db.session) >= 1
    login(page, live_server, "liaison")
    count = page.locator(".zz-bell .zz-unread-count")
    assert count.is_visible() and int(count.inner_text()) >= 1
    page.click(".zz-bell")
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text() == "消息中心"
    message = page.locator(".zz-message-list a", has_text=case.case_no).first
    assert "报到" in message.inner_text()
    page.screenshot(path=os.path.join(ARTIFACTS, "message-centre.png"), full_page=True)
    before = int(count.inner_text())
    message.click()
    page.wait_for_load_state("networkidle")
    assert "/referralmodelview/show/" in page.url
    after = page.locator(".zz-bell .zz-unread-count")
    assert (after.count() == 0 and before == 1) or int(after.inner_text()) == before - 1
    page.goto(f"{live_server}/messages/settings")
    page.check("#by_sms")
    page.fill("#phone", "12345")
    page.click("button.btn-primary[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "11位手机号码" in page.content() and page.input_value("#phone") == "12345"
    assert page.is_checked("#by_sms")
    assert page.console_errors == [] and page.outside_requests == []


def app_user(name):
    """A demo login by name."""
    from flask_appbuilder.security.sqla.models import User

    return db.session.scalar(select(User).filter_by(username=name))
