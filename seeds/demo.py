"""Load the article's world and a few hundred varied demo cases; every step is get-or-create."""

import datetime
import functools
import random
from decimal import Decimal

from flask_appbuilder.security.sqla.models import Role, User
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from app import models
from app.accounts import require_password_change
from app.dispatch import DEFAULT_RULES
from app.personal import complete_id_number
from seeds import world

DEMO_PASSWORD = "Zongzhi#2025demo"
DEMO_CASES = 1500  # enough concluded cases per centre to rank them by quarter
DEMO_SEED = 2025

# username, role, full name, centre county code (None: the whole region), unit department.
# The scope follows: a centre for its staff, the court unit for its liaison, the region otherwise.
# Chinese names go whole into first_name: Flask-AppBuilder shows "first last", which would
# put the family name last.
DEMO_USERS = [
    ("admin", "admin", "系统管理员", None, None),
    ("centre_admin", "centre_admin", "博乐中心管理员", "652701", None),
    ("staff", "staff", "董秀君", "652701", "court"),
    ("liaison", "unit_liaison", "法院联络员", "652701", "court"),
    ("leader", "leader", "自治区领导", None, None),
    ("auditor", "auditor", "安全审计员", None, None),
]

SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
GIVEN = ["建国", "秀兰", "志强", "丽娟", "海燕", "国庆", "玉梅", "红霞", "文华", "建华", "桂英",
         "晓东", "春梅", "伟", "芳", "军", "静", "磊", "婷", "洋", "勇", "艳", "杰", "娜"]
UYGHUR = ["阿依古丽·吐尔逊", "买买提·艾力", "古丽娜尔·阿不都", "艾尔肯·热合曼", "热依拉·托合提",
          "阿不都热依木·买买提", "努尔古丽·依明", "吐尔洪·阿西木", "帕提古丽·肉孜", "艾克拜尔·吾斯曼"]
KAZAKH = ["叶尔兰·努尔兰", "阿依达娜·别克", "哈那提·吐尔逊别克", "古丽巴哈尔·加恩斯"]

TITLES = {
    "marriage_family": ["离婚财产分割纠纷", "赡养费纠纷", "抚养费纠纷", "婚约彩礼返还纠纷"],
    "neighbour": ["宅基地边界纠纷", "漏水损害邻里纠纷", "噪音扰民纠纷", "通行权纠纷"],
    "private_lending": ["民间借贷纠纷", "借款逾期未还纠纷", "担保借款纠纷"],
    "labour": ["拖欠农民工工资纠纷", "工伤待遇纠纷", "解除劳动合同补偿纠纷"],
    "land_contract": ["土地承包经营权纠纷", "草场承包纠纷", "土地流转租金纠纷"],
    "property_management": ["物业服务费纠纷", "小区停车位纠纷"],
    "consumer": ["预付卡退费纠纷", "网购商品质量纠纷", "装修合同消费纠纷"],
    "medical": ["医疗损害赔偿纠纷", "诊疗费用纠纷"],
    "traffic": ["交通事故损害赔偿纠纷", "车辆刮擦赔偿纠纷"],
    "land_requisition": ["征地补偿款纠纷", "房屋拆迁安置纠纷"],
    "contract": ["买卖合同纠纷", "农资购销合同纠纷", "租赁合同纠纷"],
    "damages": ["牲畜损害赔偿纠纷", "财产损害赔偿纠纷", "人身损害赔偿纠纷"],
    "other": ["其他矛盾纠纷"],
}


def get_or_create(session, model, defaults=None, **keys):
    """The row matching the keys, created with the defaults when missing."""
    row = session.scalar(select(model).filter_by(**keys))
    if row is None:
        row = model(**keys, **(defaults or {}))
        session.add(row)
        session.flush()
    return row


