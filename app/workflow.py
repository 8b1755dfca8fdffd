"""The closed loop of a case: the only module that changes a dispute's status, recording each step.

登记 register → 受理 accept | 不予受理 decline → 转办 refer (0..n referrals, at once or in turn)
→ 办结 conclude → 反馈 feedback; 重新办理 reopen after poor feedback. Every function checks the
actor's role, the case's place in the actor's scope and the current state, and writes a CaseEvent.
"""

import dataclasses
import datetime

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import object_session

from app import choices, dispatch, models, scope
from app.display import format_date, format_datetime  # the timeline's one date format
from app.models import key_of

OPEN = ("registered", "accepted", "referred")
# Accepted and not yet concluded: the case is being handled (its handling clock runs).
IN_HAND = ("accepted", "referred")
FINISHED = ("concluded", "closed", "declined")
CASE_ROLES = {"staff", "admin"}
UNIT_ROLES = {"unit_liaison", "admin"}

# action: (states it may start from, state it leads to, label)
TRANSITIONS = {
    "accept": (("registered",), "accepted", _l("Accept")),
    "decline": (("registered",), "declined", _l("Decline")),
    "refer": (IN_HAND, "referred", _l("Refer")),
    "conclude": (IN_HAND, "concluded", _l("Conclude")),
    "feedback": (("concluded",), "closed", _l("Feedback")),
    "reopen": (("concluded", "closed"), "accepted", _l("Reopen")),
}


class WorkflowError(Exception):
    """A step that is not allowed now, by this person, on this case; the message says why."""


class VersionConflict(WorkflowError):
    """The step was taken on an out-of-date copy of the case."""


def _now(at=None):
    """The time a step happens (tests pass or freeze it)."""
    return at or models.now()


def _roles(actor):
    """The names of the actor's roles."""
    return {role.name for role in getattr(actor, "roles", [])}


def _check_actor(actor, roles, dispute):
    """The actor holds one of the roles and the case lies inside the actor's scope."""
    if not _roles(actor) & roles:
        raise WorkflowError(gettext("Your role may not take this step."))
    if dispute.id is not None and not scope.visible(models.Dispute, dispute.id,
                                                    scope.remembered_scope_of(actor)):
        raise WorkflowError(gettext("This case is outside your area of responsibility."))


def check_editable(dispute):
    """Refuse changing a finished case (its facts or its parties): it is frozen until reopened."""
    if dispute.status in FINISHED:
        raise WorkflowError(gettext("A concluded case can only be changed by reopening it."))


def check_version(dispute, version):
    """Refuse a step or an edit made on an out-of-date copy of the case (someone else changed
    it); None (no version sent) is not checked."""
    try:
        stale = version is not None and int(version) != dispute.version
    except (TypeError, ValueError, OverflowError):
        stale = True
    if stale:
        raise VersionConflict(gettext(
            "Someone else changed this case after you opened it. Reload the page and try again."))


def _event(dispute, actor, action, before, after, note=None, at=None):
    """Append one step to the case's timeline (without loading the timeline: a loaded one gets
    the event too, an unloaded one reads it with the rest when it is next read)."""
    event = models.CaseEvent(at=_now(at), actor_id=getattr(actor, "id", None), action=action,
                             from_status=before, to_status=after,
                             note=None if note is None else str(note))
    session = object_session(dispute)
    if session is None:
        dispute.events.append(event)
    else:
        with session.no_autoflush:  # nothing half-applied is written before the step is done
            event.dispute = dispute
            session.add(event)
    return event


def _move(dispute, actor, action, note=None, at=None, version=None):
    """Check a status transition and apply it, with its event."""
    sources, target, label = TRANSITIONS[action]
    _check_actor(actor, CASE_ROLES, dispute)
    check_version(dispute, version)
    if dispute.status not in sources:
        raise WorkflowError(gettext(
            "A case that is %(status)s cannot be %(step)s.",
            status=choices.DISPUTE_STATUS.label(dispute.status), step=label))
    before = dispute.status
    dispute.status = target
    _event(dispute, actor, action, before, target, note, at)
    return before


def route_of(session, dispute):
    """The legal route whose clocks govern the case (mediation when none is chosen)."""
    with session.no_autoflush:  # a step half-applied is never flushed by these reads
        if dispute.route is not None:
            return dispute.route
        route = session.get(models.LegalRoute, dispute.route_id) if dispute.route_id else None
        return route or session.scalar(select(models.LegalRoute).filter_by(code="mediation"))


