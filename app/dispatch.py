"""Dispatch suggestions: stationed units and experts ranked for a case, each with its reasons.

The weights are rows of `dispatch_rule`, which an administrator edits; the person decides.
"""

import datetime
from dataclasses import dataclass, field

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from app import choices, models, scope

# code: (name, default weight) — the seed and the fallback when a rule row is missing.
DEFAULT_RULES = {
    "unit_responsible": ("负责该类纠纷的部门", 50),
    "unit_on_duty": ("今日在岗（常驻，或轮驻排班在今日）", 20),
    "unit_off_duty": ("今日不在岗（轮驻排班不在今日）", -15),
    "unit_on_call": ("随叫随驻，需召集", 5),
    "unit_load": ("每件未办结转办", -3),
    "expert_specialty": ("擅长该类纠纷", 40),
    "expert_language": ("会当事人需要的语言", 25),
    "expert_remote": ("可远程视频或随叫随到", 5),
    "expert_load": ("未来14天每场已约调解", -4),
    "expert_success": ("过往调解成功率（满分）", 20),
}


@dataclass
class Suggestion:
    """A candidate with its score and the reasons behind it."""

    item: object
    score: int = 0
    reasons: list = field(default_factory=list)

    def add(self, weight, reason):
        """Count a rule that applies."""
        if weight:
            self.score += weight
            self.reasons.append(f"{reason}（{weight:+d}）")


def weights(session):
    """The enabled rules' weights, defaults filled in for rules not yet in the table."""
    rows = {r.code: r for r in session.scalars(select(models.DispatchRule))}
    result = {}
    for code, (_name, default) in DEFAULT_RULES.items():
        row = rows.get(code)
        result[code] = default if row is None else (row.weight if row.enabled else 0)
    return result


def on_duty(unit, day):
    """Is the unit at the centre on this day? (resident: always; rotating: its rota days)."""
    if unit.mode == "resident":
        return True
    if unit.mode == "rotating":
        return day.isoweekday() in {slot.weekday for slot in unit.rota}
    return False


def suggest_units(session, dispute, day=None):
    """The centre's active stationed units, best first."""
    day = day or models.today()
    rules = weights(session)
    units = session.scalars(
        select(models.StationedUnit)
        .where(models.StationedUnit.centre_id == dispute.centre_id, models.StationedUnit.active)
        .options(selectinload(models.StationedUnit.department).selectinload(
            models.Department.categories), selectinload(models.StationedUnit.rota))).all()
    load = dict(session.execute(
        select(models.Referral.unit_id, func.count())
        .where(models.Referral.unit_id.in_([u.id for u in units]),
               models.Referral.status.in_(("queued", "sent", "reported")))
        .group_by(models.Referral.unit_id)).all())
    suggestions = []
    for unit in units:
        s = Suggestion(unit)
        if dispute.category_id in {c.id for c in unit.department.categories}:
            s.add(rules["unit_responsible"], gettext("responsible for %(category)s",
                                                     category=dispute.category.name))
        if unit.mode == "on_call":
            s.add(rules["unit_on_call"], gettext("on call: summon it"))
        elif on_duty(unit, day):
            s.add(rules["unit_on_duty"], gettext("on duty today (%(mode)s)",
                                                 mode=choices.UNIT_MODE.label(unit.mode)))
        else:
            days = "、".join(str(choices.WEEKDAY.label(slot.weekday)) for slot in unit.rota)
            s.add(rules["unit_off_duty"], gettext("not on duty today (rota: %(days)s)", days=days))
        open_count = load.get(unit.id, 0)
        s.add(rules["unit_load"] * open_count,
              gettext("%(count)s open referrals", count=open_count))
        suggestions.append(s)
    return sorted(suggestions, key=lambda s: (-s.score, s.item.department.name))


def suggest_experts(session, dispute, day=None, limit=8):
    """Experts serving the case's area, best first."""
    day = day or models.today()
    rules = weights(session)
    centre = session.get(models.Centre, dispute.centre_id)
    area = scope.Scope(path=centre.region.path)
    experts = session.scalars(
        select(models.Expert)
        .where(models.Expert.active, scope.condition(models.Expert, area))
        .options(selectinload(models.Expert.specialties),
                 selectinload(models.Expert.languages))).all()
    ids = [e.id for e in experts]
    start = datetime.datetime.combine(day, datetime.time())
    upcoming = dict(session.execute(
        select(models.MediationSession.expert_id, func.count())
        .where(models.MediationSession.expert_id.in_(ids),
               models.MediationSession.scheduled_at >= start,
               models.MediationSession.scheduled_at < start + datetime.timedelta(days=14))
        .group_by(models.MediationSession.expert_id)).all())
    record = {row[0]: (row[1], row[2]) for row in session.execute(
        select(models.MediationSession.expert_id,
               func.sum(case((models.MediationSession.result == "agreed", 1), else_=0)),
               func.sum(case((models.MediationSession.result.in_(("agreed", "not_agreed")), 1),
                             else_=0)))
        .where(models.MediationSession.expert_id.in_(ids))
        .group_by(models.MediationSession.expert_id)).all()}
    suggestions = []
    for expert in experts:
        s = Suggestion(expert)
        if dispute.category_id in {c.id for c in expert.specialties}:
            s.add(rules["expert_specialty"], gettext("specialist in %(category)s",
                                                     category=dispute.category.name))
        if dispute.language_id and dispute.language_id in {lang.id for lang in expert.languages}:
            s.add(rules["expert_language"], gettext("speaks %(language)s",
                                                    language=dispute.language.name))
        modes = [str(label) for flag, label in (
            (expert.books_appointment, _l("By appointment")),
            (expert.books_on_call, _l("Books on call")), (expert.books_video, _l("Remote video")))
            if flag]
        if expert.books_on_call or expert.books_video:
            s.add(rules["expert_remote"], "、".join(modes))
        booked = upcoming.get(expert.id, 0)
        s.add(rules["expert_load"] * booked, gettext("%(count)s sessions booked in 14 days",
                                                     count=booked))
        agreed, held = record.get(expert.id, (0, 0))
        if held:
            rate = (agreed or 0) / held
            s.add(round(rules["expert_success"] * rate),
                  gettext("success rate %(rate)s%% in %(held)s sessions",
                          rate=round(rate * 100), held=held))
        suggestions.append(s)
    return sorted(suggestions, key=lambda s: (-s.score, s.item.name))[:limit]