def load(session, security_manager=None, cases=DEMO_CASES, must_change_password=False):
    """Load everything; running it twice leaves the same rows."""
    load_world(session)
    if security_manager is not None:
        load_users(session, security_manager, must_change_password)
    load_bole_case(session)
    load_demo_cases(session, cases)
    load_bole_experts(session)
    if security_manager is not None:
        load_work_in_hand(session, security_manager)
    # The demo numbers its cases itself: each centre's counter starts again after its highest.
    session.execute(models.CaseCounter.__table__.delete())
    session.commit()


def load_world(session):
    """The region tree, centres, departments, units, languages, routes, staff and experts."""
    region = get_or_create(session, models.Region, code=world.REGION[0],
                           defaults={"name": world.REGION[1], "level": "region"})
    prefectures = {}
    for code, name in world.PREFECTURES:
        prefectures[code] = get_or_create(session, models.Region, code=code, defaults={
            "name": name, "level": "prefecture", "parent": region})
    for code, name, merged in world.FUNCTIONS:
        get_or_create(session, models.DepartmentFunction, code=code,
                      defaults={"name": name, "merged_service": merged})
    for code, name in world.CATEGORIES:
        get_or_create(session, models.Category, code=code, defaults={"name": name})
    for code, name in world.LANGUAGES:
        get_or_create(session, models.Language, code=code, defaults={"name": name})
    for code, name, order, accept, handle, extension, approval in world.ROUTES:
        get_or_create(session, models.LegalRoute, code=code, defaults={
            "name": name, "sort_order": order, "days_to_accept": accept,
            "days_to_handle": handle, "max_extension_days": extension,
            "extension_needs_approval": approval})
    functions = {f.code: f for f in session.scalars(select(models.DepartmentFunction))}
    categories = {c.code: c for c in session.scalars(select(models.Category))}
    for code, name, function_codes, category_codes in world.DEPARTMENTS:
        department = session.scalar(select(models.Department).filter_by(code=code))
        if department is None:
            department = models.Department(
                code=code, name=name,
                functions=[functions[f] for f in function_codes],
                categories=[categories[c] for c in category_codes])
            session.add(department)
    session.flush()
    for code, name, prefecture, origin, opened_on, notes in world.COUNTIES:
        county = get_or_create(session, models.Region, code=code, defaults={
            "name": name, "level": "county", "parent": prefectures[prefecture]})
        people = world.CENTRE_PEOPLE.get(code, {})
        centre = get_or_create(session, models.Centre, region_id=county.id, defaults={
            "name": f"{name}社会治安综合治理中心", "short_name": name, "origin": origin,
            "opened_on": opened_on, "is_pilot": True, "standard_status": "standardised",
            "notes": notes, **people})
        load_units(session, centre, code)
    for code, (name, weight) in DEFAULT_RULES.items():
        get_or_create(session, models.DispatchRule, code=code,
                      defaults={"name": name, "weight": weight, "enabled": True})
    session.flush()
    load_staff(session)
    load_experts(session)
    load_services(session)


def load_units(session, centre, county_code):
    """The departments stationed at a centre, in the modes the article counts."""
    resident, rotating, on_call = world.UNITS.get(county_code, world.DEFAULT_UNITS)
    departments = {d.code: d for d in session.scalars(select(models.Department))}
    staffed = county_code == "652325"
    ordered = ([(c, "resident") for c in resident] + [(c, "rotating") for c in rotating]
               + [(c, "on_call") for c in on_call])
    for index, (code, mode) in enumerate(ordered):
        count = None
        if staffed:  # spread Qitai's 72 staff over its 13 units, resident units first
            count = world.QITAI_STAFF // len(ordered) + (1 if index < world.QITAI_STAFF % len(ordered) else 0)
        unit = get_or_create(session, models.StationedUnit, centre_id=centre.id,
                             department_id=departments[code].id, defaults={
                                 "mode": mode, "staff_count": count,
                                 "window": f"{index + 1}号窗口" if mode != "on_call" else None})
        if mode == "rotating" and not unit.rota:
            unit.rota = [models.RotaSlot(weekday=index % 5 + 1),
                         models.RotaSlot(weekday=(index + 2) % 5 + 1)]