def next_case_no(session, centre, year):
    """The next readable case number for a centre and year: <county code>-<year>-<sequence>.

    The sequence comes from the centre's counter row, counted up by one atomic UPDATE in the
    registering transaction: a second clerk's UPDATE waits for the first one's commit (row lock;
    SQLite's write lock), so numbers never collide. A registration that rolls back rolls its
    number back too, and the next case takes it: the register has no gaps but for deleted cases.
    """
    prefix = f"{centre.region.code}-{year}-"
    counter = models.CaseCounter.__table__
    connection = session.connection()
    mine = (counter.c.centre_id == centre.id, counter.c.year == year)
    bump = update(counter).where(*mine).values(last=counter.c.last + 1)
    if not connection.execute(bump).rowcount:
        # The centre's first case of the year: start after any number already given (cases
        # loaded in bulk, or numbered before counters existed); if another clerk creates the
        # row first, ours is ignored and the bump below counts on from theirs.
        last = session.scalar(select(func.max(models.Dispute.case_no))
                              .where(models.Dispute.case_no.like(prefix + "%")))
        start = int(last.rsplit("-", 1)[1]) if last else 0
        connection.execute(_insert_ignoring_duplicate(
            connection, counter, {"centre_id": centre.id, "year": year, "last": start}))
        connection.execute(bump)
    sequence = connection.execute(select(counter.c.last).where(*mine)).scalar_one()
    return f"{prefix}{sequence:05d}"


def _insert_ignoring_duplicate(connection, table, values):
    """INSERT that does nothing when the key exists (on each engine's own terms)."""
    name = connection.dialect.name
    if name == "postgresql":
        return postgresql.insert(table).values(values).on_conflict_do_nothing()
    if name == "sqlite":
        return sqlite.insert(table).values(values).on_conflict_do_nothing()
    return insert(table).values(values).prefix_with("IGNORE")


def take_in(session, dispute, actor=None, note=None, count_past=True):
    """导入: a historic case brought in from a spreadsheet with its original dates. Its status
    follows from them (registered, accepted, concluded), its conclusion goes on the timeline and
    into the figures like any other, one "import" event records it at its registration time,
    and the centre's counter moves past its number so that no new case ever takes it."""
    if dispute.concluded_at is not None or dispute.outcome is not None:
        if dispute.outcome not in choices.OUTCOME.codes or dispute.concluded_at is None:
            raise WorkflowError(gettext("A concluded case needs both its conclusion time and "
                                        "its outcome."))
        if dispute.outcome == "resolved" and dispute.resolved_level not in \
                choices.HANDLING_LEVEL.codes:
            raise WorkflowError(gettext("Say at which level the dispute was resolved."))
        if dispute.outcome != "resolved":
            dispute.resolved_level = None
        dispute.status = "concluded"
        dispute.conclusions.append(models.Conclusion.of(dispute))
    else:
        dispute.status = "accepted" if dispute.accepted_at is not None else "registered"
    _event(dispute, actor, "import", None, dispute.status, note, at=dispute.registered_at)
    if count_past:  # an import of many cases moves the counters once, at its end
        count_past_numbers(session, dispute.centre or session.get(models.Centre,
                                                                  dispute.centre_id),
                           [dispute.case_no])
    return dispute


def count_past_numbers(session, centre, case_numbers):
    """Move a centre's counters past imported numbers of its own form (<county>-<year>-<n>),
    so that no case registered later takes one of them."""
    prefix = f"{centre.region.code}-"
    highest = {}
    for case_no in case_numbers:
        year, _dash, number = case_no[len(prefix):].partition("-")
        if case_no.startswith(prefix) and year.isdigit() and len(year) == 4 and number.isdigit():
            highest[int(year)] = max(highest.get(int(year), 0), int(number))
    counter = models.CaseCounter.__table__
    connection = session.connection()
    for year, number in sorted(highest.items()):
        mine = (counter.c.centre_id == centre.id, counter.c.year == year)
        connection.execute(_insert_ignoring_duplicate(
            connection, counter, {"centre_id": centre.id, "year": year, "last": number}))
        connection.execute(update(counter).where(*mine, counter.c.last < number)
                           .values(last=number))


def register(session, dispute, actor=None, at=None):
    """Register a new dispute: number it, set it to registered, start its clock and timeline."""
    with session.no_autoflush:  # the new row must not be written before it has its number
        dispute.registered_at = at or dispute.registered_at or models.now()
        dispute.status = "registered"
        if dispute.case_no is None:
            centre = dispute.centre or session.get(models.Centre, dispute.centre_id)
            dispute.case_no = next_case_no(session, centre, dispute.registered_at.year)
        route = route_of(session, dispute)
        if route is not None and dispute.accept_due is None:
            dispute.accept_due = dispute.registered_at + datetime.timedelta(
                days=route.days_to_accept)
    actor_id = getattr(actor, "id", None)
    if actor_id is not None and dispute.registered_by_id is None:
        dispute.registered_by_id = actor_id
    _event(dispute, actor, "register", None, "registered", at=dispute.registered_at)
    return dispute


def accept(session, dispute, actor, note=None, at=None, version=None):
    """受理: take the case on; its handling clock starts from the route's statutory days."""
    _move(dispute, actor, "accept", note, at, version)
    dispute.accepted_at = _now(at)
    route = route_of(session, dispute)
    dispute.handle_due = dispute.accepted_at + datetime.timedelta(days=route.days_to_handle)
    if dispute.handler_id is None:
        with session.no_autoflush:
            dispute.handler = session.scalar(
                select(models.Staff).filter_by(user_id=getattr(actor, "id", None)))
    return dispute


