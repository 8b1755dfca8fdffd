"""Many clerks at once, through a real gunicorn (4 workers) on the test database: registrations,
party adds and steps through forms and the API; no collision, no 5xx, nothing lost or doubled,
the rollups exact afterwards, and two saves of one version answered honestly."""

import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from app import models, rollup, workflow
from app.extensions import db
from seeds import demo
from tests.conftest import PASSWORD

pytestmark = pytest.mark.concurrency
requests = pytest.importorskip("requests")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIENTS = 30
STALE = "您打开后该案件已被他人修改"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _free_port():
    """A TCP port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(app):
    """gunicorn with 4 workers on the test database, the production settings (CSRF on)."""
    port = _free_port()
    folder = tempfile.mkdtemp(prefix="zongzhi-gunicorn-")
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "SECRET_KEY": "concurrency-test-secret", "AUTH_RATE_LIMITED": "0",
           "ZONGZHI_INSTANCE": folder, "CACHE_DIR": os.path.join(folder, "cache"),
           "GUNICORN_WORKERS": "4", "DB_POOL_SIZE": "2"}
    env.pop("REDIS_URL", None)
    log = open(os.path.join(folder, "gunicorn.log"), "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py",
         "--bind", f"127.0.0.1:{port}", "run:app"], cwd=ROOT, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            if requests.get(base + "/health", timeout=30).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        if process.poll() is not None or time.time() > deadline:
            log.close()
            raise RuntimeError(open(log.name).read()[-3000:])
        time.sleep(0.3)
    yield base
    process.terminate()
    process.wait(timeout=30)
    log.close()


@pytest.fixture
def clerks(app, world):
    """Thirty Bole window clerks, each with a login scoped to the Bole centre."""
    sm = app.appbuilder.sm
    names = [f"clerk{n:02d}" for n in range(CLIENTS)]
    for name in names:
        user = sm.add_user(name, name, "test", f"{name}@example.org", sm.find_role("staff"),
                           password=PASSWORD)
        demo.set_scope(db.session, user, "652701", None)
    db.session.commit()
    return names


class Clerk:
    """One browser-like client: its own cookies, CSRF token and record of every answer."""

    def __init__(self, base, name, statuses):
        self.base, self.name, self.statuses = base, name, statuses
        self.http = requests.Session()
        self.token = None

    def call(self, method, path, **kwargs):
        """One request; every status is recorded."""
        response = self.http.request(method, self.base + path, timeout=120,
                                     allow_redirects=False, **kwargs)
        self.statuses.append((method, path, response.status_code))
        return response

    def login(self):
        """Sign in through the form, keep the CSRF token for every later post."""
        page = self.call("GET", "/login/")
        token = CSRF.search(page.text).group(1)
        answer = self.call("POST", "/login/", data={"username": self.name, "password": PASSWORD,
                                                    "csrf_token": token})
        assert answer.status_code == 302, answer.text[:500]
        self.token = CSRF.search(self.call("GET", "/disputemodelview/add").text).group(1)

    def post(self, path, data):
        """A form post with the CSRF token."""
        return self.call("POST", path, data={**data, "csrf_token": self.token})

    def api(self, path, body):
        """A JSON post with the CSRF header."""
        return self.call("POST", path, json=body, headers={"X-CSRFToken": self.token})

    def flashes_after(self, response):
        """The page a redirect leads to (where its messages are shown)."""
        return self.call("GET", response.headers["Location"]).text


def _premade(count, at=None):
    """Registered Bole cases, committed, for clients to work on."""
    centre = db.session.scalar(select(models.Centre).join(models.Region)
                               .where(models.Region.code == "652701"))
    category = db.session.scalar(select(models.Category).filter_by(code="private_lending"))
    made = []
    for n in range(count):
        case = models.Dispute(centre=centre, category=category, title=f"预置案件{n}",
                              description="借款未还", source="window", level="county", risk="low")
        db.session.add(case)
        workflow.register(db.session, case, None, at=at)
        made.append(case)
    db.session.commit()
    return [(case.id, case.version) for case in made], centre.id, category.id


def test_many_clerks_at_once_through_gunicorn(server, clerks):
    """30 clerks register, add parties and step cases through forms and the API at once: every
    number is new, nothing answers 5xx, every acknowledged write is there once, the rollups
    equal a full recomputation."""
    cases, centre_id, category_id = _premade(CLIENTS * 2)
    unit_id = db.session.scalar(select(models.StationedUnit.id).where(
        models.StationedUnit.centre_id == centre_id))
    statuses, registered, refused, stepped = [], [], [], []
    start = threading.Barrier(CLIENTS)

    def work(index):
        clerk = Clerk(server, clerks[index], statuses)
        clerk.login()
        start.wait()
        for n in range(2):
            title = f"并发登记-{index}-{n}"
            answer = clerk.post("/disputemodelview/add", {
                "applicant_name": "甲", "respondent_name": "乙",
                "centre": centre_id, "category": category_id, "title": title,
                "description": "两位办事员同时登记", "source": "window", "level": "county",
                "risk": "low"})
            (registered if answer.status_code == 302 else refused).append(title)
        mine, other = cases[index], cases[CLIENTS + index]
        answer = clerk.post("/partymodelview/add", {
            "dispute": mine[0], "role": "applicant", "name": f"当事人{index}"})
        assert answer.status_code == 302, answer.text[:300]
        version = clerk.call("GET", f"/api/v1/cases/{mine[0]}").json()["version"]
        answer = clerk.api(f"/api/v1/cases/{mine[0]}/steps/accept", {"version": version})
        assert answer.status_code == 200, answer.text[:300]
        answer = clerk.post(f"/disputemodelview/step/{mine[0]}/refer", {
            "version": answer.json()["version"], "units": unit_id, "instructions": "请办理",
            "respond_hours": 24, "answer_days": 10})
        assert answer.status_code == 302
        page = clerk.flashes_after(answer)
        assert "已完成" in page, page[:300]
        answer = clerk.post(f"/disputemodelview/step/{other[0]}/accept", {"version": other[1]})
        assert answer.status_code == 302
        stepped.append(other[0])

    with ThreadPoolExecutor(CLIENTS) as pool:
        for future in [pool.submit(work, i) for i in range(CLIENTS)]:
            future.result()

    assert [s for s in statuses if s[2] >= 500] == []
    assert refused == []
    db.session.rollback()  # a fresh snapshot: the workers' commits came after ours
    titles = db.session.execute(select(models.Dispute.title, func.count())
                                .where(models.Dispute.title.like("并发登记-%"))
                                .group_by(models.Dispute.title)).all()
    assert sorted(titles) == sorted((title, 1) for title in registered)
    numbers = sorted(int(n.rsplit("-", 1)[1]) for n in db.session.scalars(
        select(models.Dispute.case_no).where(models.Dispute.centre_id == centre_id)))
    assert numbers == list(range(1, len(numbers) + 1))  # no gaps, no doubles
    # The parties added on their own (registrations bring their two sides with them).
    assert db.session.scalar(select(func.count()).select_from(models.Party)
                             .where(models.Party.name.like("当事人%"))) == CLIENTS
    assert db.session.scalar(select(func.count()).select_from(models.Party)
                             .where(models.Party.name.in_(("甲", "乙")))) == 2 * len(registered)
    for action, expected in (("register", len(numbers)), ("accept", 2 * CLIENTS),
                             ("refer", CLIENTS)):
        assert db.session.scalar(select(func.count()).select_from(models.CaseEvent)
                                 .where(models.CaseEvent.action == action)) == expected
    assert db.session.scalar(select(func.count()).select_from(models.Dispute).where(
        models.Dispute.status == "registered")) == 2 * CLIENTS  # the form registrations
    assert rollup.check(db.session) == []


def test_two_saves_of_one_version_through_gunicorn(server, clerks):
    """Two clerks stepping the same case from the same version at the same moment: one is
    taken, the other is told the case changed (409 from the API, the message on the form)."""
    cases, _centre, _category = _premade(8)
    statuses = []
    pair = [Clerk(server, clerks[0], statuses), Clerk(server, clerks[1], statuses)]
    for clerk in pair:
        clerk.login()
    for case_id, version in cases:
        gate = threading.Barrier(2)
        use_api = case_id % 2 == 0

        def step(clerk):
            gate.wait()
            if use_api:
                return clerk.api(f"/api/v1/cases/{case_id}/steps/accept", {"version": version})
            return clerk.post(f"/disputemodelview/step/{case_id}/accept", {"version": version})

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(step, pair))
        if use_api:
            assert sorted(a.status_code for a in answers) == [200, 409]
            loser = next(a for a in answers if a.status_code == 409)
            assert loser.json()["code"] == "stale_version"
            assert STALE in loser.json()["message"]
        else:
            assert [a.status_code for a in answers] == [302, 302]
            pages = [clerk.flashes_after(a) for clerk, a in zip(pair, answers, strict=True)]
            assert sorted(STALE in page for page in pages) == [False, True]
            assert sum("已完成" in page for page in pages) == 1
    assert [s for s in statuses if s[2] >= 500] == []
    db.session.rollback()  # a fresh snapshot: the workers' commits came after ours
    assert db.session.scalar(select(func.count()).select_from(models.CaseEvent).where(
        models.CaseEvent.action == "accept")) == len(cases)
    assert rollup.check(db.session) == []


def _case_file(prefix, count):
    """A CSV of historic Bole cases numbered <prefix>-<n>."""
    lines = ["案件编号,综治中心,纠纷类别,标题,来源,层级,登记时间,办结时间,办结结果,化解层级,申请人"]
    for n in range(count):
        lines.append(f"{prefix}-{n:04d},博乐市,民间借贷,并发导入{prefix}-{n},窗口来访,村级,"
                     f"2023-03-{1 + n % 28:02d} 09:00,2023-04-{1 + n % 28:02d} 10:00,调解成功,"
                     f"村级,申请人{n}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def test_imports_at_once_through_gunicorn(server, clerks):
    """Six clerks import at the same moment: four their own files (all written), two the same
    file (written once; the other told so, honestly): no 5xx, no case twice, rollups exact."""
    statuses = []
    team = [Clerk(server, name, statuses) for name in clerks[:6]]
    for clerk in team:
        clerk.login()
    files = [_case_file(f"MINE{n}", 15) for n in range(4)] + [_case_file("SHARED", 15)] * 2
    previews = []
    for clerk, content in zip(team, files, strict=True):
        page = clerk.call("POST", "/import/preview", data={"kind": "case",
                                                            "csrf_token": clerk.token},
                          files={"file": ("cases.csv", content, "text/csv")})
        assert page.status_code == 200 and "新增 15" in page.text, page.text[-2000:]
        previews.append(re.search(r'name="token" value="(\w+)"', page.text).group(1))
    gate = threading.Barrier(len(team))

    def confirm(pair):
        clerk, token = pair
        gate.wait()
        return clerk.post("/import/confirm", {"token": token})

    with ThreadPoolExecutor(len(team)) as pool:
        answers = list(pool.map(confirm, zip(team, previews, strict=True)))
    assert [s for s in statuses if s[2] >= 500] == [], statuses
    assert all(a.status_code == 302 for a in answers)
    pages = [clerk.flashes_after(a) for clerk, a in zip(team, answers, strict=True)]
    assert all("已导入" in page for page in pages[:4]), [p[-1500:] for p in pages[:4]]
    shared = pages[4:]
    # The same file twice: one writes it; the other either finds every row already there
    # (unchanged) or is told nothing was written, never a half import or a doubled case.
    assert sum("新增15行" in page for page in shared) == 1
    db.session.rollback()
    numbers = db.session.scalars(select(models.Dispute.case_no)).all()
    assert len(numbers) == len(set(numbers)) == 75
    assert db.session.scalar(select(func.count()).select_from(models.CaseEvent).where(
        models.CaseEvent.action == "import")) == 75
    assert rollup.check(db.session) == []


def test_documents_and_files_at_once_through_gunicorn(app, server, clerks):
    """Eight clerks issue notices of acceptance for eight cases at once, and two for one case
    at once, while others upload files: every number distinct (per centre, year and kind),
    the two for one case numbered alike as versions 1 and 2, every upload kept, no 5xx."""
    cases, _centre, _category = _premade(9)
    actor = app.appbuilder.sm.find_user(clerks[0])
    for case_id, _version in cases:
        case = db.session.get(models.Dispute, case_id)
        workflow.accept(db.session, case, actor)
    db.session.commit()
    statuses = []
    team = [Clerk(server, name, statuses) for name in clerks[:12]]
    for clerk in team:
        clerk.login()
    shared = cases[8][0]
    jobs = [(team[n], f"/documents/issue/{cases[n][0]}/accept_notice", None) for n in range(8)]
    jobs += [(team[8], f"/documents/issue/{shared}/accept_notice", None),
             (team[9], f"/documents/issue/{shared}/accept_notice", None)]
    jobs += [(team[10], f"/attachments/upload/{cases[0][0]}", b"%PDF-1.4\n%%EOF\n"),
             (team[11], f"/attachments/upload/{cases[1][0]}", b"%PDF-1.4\n%%EOF\n")]
    gate = threading.Barrier(len(jobs))

    def run(job):
        clerk, path, upload = job
        gate.wait()
        if upload is None:
            return clerk.post(path, {})
        return clerk.call("POST", path, data={"kind": "evidence", "csrf_token": clerk.token},
                          files={"file": ("借条.pdf", upload, "application/pdf")})

    with ThreadPoolExecutor(len(jobs)) as pool:
        answers = list(pool.map(run, jobs))
    assert [s for s in statuses if s[2] >= 500] == [], statuses
    assert all(a.status_code == 302 for a in answers)
    db.session.rollback()
    issued = db.session.scalars(select(models.CaseDocument)).all()
    assert len(issued) == 10
    numbers = [(d.number, d.version) for d in issued]
    assert len(set(numbers)) == 10
    assert len({d.number for d in issued}) == 9  # the shared case: one number, two versions
    assert sorted(d.version for d in issued if d.dispute_id == shared) == [1, 2]
    assert db.session.scalar(select(func.count(models.Attachment.id))) == 2


def test_api_clients_and_the_feed_at_once_through_gunicorn(app, server, clerks):
    """Eight systems with tokens step cases at once while a ninth follows the event feed: no
    5xx, no CSRF asked of a token, every event in the feed exactly once and in one unbroken
    numbering, every call recorded with its client."""
    cases, _centre_id, _category_id = _premade(24)
    tokens = []
    for n in range(8):
        result = app.test_cli_runner().invoke(args=[
            "clients", "create", f"system{n}", "--role", "staff", "--scope", "652701",
            "--rate", "1000"])
        assert result.exit_code == 0, result.output
        tokens.append(result.output.strip().splitlines()[-1])
    reader = app.test_cli_runner().invoke(args=[
        "clients", "create", "region", "--role", "leader", "--scope", "652701",
        "--rate", "1000"]).output.strip()
    statuses, seen, done = [], [], threading.Event()
    start = threading.Barrier(9)

    def work(index):
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {tokens[index]}"
        start.wait()
        for pk, version in cases[index::8]:
            answer = http.post(f"{server}/api/v1/cases/{pk}/steps/accept",
                               json={"version": version}, timeout=120)
            statuses.append(answer.status_code)
            assert answer.status_code == 200, answer.text[:300]

    def follow():
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {reader}"
        after = 0
        start.wait()
        while True:
            finished = done.is_set()
            body = http.get(f"{server}/api/v1/events", params={"after": after, "limit": 7},
                            timeout=120)
            statuses.append(body.status_code)
            assert body.status_code == 200, body.text[:300]
            page = body.json()
            seen.extend(page["events"])
            after = page["next"]
            if finished and not page["events"]:
                return

    with ThreadPoolExecutor(9) as pool:
        following = pool.submit(follow)
        for future in [pool.submit(work, i) for i in range(8)]:
            future.result()
        done.set()
        following.result()

    assert [s for s in statuses if s >= 500] == []
    db.session.rollback()
    accepts = set(db.session.scalars(select(models.CaseEvent.id).where(
        models.CaseEvent.action == "accept")))
    assert len(accepts) == 24
    read = [e["event"] for e in seen]
    assert len(read) == len(set(read))  # nothing twice
    assert accepts <= set(read)  # nothing lost
    assert [e["seq"] for e in seen] == list(range(1, len(seen) + 1))
    calls = dict(db.session.execute(select(models.ApiClient.name, func.count(models.ApiCall.id))
                                    .join(models.ApiCall).group_by(models.ApiClient.name)).all())
    assert all(calls[f"system{n}"] == 3 for n in range(8))
    assert rollup.check(db.session) == []


def test_api_registrations_and_changes_at_once_through_gunicorn(app, server, clerks):
    """Eight systems register cases with their parties through the API at once (every case
    numbered once, its parties with it, no 5xx), then all eight change one case with the
    same If-Match: exactly one wins, the others get 409."""
    cases, centre_id, category_id = _premade(2)
    tokens = [app.test_cli_runner().invoke(args=[
        "clients", "create", f"writer{n}", "--role", "staff", "--scope", "652701",
        "--rate", "1000"]).output.strip().splitlines()[-1] for n in range(8)]
    statuses, made = [], []
    start = threading.Barrier(8)
    body = {"centre": centre_id, "category": category_id, "title": "接口登记纠纷",
            "description": "并发登记", "source": "hotline", "level": "county",
            "parties": [{"role": "applicant", "name": "甲"}, {"role": "respondent", "name": "乙"}]}

    def register(index):
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {tokens[index]}"
        start.wait()
        for _ in range(4):
            answer = http.post(f"{server}/api/v1/cases", json=body, timeout=120)
            statuses.append(answer.status_code)
            assert answer.status_code == 201, answer.text[:300]
            made.append(answer.json()["case_no"])

    with ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(register, i) for i in range(8)]:
            future.result()
    assert len(made) == len(set(made)) == 32
    pk, _version = cases[0]
    tag = requests.get(f"{server}/api/v1/cases/{pk}", timeout=60,
                       headers={"Authorization": f"Bearer {tokens[0]}"}).headers["ETag"]
    start = threading.Barrier(8)
    answers = []

    def change(index):
        start.wait()
        answer = requests.patch(f"{server}/api/v1/cases/{pk}", json={"title": f"改{index}"},
                                headers={"Authorization": f"Bearer {tokens[index]}",
                                         "If-Match": tag}, timeout=120)
        answers.append(answer.status_code)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(change, range(8)))
    assert sorted(answers) == [200] + [409] * 7, answers
    db.session.rollback()
    assert [s for s in statuses if s >= 500] == []
    assert db.session.scalar(select(func.count()).select_from(models.Party).join(
        models.Dispute).where(models.Dispute.title == "接口登记纠纷")) == 64
    assert rollup.check(db.session) == []