def _person_name(rng):
    """A plausible name of the region's peoples."""
    roll = rng.random()
    if roll < 0.3:
        return rng.choice(UYGHUR)
    if roll < 0.4:
        return rng.choice(KAZAKH)
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def load_staff(session):
    """Window staff and mediators at each centre; Bole's court window has 董秀君."""
    if session.scalar(select(func.count(models.Staff.id))):
        return
    rng = random.Random(7)
    languages = {lang.code: lang for lang in session.scalars(select(models.Language))}
    for centre in session.scalars(select(models.Centre).order_by(models.Centre.id)):
        for unit in centre.units[:6]:
            name = _person_name(rng)
            spoken = [languages["zh"]] + ([languages["ug"]] if "·" in name else [])
            session.add(models.Staff(name=name, centre=centre, unit=unit, position="窗口工作人员",
                                     is_mediator=rng.random() < 0.5, languages=spoken))
        session.add(models.Staff(name=_person_name(rng), centre=centre, position="综治中心调解员",
                                 is_mediator=True, languages=[languages["zh"], languages["ug"]]))
    bole = session.scalar(select(models.Centre).join(models.Region).filter(models.Region.code == "652701"))
    court = next(u for u in bole.units if u.department.code == "court")
    session.add(models.Staff(name=world.BOLE_CASE["staff"], centre=bole, unit=court,
                             position="法院立案窗口工作人员", is_mediator=True,
                             languages=[languages["zh"]]))
    session.flush()


BOLE_EXPERTS = (("王建华", "退休法官"), ("阿依古丽·买买提", "人民调解员"), ("李明", "执业律师"),
                ("赵淑芬", "心理咨询师"))


def load_bole_experts(session):
    """A few expert mediators at Bole, the demo clerk's centre, so that booking offers some."""
    bole = session.scalar(
        select(models.Centre).join(models.Region).filter(models.Region.code == "652701"))
    categories = list(session.scalars(select(models.Category).order_by(models.Category.id)))
    for index, (name, organisation) in enumerate(BOLE_EXPERTS):
        get_or_create(session, models.Expert, name=name, centre_id=bole.id, defaults={
            "region_id": bole.region_id, "organisation": organisation, "title": "调解专家",
            "specialties": categories[index::4][:2], "books_appointment": True})


WORK_IN_HAND = "（待办示例）"


def load_work_in_hand(session, sm):
    """Recent Bole cases taken through the workflow by the demo clerk and the court's liaison,
    so that each role finds work: one referral to report in, one to answer, one case to
    accept (every event with its actor and time)."""
    from app import workflow

    if session.scalar(select(models.Dispute.id).where(
            models.Dispute.title.like(f"%{WORK_IN_HAND}"))):
        return
    clerk, liaison = sm.find_user(username="staff"), sm.find_user(username="liaison")
    bole = session.scalar(
        select(models.Centre).join(models.Region).filter(models.Region.code == "652701"))
    court = next(u for u in bole.units if u.department.code == "court")
    category = session.scalar(select(models.Category).filter_by(code="private_lending"))
    now = models.now()
    for index, (title, steps) in enumerate((("邻里借款纠纷", "report"), ("货款拖欠纠纷", "answer"),
                                            ("房屋租赁押金纠纷", "accept"))):
        at = now - datetime.timedelta(hours=6 - 2 * index)
        case = models.Dispute(centre=bole, category=category, title=title + WORK_IN_HAND,
                              description="当事人到窗口反映，请依法调处。", source="window",
                              level="county", risk="low", amount=Decimal(8000 + 3000 * index))
        rng = random.Random(f"work-{index}")
        case.parties = [models.Party(role=role, name=_person_name(rng),
                                     id_number=_id_number(rng, "652701"), phone=_phone(rng))
                        for role in ("applicant", "respondent")]
        session.add(case)
        workflow.register(session, case, clerk, at=at)
        session.flush()
        if steps == "accept":
            continue
        workflow.accept(session, case, clerk, at=at + datetime.timedelta(minutes=20))
        workflow.refer(session, case, clerk, [court], "请法院诉前调解", respond_hours=24,
                       answer_days=10, at=at + datetime.timedelta(minutes=40))
        session.flush()
        if steps == "answer":
            workflow.report_in(session, case.referrals[0], liaison,
                               at=at + datetime.timedelta(hours=2))
    session.flush()