def decline(session, dispute, actor, reason, at=None, version=None):
    """不予受理: refuse the case, with the reason the parties are told."""
    if not (reason or "").strip():
        raise WorkflowError(gettext("Give the reason for declining."))
    _move(dispute, actor, "decline", reason, at, version)
    dispute.declined_at = _now(at)
    dispute.decline_reason = reason
    return dispute


def refer(session, dispute, actor, units, instructions=None, respond_hours=24, answer_days=10,
          in_turn=False, summon=False, at=None, version=None):
    """中心吹哨: send the case to one or several stationed units, at once or one after another."""
    if not units:
        raise WorkflowError(gettext("Choose at least one stationed unit."))
    for unit in units:
        if unit.centre_id != dispute.centre_id:
            raise WorkflowError(gettext("Referrals go to units stationed at the case's centre."))
    busy = {r.unit_id for r in dispute.referrals if r.status in ("queued", "sent", "reported")}
    if busy & {unit.id for unit in units}:
        raise WorkflowError(gettext("This case is already with one of these units."))
    if respond_hours <= 0 or answer_days <= 0:
        raise WorkflowError(gettext("Deadlines must lie in the future."))
    now = _now(at)
    names = "、".join(unit.department.name for unit in units)
    _move(dispute, actor, "refer", f"{names}：{instructions or ''}".strip("："), at, version)
    dispute.referred_at = dispute.referred_at or now
    start = max([r.position for r in dispute.referrals] or [0]) + 1
    for offset, unit in enumerate(units):
        queued = in_turn and offset > 0
        referral = models.Referral(
            unit=unit, sent_by_id=getattr(actor, "id", None), instructions=instructions,
            summoned=summon or unit.mode == "on_call", position=start + offset,
            status="queued" if queued else "sent", sent_at=now,
            respond_due=now + datetime.timedelta(hours=respond_hours),
            answer_due=now + datetime.timedelta(days=answer_days))
        dispute.referrals.append(referral)
    return dispute


def _check_unit_actor(referral, actor):
    """A liaison acts only for their own unit; an admin for any unit."""
    _check_actor(actor, UNIT_ROLES, referral.dispute)
    unit_scope = scope.remembered_scope_of(actor)
    if unit_scope.unit_id is not None and unit_scope.unit_id != referral.unit_id:
        raise WorkflowError(gettext("This referral was sent to another unit."))


def report_in(session, referral, actor, at=None):
    """部门报到: the unit confirms it has taken the referral."""
    _check_unit_actor(referral, actor)
    if referral.status != "sent":
        raise WorkflowError(gettext("Only a referral waiting for its unit can be reported in."))
    referral.status = "reported"
    referral.reported_at = _now(at)
    late = referral.reported_at > referral.respond_due
    note = f"{referral.unit.department.name}" + (gettext("(late)") if late else "")
    _event(referral.dispute, actor, "report_in", referral.dispute.status, referral.dispute.status,
           note, at)
    return referral


def _send_next(referral, at=None):
    """In-turn referrals: when one is done, the next queued one goes out with fresh deadlines."""
    queued = sorted((r for r in referral.dispute.referrals if r.status == "queued"),
                    key=lambda r: r.position)
    if not queued:
        return None
    following = queued[0]
    now = _now(at)
    window = following.respond_due - following.sent_at
    span = following.answer_due - following.sent_at
    following.status, following.sent_at = "sent", now
    following.respond_due, following.answer_due = now + window, now + span
    return following


def _finish_referral(referral, actor, status, action, text, at):
    """Close a referral with the unit's words, note it on the timeline, send the next in turn."""
    referral.status = status
    _event(referral.dispute, actor, action, referral.dispute.status, referral.dispute.status,
           text, at)
    _send_next(referral, at)
    return referral


def answer(session, referral, actor, result, at=None):
    """The unit answers back with what it did."""
    _check_unit_actor(referral, actor)
    if referral.status != "reported":
        raise WorkflowError(gettext("Report in before answering."))
    if not (result or "").strip():
        raise WorkflowError(gettext("Write what the unit did."))
    referral.answered_at, referral.result = _now(at), result
    return _finish_referral(referral, actor, "answered", "answer", result, at)


def return_referral(session, referral, actor, reason, at=None):
    """The unit sends the referral back as outside its remit, saying why."""
    _check_unit_actor(referral, actor)
    if referral.status not in ("sent", "reported"):
        raise WorkflowError(gettext("Only an open referral can be returned."))
    if not (reason or "").strip():
        raise WorkflowError(gettext("Give the reason for returning the referral."))
    referral.returned_at, referral.return_reason = _now(at), reason
    return _finish_referral(referral, actor, "returned", "return", reason, at)


