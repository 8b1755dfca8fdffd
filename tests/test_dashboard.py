"""The dashboard: scope and period pickers, figures from the statistics module, drill-down links
that open exactly the cases a chart counts, the cache dropped by writes, and who may open it."""

import datetime
import json
import re

import pytest
from sqlalchemy import select

from app import models, stats
from app.extensions import db
from seeds import demo
from tests.test_stats import T, _area, _centre, add_case

PAYLOAD = re.compile(r'<script type="application/json" id="zz-dashboard-data">(.*?)</script>', re.S)
COUNT = re.compile(r"<strong>记录数目:</strong>\s*(\d+)")


def _scope(username, code):
    """Give a test login the region (or county) of a code as its scope."""
    from flask_appbuilder.security.sqla.models import User

    user = db.session.scalar(select(User).filter_by(username=username))
    region = db.session.scalar(select(models.Region).filter_by(code=code))
    db.session.merge(models.UserScope(user_id=user.id, region_id=region.id))
    db.session.commit()


@pytest.fixture
def month(world, users):
    """Cases in March 2025 in Bole and Qitai (and one in February), leader and centre admin
    scoped to the region and to Bole."""
    bole, qitai = _centre("博乐市"), _centre("奇台县")
    categories = list(db.session.scalars(select(models.Category).order_by(models.Category.id)))
    for day in range(1, 8):
        add_case(bole, T(2025, 3, day, 9), T(2025, 3, day + 3, 9), "resolved",
                 category=categories[day % 2], source="window" if day % 3 else "grid")
    for day in range(1, 5):
        add_case(qitai, T(2025, 3, day, 10), category=categories[2], source="hotline",
                 status="accepted", accepted_at=T(2025, 3, day, 11))
    add_case(bole, T(2025, 2, 20), category=categories[0])
    db.session.commit()
    _scope("leader", "650000")
    _scope("centre_admin", "652701")


def payload(client, url):
    """The dashboard's embedded data."""
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return json.loads(PAYLOAD.search(response.get_data(as_text=True)).group(1))


def test_leaders_land_on_the_dashboard_and_see_the_module_figures(month, login_as):
    """Leaders start on the dashboard; its figures are the statistics module's."""
    client = login_as("leader")
    assert client.get("/").headers["Location"].endswith("/dashboard/")
    data = payload(client, "/dashboard/?period=2025-03")
    expected = stats.summary(db.session, _area("650000"), stats.Period.parse("2025-03"))
    assert data["kpi"]["current"]["registered"] == expected["registered"] == 11
    assert data["kpi"]["current"]["resolved"] == 7
    assert data["kpi"]["previous"]["registered"] == 1
    html = client.get("/dashboard/?period=2025-03").get_data(as_text=True)
    assert "统计看板" in html and "2025年3月" in html and "登记案件数" in html


@pytest.mark.parametrize("chart, key", [("category", "by_category"), ("source", "by_source"),
                                        ("centre", "by_centre"), ("level", "by_level"),
                                        ("funnel", "funnel")])
def test_every_drill_down_link_opens_the_cases_it_counts(month, login_as, chart, key):
    """Clicking a bar or slice opens a case list whose count is the bar's value."""
    client = login_as("leader")
    data = payload(client, "/dashboard/?period=2025-03")
    items = data[key]
    assert items
    for item in items:
        url = data["links"][chart][str(item["code"])]
        html = client.get(url).get_data(as_text=True)
        shown = COUNT.search(html)
        assert shown and int(shown.group(1)) == item["value"], (chart, item, url)


def test_trend_links_open_the_month_registered_or_concluded(month, login_as):
    """The monthly trend's points open that month's registered or concluded cases."""
    client = login_as("leader")
    data = payload(client, "/dashboard/?period=2025-03")
    point = next(p for p in data["trend"] if p["month"] == "2025-03")
    for series in ("registered", "concluded"):
        html = client.get(data["links"]["trend"]["2025-03"][series]).get_data(as_text=True)
        assert int(COUNT.search(html).group(1)) == point[series] > 0