def load_experts(session):
    """Korla's 40-odd mediators and Luopu's classified expert library."""
    if session.scalar(select(func.count(models.Expert.id))):
        return
    rng = random.Random(11)
    categories = list(session.scalars(select(models.Category).order_by(models.Category.id)))
    languages = {lang.code: lang for lang in session.scalars(select(models.Language))}
    organisations = ["退休法官", "执业律师", "人民调解员", "心理咨询师", "乡贤", "退休教师", "医学专家"]
    for county, count, modes in (("652801", world.KORLA_EXPERTS, None),
                                 ("653224", world.LUOPU_EXPERTS, "all")):
        centre = session.scalar(
            select(models.Centre).join(models.Region).filter(models.Region.code == county))
        for index in range(count):
            name = _person_name(rng)
            spoken = [languages["zh"]] + ([languages["ug"]] if "·" in name or rng.random() < 0.3 else [])
            session.add(models.Expert(
                name=name, centre=centre, region_id=centre.region_id,
                organisation=rng.choice(organisations), title="调解专家",
                specialties=list({categories[index % len(categories)],
                                  categories[(index * 7 + 3) % len(categories)] if index % 3 == 0
                                  else categories[index % len(categories)]}),
                languages=spoken, books_appointment=True,
                books_on_call=modes == "all" and index % 2 == 0 or index % 4 == 0,
                books_video=modes == "all" and index % 3 != 1))
    session.flush()


def load_services(session):
    """Shawan's service counts since opening, and monthly counts for the other centres."""
    shawan = session.scalar(
        select(models.Centre).join(models.Region).filter(models.Region.code == "654203"))
    start, end = world.SHAWAN_SERVICES["period"]
    for kind, count in world.SHAWAN_SERVICES["counts"].items():
        # Service records are kept per month: the article's total since opening is spread
        # over its months by days (the statistics count each month's own share).
        for first, last, share in models.ServiceRecord.split_by_month(start, end, count):
            get_or_create(session, models.ServiceRecord, centre_id=shawan.id, kind=kind,
                          period_start=first, period_end=last, defaults={
                              "count": share, "note": "沙湾市综治中心揭牌以来业务量（按月）"})
    load_petitions(session)