def conclude(session, dispute, actor, outcome, resolved_level=None, note=None, route_on=None,
             at=None, version=None):
    """办结: resolved by mediation, not resolved and routed on to another legal route, or withdrawn."""
    if outcome not in choices.OUTCOME.codes:
        raise WorkflowError(gettext("Choose how the case ended."))
    if outcome == "resolved" and resolved_level not in choices.HANDLING_LEVEL.codes:
        raise WorkflowError(gettext("Say at which level the dispute was resolved."))
    if outcome == "routed_on" and route_on is None:
        raise WorkflowError(gettext("Choose the legal route the case goes on to."))
    open_referrals = [r for r in dispute.referrals if r.status in ("queued", "sent", "reported")]
    if open_referrals and outcome == "resolved":
        raise WorkflowError(gettext("Units have not answered yet: wait for them or cancel."))
    _move(dispute, actor, "conclude", note, at, version)
    for referral in open_referrals:
        referral.status = "cancelled"
        referral.cancelled_at = _now(at)
    dispute.concluded_at = _now(at)
    dispute.outcome = outcome
    dispute.outcome_note = note
    dispute.resolved_level = resolved_level if outcome == "resolved" else None
    if route_on is not None:
        dispute.route = route_on
    # The conclusion kept on the timeline: reopening clears the columns above, never this.
    dispute.conclusions.append(models.Conclusion.of(dispute))
    return dispute


def record_feedback(session, dispute, actor, satisfaction, channel, note=None, at=None,
                    version=None):
    """末端评价: the party's satisfaction after conclusion; closes the loop."""
    satisfaction = int(satisfaction)
    if satisfaction not in choices.SATISFACTION.codes:
        raise WorkflowError(gettext("Choose the party's satisfaction."))
    if channel not in choices.FEEDBACK_CHANNEL.codes:
        raise WorkflowError(gettext("Choose how the feedback was collected."))
    _move(dispute, actor, "feedback", note, at, version)
    dispute.closed_at = _now(at)
    dispute.feedback.append(models.Feedback(satisfaction=satisfaction, channel=channel,
                                            note=note, collected_at=_now(at),
                                            collected_by_id=getattr(actor, "id", None)))
    return dispute


def reopen(session, dispute, actor, reason, at=None, version=None):
    """重新办理: take a concluded case up again, typically after poor feedback (its earlier
    conclusions stay on the timeline and in the figures)."""
    if not (reason or "").strip():
        raise WorkflowError(gettext("Give the reason for reopening."))
    _move(dispute, actor, "reopen", reason, at, version)
    for field in ("concluded_at", "closed_at", "outcome", "outcome_note", "resolved_level"):
        setattr(dispute, field, None)
    route = route_of(session, dispute)
    dispute.handle_due = _now(at) + datetime.timedelta(days=route.days_to_handle)
    return dispute


def extend(session, dispute, actor, days, approved_by, at=None, version=None):
    """Extend the handling deadline within the route's allowance, with the approver named."""
    _check_actor(actor, CASE_ROLES, dispute)
    check_version(dispute, version)
    route = route_of(session, dispute)
    if dispute.status not in IN_HAND or dispute.handle_due is None:
        raise WorkflowError(gettext("Only a case in hand can have its deadline extended."))
    if days <= 0 or dispute.extension_days + days > route.max_extension_days:
        raise WorkflowError(gettext("The %(route)s route allows at most %(days)s days of extension.",
                                    route=route.name, days=route.max_extension_days))
    if route.extension_needs_approval and not (approved_by or "").strip():
        raise WorkflowError(gettext("Name who approved the extension."))
    dispute.extension_days += days
    dispute.handle_due += datetime.timedelta(days=days)
    _event(dispute, actor, "extend", dispute.status, dispute.status,
           f"+{days}（{approved_by or ''}）", at)
    return dispute


def book_session(session, dispute, actor, scheduled_at, mode, expert=None, staff=None,
                 duration_minutes=60, place=None, link=None, at=None):
    """Book a mediation session; an expert already booked at that time is refused."""
    _check_actor(actor, CASE_ROLES, dispute)
    if dispute.status not in IN_HAND:
        raise WorkflowError(gettext("Sessions are booked for cases in hand."))
    if mode not in choices.SESSION_MODE.codes:
        raise WorkflowError(gettext("Choose how the session is held."))
    if mode == "in_person" and not place:
        raise WorkflowError(gettext("Give the place of the session."))
    if mode != "in_person" and not link:
        raise WorkflowError(gettext("Give the link or platform of the remote session."))
    end = scheduled_at + datetime.timedelta(minutes=duration_minutes)
    if expert is not None and expert_busy(session, expert, scheduled_at, end):
        raise WorkflowError(gettext("%(expert)s is already booked at that time.", expert=expert.name))
    booking = models.MediationSession(
        expert=expert, staff=staff, scheduled_at=scheduled_at, duration_minutes=duration_minutes,
        mode=mode, place=place, link=link, result="pending")
    dispute.sessions.append(booking)
    who = expert.name if expert is not None else getattr(staff, "name", "")
    _event(dispute, actor, "book", dispute.status, dispute.status,
           f"{format_datetime(scheduled_at)} {who}".strip(), at)
    return booking


def expert_busy(session, expert, start, end):
    """True when the expert has a session overlapping [start, end)."""
    # Sessions last less than a day: only those starting in the day before can still be running.
    sessions = select(models.MediationSession).where(
        models.MediationSession.expert_id == expert.id,
        models.MediationSession.scheduled_at < end,
        models.MediationSession.scheduled_at > start - datetime.timedelta(days=1))
    for other in session.scalars(sessions):
        if other.scheduled_at + datetime.timedelta(minutes=other.duration_minutes) > start:
            return True
    return False