def test_overdue_referral_links_open_the_overdue_referrals(world, users, login_as):
    """The overdue-by-unit bars open the unit's overdue referrals."""
    bole = _centre("博乐市")
    unit = db.session.scalar(select(models.StationedUnit).filter_by(centre_id=bole.id))
    case = add_case(bole, T(2025, 3, 1), status="referred")
    for due in (T(2025, 3, 2), T(2025, 3, 3), datetime.datetime(2999, 1, 1)):
        db.session.add(models.Referral(dispute=case, unit=unit, sent_at=T(2025, 3, 1),
                                       respond_due=due, answer_due=due, status="sent"))
    db.session.commit()
    _scope("leader", "650000")
    client = login_as("leader")
    data = payload(client, "/dashboard/?period=2025-03")
    assert data["overdue"]["by_unit"] == [{"code": unit.id, "label": str(unit), "value": 2}]
    html = client.get(data["links"]["overdue"][str(unit.id)]).get_data(as_text=True)
    assert int(COUNT.search(html).group(1)) == 2


def test_a_centre_admin_sees_only_their_centre_whatever_the_url_asks(month, login_as):
    """The area picker offers only the scope; another area in the URL falls back to it."""
    client = login_as("centre_admin")
    root = db.session.scalar(select(models.Region.id).filter_by(code="650000"))
    data = payload(client, f"/dashboard/?period=2025-03&area={root}")
    assert data["area"]["name"] == "博乐市"
    assert data["kpi"]["current"]["registered"] == 7
    html = client.get("/dashboard/?period=2025-03").get_data(as_text=True)
    assert "奇台县" not in html


def test_the_cache_is_dropped_when_a_case_is_written(month, login_as):
    """A cached dashboard shows a new case as soon as it is committed."""
    client = login_as("leader")
    before = payload(client, "/dashboard/?period=2025-03")["kpi"]["current"]["registered"]
    assert payload(client, "/dashboard/?period=2025-03")["kpi"]["current"]["registered"] == before
    add_case(_centre("博乐市"), T(2025, 3, 15))
    db.session.commit()
    after = payload(client, "/dashboard/?period=2025-03")["kpi"]["current"]["registered"]
    assert after == before + 1


def test_a_bad_period_is_explained_and_the_current_month_shown(month, login_as):
    """An unreadable period flashes a Chinese message and shows this month."""
    client = login_as("leader")
    html = client.get("/dashboard/?period=2025-13", follow_redirects=True).get_data(as_text=True)
    assert "日期不存在" in html
    assert datetime.date.today().strftime("%Y-%m") in html


@pytest.mark.parametrize("role, status", [("staff", 403), ("unit_liaison", 403), ("auditor", 403),
                                          ("leader", 200), ("centre_admin", 200)])
def test_who_may_open_the_dashboard(month, login_as, role, status):
    """Leaders and centre admins open the dashboard; other roles are turned away."""
    if role in ("staff", "unit_liaison"):
        _scope(role, "652701")
    client = login_as(role)
    assert client.get("/dashboard/?period=2025-03").status_code == status


def test_chart_pages_and_definitions(month, login_as):
    """Each chart has its own page (the menu's chart entries); 指标说明 defines every figure."""
    from app.views import DashboardView

    client = login_as("leader")
    for name in DashboardView.CHARTS:
        html = client.get(f"/dashboard/chart/{name}?period=2025-03").get_data(as_text=True)
        assert f'data-chart="{name}"' in html and html.count('class="zz-chart') == 1
    assert client.get("/dashboard/chart/nothing").status_code == 404
    html = client.get("/dashboard/definitions").get_data(as_text=True)
    for figure in ("登记案件数", "化解成功率", "办结天数中位数", "群众满意率", "满意、基本满意",
                   "村、乡镇两级化解占比", "日均化解纠纷数", "综治中心排名"):
        assert figure in html
    menu = client.get("/dashboard/").get_data(as_text=True)
    assert "/dashboard/chart/trend" in menu and "/dashboard/definitions" in menu


