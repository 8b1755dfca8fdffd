"""Every 新增 inside a record's tabs saves, with the parent filled in from the tab, and returns
to the parent's page; a refused one keeps what was typed and says why."""

import html
import re

import pytest
from sqlalchemy import func, select

from app import models, workflow
from app.extensions import db


def _bole():
    """The Bole centre."""
    return db.session.scalar(select(models.Centre).join(models.Region)
                             .where(models.Region.code == "652701"))


def _case():
    """A registered Bole case."""
    case = models.Dispute(centre=_bole(), category=db.session.scalar(select(models.Category)),
                          title="标签页新增", description="借款未还", source="window",
                          level="county", risk="low")
    db.session.add(case)
    workflow.register(db.session, case, None)
    db.session.commit()
    return case


def _unit():
    """A stationed unit of Bole."""
    return db.session.scalar(select(models.StationedUnit).where(
        models.StationedUnit.centre_id == _bole().id))


# parent page, child view, the values typed into the tab's add form, the child model
CASES = [
    (lambda: f"/disputemodelview/show/{_case().id}", "partymodelview",
     {"role": "applicant", "name": "刘某英"}, models.Party),
    (lambda: f"/stationedunitmodelview/show/{_unit().id}", "rotaslotmodelview",
     {"weekday": "2", "note": "周三轮驻"}, models.RotaSlot),
    (lambda: f"/centremodelview/show/{_bole().id}", "staffmodelview",
     {"name": "新来的调解员", "position": "调解员"}, models.Staff),
    (lambda: f"/centremodelview/show/{_bole().id}", "servicerecordmodelview",
     {"kind": "visitor", "count": "12", "period_start": "2026-11-01",
      "period_end": "2026-11-30"}, models.ServiceRecord),
]


@pytest.mark.parametrize("parent, child, values, model", CASES,
                         ids=[c[1] for c in CASES])
def test_a_tab_add_saves_and_returns_to_the_parent(world, login_as, parent, child, values,
                                                   model):
    """The tab's 新增 link opens the form with the parent fixed; saving writes the row."""
    client = login_as("admin")
    page_url = parent()
    page = client.get(page_url).get_data(as_text=True)
    links = [html.unescape(link) for link in re.findall(rf'href="(/{child}/add\?[^"]+)"', page)]
    assert links, f"no 新增 link to {child} on {page_url}"
    before = db.session.scalar(select(func.count()).select_from(model))
    assert client.get(links[0]).status_code == 200
    response = client.post(links[0], data=values)
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    assert response.headers["Location"].endswith(page_url)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(model)) == before + 1


def test_a_refused_tab_add_keeps_what_was_typed(world, login_as):
    """A party added to a concluded case is refused on the form, with the name still in it."""
    client = login_as("admin")
    case = _case()
    case.status, case.outcome, case.concluded_at = "concluded", "withdrawn", case.registered_at
    db.session.commit()
    link = f"/partymodelview/add?_flt_0_dispute={case.id}"
    response = client.post(link, data={"role": "applicant", "name": "迟到的当事人"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'value="迟到的当事人"' in page and "重新办理" in page