def record_session_result(session, booking, actor, result, agreement_text=None,
                          follow_up_on=None, at=None, performance_method=None,
                          performance_due=None):
    """The session's result; an agreement needs its text (and says how and by when it is
    performed, as the agreement document prints it)."""
    dispute = booking.dispute
    _check_actor(actor, CASE_ROLES, dispute)
    if dispute.status not in IN_HAND:
        raise WorkflowError(gettext("Session results are recorded for cases in hand."))
    if booking.result != "pending":
        raise WorkflowError(gettext("This session's result is already recorded."))
    if result not in ("agreed", "not_agreed"):
        raise WorkflowError(gettext("Choose the session's result."))
    if result == "agreed" and not (agreement_text or "").strip():
        raise WorkflowError(gettext("Record the text of the agreement."))
    booking.result = result
    booking.agreement_text = agreement_text
    booking.follow_up_on = follow_up_on
    if result == "agreed":
        booking.performance_method = (performance_method or "").strip()[:200] or None
        booking.performance_due = performance_due
    _event(dispute, actor, "mediate", dispute.status, dispute.status,
           choices.SESSION_RESULT.label(result), at)
    return booking


def follow_up(session, booking, actor, note, at=None):
    """履行回访: note that the agreement's fulfilment was checked."""
    _check_actor(actor, CASE_ROLES, booking.dispute)
    if booking.follow_up_on is None or booking.followed_up_at is not None:
        raise WorkflowError(gettext("No fulfilment follow-up is due for this session."))
    booking.followed_up_at = _now(at)
    booking.follow_up_note = note
    _event(booking.dispute, actor, "follow_up", booking.dispute.status, booking.dispute.status,
           note, at)
    return booking


# Whole numbers typed into step forms stay within what the database stores and a person means.
NUMBER_LIMIT = 100_000


@dataclasses.dataclass(frozen=True)
class Field:
    """One value a step asks for: its name, how it is typed and read (kind), and its label.

    Kinds: text, textarea, number (low..high, default), date, datetime, choice and radio (from
    `choices`, or the offer's options), flag, units (stationed units, many), expert, route.
    """

    name: str
    kind: str = "text"
    label: object = ""
    required: bool = False
    default: object = None
    low: int | None = None
    high: int | None = NUMBER_LIMIT
    choices: object = None
    blank: object = None  # the label of a choice's empty option (None: no empty option)


@dataclasses.dataclass(frozen=True)
class Step:
    """A step of the closed loop: what it acts on, what it asks, when it is offered, what it does.

    `subject` is "case", "referral" or "booking" (a mediation session of the case, named by the
    form's `session` value); `available(target, actor)` says whether the actor is offered the
    step on that target now; `run(session, target, actor, values, version)` takes it, raising
    WorkflowError (or VersionConflict) when refused.
    """

    name: str
    label: object
    subject: str
    fields: tuple
    available: object
    run: object
    css: str = "default"
    title: object = None  # (target) -> the form's heading, when it names the target
    hint: object = None  # (target) -> a warning shown with the form, or None


@dataclasses.dataclass
class Offer:
    """A step offered to a person on a target, with the options its fields choose from."""

    step: Step
    target: object
    options: dict

    @property
    def title(self):
        """The heading of the step's form."""
        return self.step.title(self.target) if self.step.title else self.step.label

    @property
    def hint(self):
        """A warning shown with the form, or None."""
        return self.step.hint(self.target) if self.step.hint else None


def _case_actor(actor):
    """The actor is window staff (or the administrator): they take the case's steps."""
    return bool(_roles(actor) & CASE_ROLES)


def _unit_actor(actor, referral):
    """The actor is a liaison of the referral's unit (or the administrator)."""
    unit = scope.remembered_scope_of(actor).unit_id if _roles(actor) & UNIT_ROLES else -1
    return unit is None or unit == referral.unit_id


def _moves(action):
    """`available` of a status transition: window staff, from the states it starts from."""
    sources = TRANSITIONS[action][0]
    return lambda case, actor: _case_actor(actor) and case.status in sources


def _text(values, name):
    """One submitted value as text ('' when absent)."""
    value = values.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    return "" if value is None else str(value)


def _many(values, name):
    """Every value submitted under a name (a form's repeated field or a JSON list)."""
    found = values.getlist(name) if hasattr(values, "getlist") else values.get(name)
    if found is None:
        return []
    return found if isinstance(found, list) else [found]


def whole_number(values, name, default, low=None, high=NUMBER_LIMIT):
    """A whole number from submitted values (within [low, high] when given), refused with a
    message when it is not one."""
    value = values.get(name)
    try:
        number = int(default if value in (None, "") else value)
        if isinstance(value, float) and value != number:
            raise ValueError(value)
    except (TypeError, ValueError, OverflowError):
        raise WorkflowError(gettext("Enter a whole number.")) from None
    if (low is not None and number < low) or (high is not None and number > high):
        raise WorkflowError(gettext("Enter a whole number from %(low)s to %(high)s.",
                                    low=low if low is not None else 0, high=high))
    return number


