"""The caches are keyed and emptied by what changed (app.caches): sign-ins change nothing, a
centre's writes leave another centre's counts alone, the menu is shared by a set of roles but
names its own login, and the clock's figures are never cached."""

import datetime
import re

from sqlalchemy import update

from app import caches, models, scope, stats
from app.extensions import cache, db
from tests.conftest import PASSWORD
from tests.test_workflow import T0, new_case, people  # noqa: F401  (a fixture)


def tokens(app, user=None):
    """The access token, and the count tokens of cases for a login (or for all)."""
    with app.test_request_context():
        if user is not None:
            request_scope = scope.scope_of(user)
            found = caches.centre_of(request_scope)
            return caches.access.current(), caches.cases.current(found if found else "*")
        return caches.access.current(), caches.cases.current()


def test_a_sign_in_changes_no_token_but_a_role_change_does(app, client, people):
    """FAB's sign-in bookkeeping (last login, counts) leaves menus and scopes cached; giving a
    login another role drops them."""
    before = tokens(app)
    assert client.post("/login/", data={"username": "bole", "password": PASSWORD}).status_code \
        == 302
    client.post("/logout/")
    client.post("/login/", data={"username": "bole", "password": "wrong"})
    assert tokens(app) == before
    user = db.session.get(type(people["bole"]), people["bole"].id)
    user.roles.append(app.appbuilder.sm.find_role("leader"))
    db.session.commit()
    assert tokens(app)[0] != before[0]


def test_a_write_in_one_centre_leaves_another_centres_counts(app, people):
    """A case registered at Bole replaces Bole's and the whole's count tokens, not Korla's."""
    bole, korla = people["bole"], people["korla"]
    assert caches_centres(app, bole) != caches_centres(app, korla)
    before = {"bole": tokens(app, bole)[1], "korla": tokens(app, korla)[1],
              "all": tokens(app)[1]}
    new_case(bole, at=T0)
    after = {"bole": tokens(app, bole)[1], "korla": tokens(app, korla)[1],
             "all": tokens(app)[1]}
    assert after["korla"] == before["korla"]
    assert after["bole"] != before["bole"] and after["all"] != before["all"]


def caches_centres(app, user):
    """The centre a login's counts are keyed by."""
    with app.test_request_context():
        return caches.centre_of(scope.scope_of(user))


def test_the_case_list_count_follows_a_write_in_the_clerks_centre(app, client, people):
    """A clerk's cached case count is dropped by a case registered at the clerk's centre, and
    not by one registered at another centre."""
    new_case(people["bole"], at=T0)
    client.post("/login/", data={"username": "bole", "password": PASSWORD})

    def count():
        html = client.get("/disputemodelview/list/").get_data(as_text=True)
        return int(re.search(r"</strong> (\d+)</div>", html).group(1))

    assert count() == 1
    with app.test_request_context():
        before = caches.cases.current(caches_centres(app, people["bole"]))
    new_case(people["korla"], code="652801", at=T0)
    with app.test_request_context():
        assert caches.cases.current(caches_centres(app, people["bole"])) == before
    new_case(people["bole"], at=T0)
    assert count() == 2


def test_the_menu_is_shared_by_roles_but_names_its_own_login(app, client, people):
    """Two clerks of the same roles get one cached menu bar, each with their own name."""
    for who in ("bole", "korla"):
        people[who].first_name, people[who].last_name = f"{who}名", "窗口"
    db.session.commit()
    pages = []
    for who in ("bole", "korla"):
        client.post("/logout/")
        client.post("/login/", data={"username": who, "password": PASSWORD})
        pages.append(client.get("/disputemodelview/list/").get_data(as_text=True))
        assert f"{who}名" in pages[-1] and caches_marks_gone(pages[-1])
    assert "korla名" not in pages[0] and "bole名" not in pages[1]
    with app.test_request_context():
        shared = [key for key in caches_keys() if "navbar:" in key]
    assert len(shared) == 1, shared  # one menu bar for the staff role, not one per login


def caches_keys():
    """The keys in the test cache (SimpleCache)."""
    return list(cache.cache._cache)


def caches_marks_gone(html):
    """No stand-in of the cached menu bar reaches the page."""
    return "zz-user-name" not in html and "zz-csrf" not in html


def test_the_clock_figures_are_never_cached(app, people):
    """A case whose acceptance deadline passes counts as overdue on the next request, though no
    write replaced the statistics token (the day's figures stay cached)."""
    case = new_case(people["bole"], at=models.now())
    area = stats.area_for(db.session, scope.scope_of(people["bole"]))  # Bole's county
    period = stats.Period.month_of(models.today())
    with app.test_request_context():
        first = caches.report(db.session, area, period)
    # Past its deadline, written behind the ORM's back: no token changes.
    db.session.execute(update(models.Dispute).where(models.Dispute.id == case.id).values(
        accept_due=models.now() - datetime.timedelta(hours=1)))
    db.session.commit()
    with app.test_request_context():
        second = caches.report(db.session, area, period)
    assert second["overdue"]["cases"] == first["overdue"]["cases"] + 1
    assert second["kpi"] == first["kpi"]  # the day's figures: from the cache