def test_demo_petitions_fall_by_about_two_fifths(world):
    """The demo's petition records fall over the period, as in the article."""
    demo.load_petitions(db.session)  # already loaded with the world: a second run adds nothing
    db.session.commit()
    area = _area("650000")
    first = stats.petitions(db.session, area, stats.Period.parse("2024-01"))
    last = stats.petitions(db.session, area,
                           stats.Period.month_of(datetime.date.today()).previous())
    assert 0.45 < last / first < 0.75


def test_a_changed_scope_shows_on_the_next_request(app, client, month, login_as):
    """Scopes are cached per user; moving a login to another county shows at once."""
    client = login_as("staff")
    _scope("staff", "652701")  # 博乐市
    bole = client.get("/disputemodelview/list/").get_data(as_text=True)
    _scope("staff", "652325")  # 奇台县
    qitai = client.get("/disputemodelview/list/").get_data(as_text=True)
    assert COUNT.search(bole).group(1) == "8" and COUNT.search(qitai).group(1) == "4"


def test_a_running_period_is_compared_day_for_day_and_rates_in_points(world):
    """1 December is compared with 1 November and 1 December last year, not with whole
    months; a rate's change is the difference in points, a count's the change in percent."""
    bole = _centre("博乐市")
    for day in (T(2026, 11, 1, 9), T(2026, 11, 20, 9), T(2026, 12, 1, 9), T(2026, 12, 1, 10)):
        add_case(bole, day)
    db.session.commit()
    december = stats.Period.parse("2026-12")
    before, year_ago = stats.baselines(december, datetime.date(2026, 12, 1))
    assert (before.start, before.end) == (datetime.date(2026, 11, 1), datetime.date(2026, 11, 2))
    assert (year_ago.start, year_ago.end) == (datetime.date(2025, 12, 1),
                                              datetime.date(2025, 12, 2))
    found = stats.compare(db.session, _area("652701"), december, datetime.date(2026, 12, 1))
    assert found["previous"]["registered"] == 1  # 1 November only, not all of November (2)
    assert found["change"]["registered"]["previous"] == pytest.approx(1.0)  # 2 against 1
    assert found["change"]["success_rate"]["unit"] == "points"
    assert stats.points(0.944, 0.857) == pytest.approx(0.087)
    # A whole month that is over is compared with the whole month before.
    whole = stats.baselines(stats.Period.parse("2026-11"), datetime.date(2026, 12, 1))[0]
    assert whole.kind == "month" and whole.code == "2026-10"


def test_the_dashboard_opens_on_the_last_complete_month(month, login_as):
    """Without a period the dashboard shows the last whole month; a bad period on the PDF
    download answers with the dashboard and the message, never a PDF of another period."""
    client = login_as("leader")
    last = stats.Period.month_of(models.today()).previous()
    page = client.get("/dashboard/").get_data(as_text=True)
    assert f'value="{last.code}"' in page
    response = client.get("/dashboard/pdf?period=2025-13")
    assert response.status_code == 302 and "/dashboard/" in response.headers["Location"]
    assert "日期不存在" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_drill_down_list_says_what_it_shows(month, login_as):
    """The list a category bar opens names its filters in words: the category, the period and
    the area."""
    client = login_as("leader")
    data = payload(client, "/dashboard/?period=2025-03")
    item = data["by_category"][0]
    html = client.get(data["links"]["category"][str(item["code"])]).get_data(as_text=True)
    shown = re.search(r'<p class="alert alert-info zz-filters">(.*?)</p>', html, re.S)
    assert shown, "no filter summary"
    text = re.sub(r"<[^>]+>", "", shown.group(1))
    assert item["label"] in text and "2025年3月" in text and "新疆维吾尔自治区" in text, text
    # A plain list says nothing of the kind.
    assert "zz-filters" not in client.get("/disputemodelview/list/").get_data(as_text=True)