def _date(text):
    """A day typed as 2025-03-07 (None when blank)."""
    if not text:
        return None
    try:
        value = datetime.date.fromisoformat(text)
    except ValueError:
        raise WorkflowError(gettext("Enter a date as 2025-03-07.")) from None
    if not datetime.date(2000, 1, 1) <= value <= datetime.date(2100, 12, 31):
        raise WorkflowError(gettext("Enter a date between 2000 and 2100."))
    return value


def _datetime(text):
    """A moment typed as a date and time (a datetime-local field)."""
    try:
        value = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M")
    except ValueError:
        raise WorkflowError(gettext("Enter a date and time.")) from None
    if not 2000 <= value.year <= 2100:
        raise WorkflowError(gettext("Enter a date between 2000 and 2100."))
    return value


def _row(session, model, value):
    """The record a submitted key names, or None."""
    key = key_of(value)
    return session.get(model, key) if key is not None else None


def _visible_expert(session, value):
    """The expert chosen, if any; only experts the person may see can be booked (nor their
    free times probed)."""
    expert = _row(session, models.Expert, value)
    if expert is not None and not scope.visible(models.Expert, expert.id):
        raise WorkflowError(gettext("This expert is outside your area of responsibility."))
    return expert


def read(session, step, values):
    """The step's values as the workflow takes them, read by each field's kind; refused with
    a message when one cannot be read."""
    found = {}
    for field in step.fields:
        text = _text(values, field.name)
        if field.kind == "number":
            found[field.name] = whole_number(values, field.name, field.default, field.low,
                                             field.high)
        elif field.kind == "date":
            found[field.name] = _date(text)
        elif field.kind == "datetime":
            found[field.name] = _datetime(text)
        elif field.kind == "flag":
            found[field.name] = bool(values.get(field.name))
        elif field.kind == "units":
            keys = [key_of(k) for k in _many(values, field.name)]
            found[field.name] = [unit for unit in (
                session.get(models.StationedUnit, k) for k in keys if k is not None)
                if unit is not None]
        elif field.kind == "expert":
            found[field.name] = _visible_expert(session, text)
        elif field.kind == "route":
            found[field.name] = _row(session, models.LegalRoute, text)
        else:  # text, textarea, choice, radio: as typed (blank is None)
            found[field.name] = text or None
    return found


def _booking_title(label, at):
    """A booking step's heading: the step and the session's date."""
    return lambda booking: f"{label}：{at(booking)}"


def _dissatisfied(case):
    """The reopen form's warning after a dissatisfied party."""
    if case.feedback and case.feedback[-1].satisfaction == 1:
        return gettext("The party was dissatisfied: consider reopening.")
    return None


_NOTE = Field("note", "text", _l("Note (optional)"))
_RESULTS = [(code, choices.SESSION_RESULT.label(code)) for code in ("agreed", "not_agreed")]