def load_petitions(session, today=None):
    """Monthly petitions received by every centre since January 2024, falling by about two
    fifths over the period (the article: 信访量下降五分之二); deterministic."""
    today = today or models.today()
    for centre in session.scalars(select(models.Centre).order_by(models.Centre.id)):
        rng = random.Random(f"petitions-{centre.name}")
        base = rng.randrange(40, 80)
        months = (today.year - 2024) * 12 + today.month
        for index in range(months):
            first = datetime.date(2024 + (index // 12), index % 12 + 1, 1)
            last = (first.replace(day=28) + datetime.timedelta(days=4)).replace(day=1) \
                - datetime.timedelta(days=1)
            count = round(base * (1 - 0.4 * index / max(months - 1, 1)) + rng.randrange(-3, 4))
            get_or_create(session, models.ServiceRecord, centre_id=centre.id, kind="petition",
                          period_start=first, defaults={
                              "period_end": min(last, today), "count": max(count, 0),
                              "note": "信访接待月度统计"})


def set_scope(session, user, county, department):
    """Give a login its scope: the whole region, a county's centre, or a unit there."""
    if session.get(models.UserScope, user.id) is not None:
        return
    code = county or world.REGION[0]
    region = session.scalar(select(models.Region).filter_by(code=code))
    unit = None
    if department:
        unit = session.scalar(select(models.StationedUnit).join(models.Department).join(
            models.Centre).where(models.Centre.region_id == region.id,
                                 models.Department.code == department))
    session.add(models.UserScope(user_id=user.id, region_id=None if unit else region.id,
                                 unit_id=unit.id if unit else None))
    session.flush()


def load_users(session, sm, must_change_password=False):
    """One demo login per role, linked to its centre and unit where the role has one."""
    for username, role_name, full_name, county, department in DEMO_USERS:
        user = sm.find_user(username=username)
        if user is None:
            role = sm.find_role(role_name) or sm.add_role(role_name)
            user = sm.add_user(username, full_name, "", f"{username}@zongzhi.local", role,
                               password=DEMO_PASSWORD)
            if must_change_password:
                require_password_change(username)
        set_scope(session, user, county, department if role_name == "unit_liaison" else None)
        if county is None:
            continue
        centre = session.scalar(
            select(models.Centre).join(models.Region).filter(models.Region.code == county))
        staff = session.scalar(select(models.Staff).filter_by(user_id=user.id))
        if staff is not None:
            continue
        unit = None
        if department:
            unit = session.scalar(select(models.StationedUnit).join(models.Department).filter(
                models.StationedUnit.centre_id == centre.id, models.Department.code == department))
        named = session.scalar(select(models.Staff).filter_by(
            name=full_name, centre_id=centre.id, user_id=None))
        if named is not None:
            named.user_id = user.id
        else:
            session.add(models.Staff(name=full_name, user_id=user.id, centre=centre, unit=unit))
    session.flush()


def load_bole_case(session):
    """The lead case: Liu's 78,000-yuan loan, from intake on 7 March to agreement on 10 March,
    taken through the workflow's steps by the demo clerk and the court's liaison."""
    from app import workflow

    case = world.BOLE_CASE
    if session.scalar(select(models.Dispute).filter_by(case_no=case["case_no"])):
        return
    bole = session.scalar(
        select(models.Centre).join(models.Region).filter(models.Region.code == "652701"))
    court = next(u for u in bole.units if u.department.code == "court")
    staff = session.scalar(select(models.Staff).filter_by(name=case["staff"], centre_id=bole.id))
    category = session.scalar(select(models.Category).filter_by(code=case["category"]))
    route = session.scalar(select(models.LegalRoute).filter_by(code=case["route"]))
    actors = DemoActors(session)
    clerk, liaison = actors.clerk(bole), actors.liaison(court)
    dispute = models.Dispute(
        case_no=case["case_no"], centre=bole, category=category, route=route,
        title=case["title"], description=case["description"], amount=Decimal(case["amount"]),
        source=case["source"], level=case["level"], risk=case["risk"], handler=staff)
    for role, name, body, phone in case["parties"]:
        dispute.parties.append(models.Party(role=role, name=name, phone=phone,
                                            id_number=complete_id_number(body)))
    session.add(dispute)
    workflow.register(session, dispute, clerk, at=case["registered_at"])
    session.flush()
    workflow.accept(session, dispute, clerk, case["trace_note"], at=case["accepted_at"])
    workflow.refer(session, dispute, clerk, [court], "请法院立案窗口依托智慧法院平台开展线上调解。",
                   respond_hours=24, answer_days=15, at=case["referred_at"])
    session.flush()  # the referral row: the liaison's scope is found through it
    referral = dispute.referrals[0]
    workflow.report_in(session, referral, liaison, at=case["reported_at"])
    booking = workflow.book_session(
        session, dispute, clerk, case["session_at"], "online_court", staff=staff,
        place="智慧法院平台“互联网法庭”", link="互联网法庭（当事人张某在杭州在线参加）",
        at=case["reported_at"] + datetime.timedelta(minutes=10))
    workflow.record_session_result(session, booking, clerk, "agreed", case["agreement"],
                                   datetime.date(2025, 4, 10),
                                   at=case["session_at"] + datetime.timedelta(hours=1))
    workflow.answer(session, referral, liaison, case["agreement"],
                    at=case["concluded_at"] - datetime.timedelta(minutes=30))
    workflow.conclude(session, dispute, clerk, "resolved", "county", case["agreement"],
                      at=case["concluded_at"])
    workflow.record_feedback(session, dispute, clerk, 3, "in_person",
                             "“真没想到，在综治中心工作人员的帮助下，这么快就帮我把钱要回来了！”",
                             at=case["feedback_at"])
    session.flush()


def _id_number(rng, county_code):
    """A valid resident ID number for someone born in the county."""
    born = datetime.date(1950, 1, 1) + datetime.timedelta(days=rng.randrange(0, 365 * 55))
    body = f"{county_code}{born:%Y%m%d}{rng.randrange(0, 999):03d}"
    return complete_id_number(body)


def _phone(rng):
    """A plausible mobile number."""
    return f"1{rng.choice('3589')}{rng.randrange(0, 10**9):09d}"


# Generated referrals go to the units that take most of them, each answered by its liaison.
REFERRAL_DEPARTMENTS = ("court", "justice", "petition", "hrss", "public_security")


@functools.lru_cache(maxsize=1)
def _demo_password_hash():
    """The demo password's hash, worked out once (hashing is slow on purpose)."""
    return generate_password_hash(DEMO_PASSWORD)


class DemoActors:
    """The logins that take the demo's steps, so that every event names who took it: a window
    clerk per centre (at Bole the demo clerk "staff") and a liaison per unit receiving
    referrals (at Bole's court the demo "liaison"). Each is created once, with its scope."""

    def __init__(self, session):
        self.session = session
        self._known = {}

    def _login(self, username, role_name, full_name, region_id=None, unit_id=None):
        """The login with this name, created with its role and scope when missing."""
        if username in self._known:
            return self._known[username]
        user = self.session.scalar(select(User).filter_by(username=username))
        if user is None:
            role = self.session.scalar(select(Role).filter_by(name=role_name))
            if role is None:
                role = Role(name=role_name)
                self.session.add(role)
            user = User(first_name=full_name, last_name="", username=username,
                        email=f"{username}@zongzhi.local", active=True,
                        password=_demo_password_hash(), roles=[role])
            self.session.add(user)
            self.session.flush()
            self.session.add(models.UserScope(user_id=user.id, region_id=region_id,
                                              unit_id=unit_id))
            self.session.flush()
        self._known[username] = user
        return user

    def _demo(self, username, region_id=None, unit_id=None):
        """The demo login of that name when it holds exactly this scope (read once), else
        None (tests load the world with logins of their own)."""
        key = ("demo", username)
        if key not in self._known:
            user = self.session.scalar(select(User).filter_by(username=username))
            row = self.session.get(models.UserScope, user.id) if user is not None else None
            self._known[key] = (user, row.region_id, row.unit_id) if row is not None else None
        found = self._known[key]
        return found[0] if found is not None and found[1:] == (region_id, unit_id) else None

    def clerk(self, centre):
        """The window clerk who registers and carries a centre's cases."""
        code = centre.region.code
        return (code == "652701" and self._demo("staff", region_id=centre.region_id)) or \
            self._login(f"clerk-{code}", "staff", f"{centre.short_name}窗口工作人员",
                        region_id=centre.region_id)

    def liaison(self, unit):
        """The liaison who reports in and answers for a unit."""
        code = unit.centre.region.code
        return (code == "652701" and unit.department.code == "court"
                and self._demo("liaison", unit_id=unit.id)) or \
            self._login(f"liaison-{code}-{unit.department.code}", "unit_liaison",
                        f"{unit.centre.short_name}{unit.department.name}联络员", unit_id=unit.id)


def load_demo_cases(session, count, seed=DEMO_SEED, today=None):
    """A few hundred cases across centres, categories, sources, levels, statuses and months,
    each taken through the workflow's own steps at its past times."""
    today = today or models.today()
    start = datetime.date(2025, 1, 2)
    span = max(1, (today - start).days - 1)
    centres = list(session.scalars(select(models.Centre).order_by(models.Centre.id)))
    categories = list(session.scalars(select(models.Category).order_by(models.Category.id)))
    routes = {r.code: r for r in session.scalars(select(models.LegalRoute))}
    staff_by_centre = {}
    for member in session.scalars(select(models.Staff).where(models.Staff.user_id.is_(None))
                                  .order_by(models.Staff.id)):
        staff_by_centre.setdefault(member.centre_id, []).append(member)
    existing = set(session.scalars(select(models.Dispute.case_no)))
    actors = DemoActors(session)
    sequence = {}
    for index in range(count):
        # Each case draws from its own generator, so a rerun that skips a case stays aligned.
        rng = random.Random(f"{seed}-{index}")
        centre = centres[index % len(centres)]
        day = start + datetime.timedelta(days=rng.randrange(span))
        registered = datetime.datetime.combine(day, datetime.time(9 + rng.randrange(8), rng.randrange(60)))
        key = (centre.id, day.year)
        sequence[key] = sequence.get(key, 1) + 1  # 00001 is kept for the lead case
        case_no = f"{centre.region.code}-{day.year}-{sequence[key]:05d}"
        if case_no in existing:
            continue
        draws = [rng.random() for _ in range(12)]
        category = categories[int(draws[0] * len(categories))]
        _demo_case(session, rng, draws, case_no, centre, category, routes, registered, today,
                   staff_by_centre.get(centre.id, []), actors)
    session.flush()


def _referral_units(centre):
    """The centre's units that generated cases are referred to."""
    units = [u for u in centre.units if u.department.code in REFERRAL_DEPARTMENTS]
    return units or list(centre.units[:3])


def _demo_case(session, rng, draws, case_no, centre, category, routes, registered, today, staff,
               actors):
    """One demo case with parties, taken through the steps its age makes plausible."""
    from app import workflow

    hours = datetime.timedelta(hours=1)
    source = ("window", "grid", "hotline", "online", "township")[
        0 if draws[1] < 0.4 else 1 if draws[1] < 0.65 else 2 if draws[1] < 0.8 else 3 if draws[1] < 0.9 else 4]
    level = "village" if draws[2] < 0.55 else "township" if draws[2] < 0.9 else "county"
    risk = "low" if draws[3] < 0.7 else "medium" if draws[3] < 0.93 else "high"
    route = routes["petition" if draws[4] < 0.1 else "arbitration" if category.code == "labour"
                   else "litigation" if draws[4] > 0.93 else "mediation"]
    amount = Decimal(int(draws[5] * 200) * 500) if category.code in {
        "private_lending", "labour", "contract", "damages", "traffic", "consumer", "medical"} else None
    handler = staff[int(draws[6] * len(staff))] if staff else None
    title_options = TITLES.get(category.code, TITLES["other"])
    applicant = _person_name(rng)
    respondent = _person_name(rng)
    title = f"{applicant}与{respondent}{title_options[int(draws[7] * len(title_options))]}"
    dispute = models.Dispute(
        case_no=case_no, centre=centre, category=category, route=route, title=title,
        description=f"{applicant}反映与{respondent}之间的{category.name}，请求综治中心协调化解。",
        amount=amount, source=source, level=level, risk=risk, handler=handler)
    dispute.parties = [
        models.Party(role="applicant", name=applicant, id_number=_id_number(rng, centre.region.code),
                     phone=_phone(rng)),
        models.Party(role="respondent", name=respondent, id_number=_id_number(rng, centre.region.code),
                     phone=_phone(rng)),
    ]
    clerk = actors.clerk(centre)
    session.add(dispute)
    workflow.register(session, dispute, clerk, at=registered)
    session.flush()  # the case's key: the steps check it lies in the clerk's scope
    age = (today - registered.date()).days
    clock = registered
    status = "registered"
    midnight = datetime.datetime.combine(today, datetime.time())
    duration = datetime.timedelta(days=1 + int(draws[9] * draws[10] * 40), hours=int(draws[11] * 8))
    if age > 1 and draws[8] < 0.95:
        clock = clock + datetime.timedelta(hours=2 + int(draws[9] * 40))
        if draws[10] < 0.04:
            workflow.decline(session, dispute, clerk,
                             "不属于受理范围，已告知当事人通过诉讼途径解决。", at=clock)
            status = "declined"
        else:
            workflow.accept(session, dispute, clerk, at=clock)
            status = "accepted"
    concludes = (status == "accepted" and draws[8] < 0.9)
    if status == "accepted" and draws[11] < 0.4 and centre.units:
        units = _referral_units(centre)
        unit = units[int(draws[9] * len(units))]
        sent = clock + 3 * hours
        workflow.refer(session, dispute, clerk, [unit], "请按职责办理并反馈结果。",
                       respond_hours=24, answer_days=10, at=sent)
        session.flush()  # the referral row: the liaison's scope is found through it
        status = "referred"
        reported = sent + (1 + int(draws[10] * 40)) * hours
        if concludes and sent + duration < midnight:
            reported = min(reported, sent + duration - 2 * hours)
        if (today - sent.date()).days > 1:
            workflow.report_in(session, dispute.referrals[-1], actors.liaison(unit), at=reported)
        clock = sent
    if concludes and clock + duration < midnight:
        concluded = clock + duration
        outcome = "resolved" if draws[2] < 0.85 else "routed_on" if draws[3] < 0.8 else "withdrawn"
        booking = None
        if outcome == "resolved" and draws[4] < 0.6:
            session_at = concluded - 2 * hours
            mode = "in_person" if draws[5] < 0.7 else "video" if draws[5] < 0.9 else "online_court"
            booking = workflow.book_session(
                session, dispute, clerk, session_at, mode, staff=handler,
                place="综治中心调解室" if mode == "in_person" else None,
                link=None if mode == "in_person" else "远程视频调解平台",
                at=clock + (session_at - clock) / 2)
            workflow.record_session_result(
                session, booking, clerk, "agreed", "双方自愿达成调解协议。",
                (concluded + datetime.timedelta(days=30)).date(), at=session_at + hours)
        for referral in dispute.referrals:
            liaison = actors.liaison(referral.unit)
            if referral.status == "sent":
                workflow.report_in(session, referral, liaison,
                                   at=referral.sent_at + hours)
            workflow.answer(session, referral, liaison, "已按职责办理完毕。",
                            at=concluded - hours / 2)
        workflow.conclude(session, dispute, clerk, outcome,
                          resolved_level=level if outcome == "resolved" else None,
                          route_on=routes["litigation"] if outcome == "routed_on" else None,
                          at=concluded)
        feedback_at = concluded + datetime.timedelta(days=1 + int(draws[6] * 5))
        if feedback_at.date() < today and draws[7] < 0.85:
            satisfaction = 3 if draws[3] < 0.82 else 2 if draws[3] < 0.96 else 1
            workflow.record_feedback(session, dispute, clerk, satisfaction,
                                     "phone" if draws[1] < 0.6 else "in_person", at=feedback_at)
        # Follow-ups long past were done; the recent ones are still due.
        if booking is not None and (today - concluded.date()).days > 60:
            workflow.follow_up(session, booking, clerk, "协议已按期履行。",
                               at=concluded + datetime.timedelta(days=31))
    session.flush()