STEPS = (
    Step("accept", _l("Accept"), "case", (_NOTE,), _moves("accept"),
         lambda s, case, actor, v, version, at: accept(s, case, actor, v["note"],
                                                       version=version, at=at)),
    Step("decline", _l("Decline"), "case",
         (Field("reason", "textarea", _l("Reason told to the parties"), required=True),),
         _moves("decline"),
         lambda s, case, actor, v, version, at: decline(s, case, actor, v["reason"],
                                                    version=version, at=at), css="warning"),
    Step("refer", _l("Refer"), "case", (
        Field("units", "units", _l("Suggested units, best first, with the reasons:")),
        Field("instructions", "textarea", _l("Instructions")),
        Field("respond_hours", "number", _l("Report in within (hours)"), default=24, low=1,
              high=24 * 365),
        Field("answer_days", "number", _l("Answer within (days)"), default=10, low=1, high=365),
        Field("in_turn", "flag", _l("One after another"))),
        _moves("refer"),
        lambda s, case, actor, v, version, at: refer(
            s, case, actor, v["units"], v["instructions"], v["respond_hours"], v["answer_days"],
            in_turn=v["in_turn"], version=version, at=at)),
    Step("book", _l("Book a session"), "case", (
        Field("expert", "expert", _l("Expert"), blank=_l("No expert (staff mediate)")),
        Field("scheduled_at", "datetime", _l("Session time"), required=True),
        Field("duration_minutes", "number", _l("Minutes"), default=60, low=5, high=24 * 60),
        Field("mode", "choice", _l("Session mode"), choices=choices.SESSION_MODE),
        Field("place", "text", _l("Place (in person)")),
        Field("link", "text", _l("Link or platform (remote)"))),
        lambda case, actor: _case_actor(actor) and case.status in IN_HAND,
        lambda s, case, actor, v, version, at: book_session(
            s, case, actor, v["scheduled_at"], v["mode"], expert=v["expert"],
            staff=s.scalar(select(models.Staff).filter_by(user_id=getattr(actor, "id", None))),
            duration_minutes=v["duration_minutes"], place=v["place"], link=v["link"], at=at)),
    Step("result", _l("Record the session result"), "booking", (
        Field("result", "choice", _l("Session result"), choices=_RESULTS),
        Field("agreement_text", "textarea", _l("Agreement")),
        Field("performance_method", "text", _l("How the agreement is performed")),
        Field("performance_due", "date", _l("Performed by")),
        Field("follow_up_on", "date", _l("Fulfilment follow-up on"))),
        lambda booking, actor: (_case_actor(actor) and booking.result == "pending"
                                and booking.dispute.status in IN_HAND),
        lambda s, booking, actor, v, version, at: record_session_result(
            s, booking, actor, v["result"], v["agreement_text"], v["follow_up_on"],
            performance_method=v["performance_method"], performance_due=v["performance_due"],
            at=at),
        title=_booking_title(_l("Record the session result"),
                             lambda b: format_datetime(b.scheduled_at))),
    Step("extend", _l("Extend deadline"), "case", (
        Field("days", "number", _l("Days"), default=0, low=1, high=365),
        Field("approved_by", "text", _l("Approved by"))),
        lambda case, actor: (_case_actor(actor) and case.status in IN_HAND
                             and case.handle_due is not None),
        lambda s, case, actor, v, version, at: extend(s, case, actor, v["days"], v["approved_by"],
                                                  version=version, at=at)),
    Step("follow_up", _l("Fulfilment follow-up"), "booking",
         (Field("note", "text", _l("How the agreement is being kept")),),
         lambda booking, actor: (_case_actor(actor) and booking.follow_up_on is not None
                                 and booking.followed_up_at is None),
         lambda s, booking, actor, v, version, at: follow_up(s, booking, actor, v["note"], at=at),
         title=_booking_title(_l("Fulfilment follow-up"), lambda b: format_date(b.follow_up_on))),
    Step("conclude", _l("Conclude"), "case", (
        Field("outcome", "choice", _l("Outcome"), choices=choices.OUTCOME),
        Field("resolved_level", "choice", _l("Resolved at level"),
              choices=choices.HANDLING_LEVEL, blank=""),
        Field("route_on", "route", _l("Routed on to"), blank=""),
        Field("note", "textarea", _l("Outcome details"))),
        _moves("conclude"),
        lambda s, case, actor, v, version, at: conclude(
            s, case, actor, v["outcome"], v["resolved_level"], v["note"], v["route_on"],
            version=version, at=at), css="success"),
    Step("feedback", _l("Feedback"), "case", (
        Field("satisfaction", "radio", _l("Satisfaction"), required=True,
              choices=choices.SATISFACTION),
        Field("channel", "choice", _l("Channel"), choices=choices.FEEDBACK_CHANNEL),
        _NOTE),
        _moves("feedback"),
        lambda s, case, actor, v, version, at: record_feedback(
            s, case, actor, whole_number(v, "satisfaction", 0, 0, 9), v["channel"], v["note"],
            version=version, at=at), css="info"),
    Step("reopen", _l("Reopen"), "case",
         (Field("reason", "textarea", _l("Why the case is taken up again"), required=True),),
         _moves("reopen"),
         lambda s, case, actor, v, version, at: reopen(s, case, actor, v["reason"],
                                                   version=version, at=at),
         css="danger", hint=_dissatisfied),
    Step("report_in", _l("Report in"), "referral", (),
         lambda referral, actor: _unit_actor(actor, referral) and referral.status == "sent",
         lambda s, referral, actor, v, version, at: report_in(s, referral, actor, at=at),
         css="primary"),
    Step("answer", _l("Answer referral"), "referral",
         (Field("result", "textarea", _l("What the unit did"), required=True),),
         lambda referral, actor: _unit_actor(actor, referral) and referral.status == "reported",
         lambda s, referral, actor, v, version, at: answer(s, referral, actor, v["result"], at=at),
         css="success"),
    Step("return", _l("Return referral"), "referral",
         (Field("reason", "textarea", _l("Why it is outside the unit remit"), required=True),),
         lambda referral, actor: (_unit_actor(actor, referral)
                                  and referral.status in ("sent", "reported")),
         lambda s, referral, actor, v, version, at: return_referral(s, referral, actor,
                                                                v["reason"], at=at),
         css="warning"),
)
STEP = {(step.subject == "referral", step.name): step for step in STEPS}
CASE_STEPS = tuple(step.name for step in STEPS if step.subject != "referral")
REFERRAL_STEPS = tuple(step.name for step in STEPS if step.subject == "referral")


def _options(session, case, step):
    """What the step's fields choose from on this case (suggestions best first)."""
    options = {}
    for field in step.fields:
        if field.kind == "units":
            options[field.name] = dispatch.suggest_units(session, case)
        elif field.kind == "expert":
            options[field.name] = dispatch.suggest_experts(session, case)
        elif field.kind == "route":
            options[field.name] = session.scalars(select(models.LegalRoute).order_by(
                models.LegalRoute.sort_order)).all()
        elif field.kind in ("choice", "radio"):
            pairs = field.choices
            options[field.name] = list(getattr(pairs, "pairs", pairs))
    return options


def _targets(step, subject):
    """What a step of this kind acts on, for a case or a referral."""
    if step.subject == "booking":
        return [] if isinstance(subject, models.Referral) else list(subject.sessions)
    return [subject] if (step.subject == "referral") == isinstance(subject,
                                                                    models.Referral) else []


def steps_for(session, subject, actor):
    """The steps offered to this actor on a case (or a referral) now, in the loop's order,
    each with its target and the options of its fields: what the pages and the API offer."""
    case = subject.dispute if isinstance(subject, models.Referral) else subject
    if case.id is not None and not scope.visible(models.Dispute, case.id,
                                                 scope.remembered_scope_of(actor)):
        return []  # outside the actor's scope: nothing is offered (the steps would refuse)
    return [Offer(step, target, _options(session, case, step))
            for step in STEPS for target in _targets(step, subject)
            if step.available(target, actor)]


def perform(session, subject, actor, name, values, version=None, at=None):
    """Take the named step on a case (or a referral) with submitted values: the one handler of
    the pages and the API. LookupError for a step that does not exist (or a booking the case
    does not have); WorkflowError when refused. A step not offered now still runs its checks,
    so that the refusal says precisely why."""
    step = STEP.get((isinstance(subject, models.Referral), name))
    if step is None:
        raise LookupError(name)
    target = subject
    if step.subject == "booking":
        key = key_of(_text(values, "session"))
        target = next((b for b in subject.sessions if b.id == key), None)
        if target is None:
            raise LookupError(name)
    return step.run(session, target, actor, read(session, step, values), version, at)


def deadlines(case, referrals):
    """The case's running deadlines, as (label, due, counting): accepting, concluding, and each
    open referral's report-in or answer (of `referrals`, those the person sees); the time left
    counts only while the case is open."""
    counting = case.status in OPEN
    found = []
    if case.status == "registered":
        found.append((gettext("Accept by"), case.accept_due, counting))
    if case.handle_due:
        found.append((gettext("Conclude by"), case.handle_due, counting))
    for referral in referrals:
        due = referral_deadline(referral)
        if due is not None:
            label = gettext("Report in by") if referral.status == "sent" else gettext("Answer by")
            found.append((f"{referral.unit.department.name}：{label}", due, counting))
    return found


def referral_deadline(referral):
    """The deadline an open referral works to (report in, then answer), or None."""
    if referral.status == "sent":
        return referral.respond_due
    return referral.answer_due if referral.status == "reported" else None


def _cases_of(session, numbers):
    """The keys of the cases a set of ID numbers appear in, read first through the ID number
    index (as a subquery, planners may prefer a category or status index and walk a large
    part of the cases)."""
    return list(session.scalars(
        select(models.Party.dispute_id).where(models.Party.id_number.in_(numbers)).distinct()))


def _other_cases(session, dispute):
    """The keys of the other cases this case's parties (by ID number) appear in."""
    numbers = [p.id_number for p in dispute.parties if p.id_number]
    return set(_cases_of(session, numbers)) - {dispute.id} if numbers else set()


def _inside(query, within):
    """Keep a case query to a scope (None: every case). Cross-case checks look only inside
    what the person may see, so they cannot tell whether an ID number is a party elsewhere."""
    where = None if within is None else scope.condition(models.Dispute, within)
    return query if where is None else query.where(where)


def find_repeat(session, dispute, months=12, at=None, within=None):
    """An open or recent case sharing a party's ID number with this one (inside the scope
    `within`, when given), or None."""
    others = _other_cases(session, dispute)
    if not others:
        return None
    since = _now(at) - datetime.timedelta(days=30 * months)
    query = (select(models.Dispute)
             .where(models.Dispute.id.in_(sorted(others)),
                    or_(models.Dispute.status.in_(OPEN), models.Dispute.registered_at >= since))
             .order_by(models.Dispute.registered_at.desc()).limit(1))
    return session.scalar(_inside(query, within))


def parties_changed(session, dispute, months=12, at=None, within=None):
    """After a case's parties are entered or changed: link it to an earlier case sharing a
    party's ID number (inside `within`), in the same transaction; returns that case, if any."""
    with session.no_autoflush:
        earlier = find_repeat(session, dispute, months, at, within)
    if earlier is not None and dispute.repeat_of_id is None:
        dispute.repeat_of = earlier
    return earlier


def parallel_tracks(session, dispute, within=None):
    """Other open cases of the same parties and category on a different legal route (inside
    the scope `within`, when given)."""
    others = _other_cases(session, dispute)
    if not others:  # the parties are in no other case: nothing more to read
        return []
    query = (select(models.Dispute)
             .where(models.Dispute.id.in_(sorted(others)),
                    models.Dispute.category_id == dispute.category_id,
                    models.Dispute.status.in_(OPEN),
                    or_(models.Dispute.route_id != dispute.route_id,
                        and_(models.Dispute.route_id.is_(None), dispute.route_id is not None))))
    return list(session.scalars(_inside(query, within)))
