"""The domain model of comprehensive governance centres: places, centres, units, people and cases."""

import datetime

from flask_appbuilder import Model
from flask_babel import gettext
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    event,
    func,
    literal,
    select,
)
from sqlalchemy.orm import relationship

from app import choices, clock

# The largest key an integer key column holds on every engine.
LARGEST_KEY = 2**31 - 1


def key_of(value):
    """A record key from text a person or a URL sent, or None when it cannot be one (not a
    whole number, or beyond what a key column holds)."""
    try:
        key = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return key if 0 < key <= LARGEST_KEY else None


def choice_checks(table, choice_columns):
    """CHECK constraints that keep each coded column to the codes of its Choices set."""
    checks = []
    for column, options in choice_columns.items():
        values = ", ".join(str(c) if isinstance(c, int) else f"'{c}'" for c in options.codes)
        checks.append(CheckConstraint(f"{column} IN ({values})", name=f"ck_{table}_{column}"))
    return tuple(checks)


def now():
    """The current business time (app/clock.py), naive, to the second."""
    return clock.now()


def today():
    """Today in the business time zone."""
    return clock.today()


department_function_link = Table(
    "department_function_link",
    Model.metadata,
    Column(
        "department_id", Integer, ForeignKey("department.id", ondelete="CASCADE"), primary_key=True
    ),
    Column(
        "function_id",
        Integer,
        ForeignKey("department_function.id", ondelete="CASCADE"),
        primary_key=True,
    ),
)

department_category = Table(
    "department_category",
    Model.metadata,
    Column(
        "department_id", Integer, ForeignKey("department.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("category_id", Integer, ForeignKey("category.id", ondelete="CASCADE"), primary_key=True),
)

staff_language = Table(
    "staff_language",
    Model.metadata,
    Column("staff_id", Integer, ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True),
    Column("language_id", Integer, ForeignKey("language.id", ondelete="CASCADE"), primary_key=True),
)

expert_language = Table(
    "expert_language",
    Model.metadata,
    Column("expert_id", Integer, ForeignKey("expert.id", ondelete="CASCADE"), primary_key=True),
    Column("language_id", Integer, ForeignKey("language.id", ondelete="CASCADE"), primary_key=True),
)

expert_specialty = Table(
    "expert_specialty",
    Model.metadata,
    Column("expert_id", Integer, ForeignKey("expert.id", ondelete="CASCADE"), primary_key=True),
    Column("category_id", Integer, ForeignKey("category.id", ondelete="CASCADE"), primary_key=True),
)


class Region(Model):
    """An administrative division: region, prefecture, county, township or village."""

    __tablename__ = "region"
    id = Column(Integer, primary_key=True)
    code = Column(String(12), nullable=False, unique=True)
    name = Column(String(100), nullable=False)
    level = Column(String(12), nullable=False)
    parent_id = Column(Integer, ForeignKey("region.id"), index=True)
    # Codes from the root down, "650000/652700/652701/": a prefix match selects a subtree.
    path = Column(String(200), nullable=False, index=True)
    parent = relationship("Region", remote_side=[id], back_populates="children")
    # Never emptied by deleting the parent: a region with children cannot be deleted.
    children = relationship("Region", back_populates="parent", passive_deletes="all")
    choice_columns = {"level": choices.REGION_LEVEL}
    __table_args__ = (*choice_checks("region", choice_columns),)

    def __str__(self):
        return self.name


class TreeError(ValueError):
    """A change that would break the region tree; the message says why."""


@event.listens_for(Region, "before_insert")
@event.listens_for(Region, "before_update")
def _region_path(mapper, connection, target):
    """Keep the materialised path in step with the parent, for the region and its whole
    subtree; only the root (level "region") may be without a parent, and no region may move
    under itself."""
    parent_path = ""
    parent_id = target.parent.id if target.parent is not None else target.parent_id
    if parent_id is None and target.level != "region":
        raise TreeError(gettext("Only the whole region may be without a parent: choose the "
                                "division this one belongs to."))
    if parent_id is not None:
        parent_path = connection.execute(
            select(Region.path).where(Region.id == parent_id)
        ).scalar_one()
    old = connection.execute(select(Region.path).where(Region.id == target.id)).scalar() \
        if target.id is not None else None
    new = f"{parent_path}{target.code}/"
    if old and parent_path.startswith(old):
        raise TreeError(gettext("A division cannot be moved under itself or one of its own."))
    target.path = new
    if old and old != new:  # the subtree moves with it, in the same transaction
        connection.execute(Region.__table__.update()
                           .where(Region.path.startswith(old), Region.id != target.id)
                           .values(path=literal(new) + func.substr(Region.path, len(old) + 1)))


@event.listens_for(Region, "before_delete")
def _region_is_a_leaf(mapper, connection, target):
    """A region with divisions or a centre under it cannot be deleted."""
    below = connection.execute(select(func.count()).select_from(Region)
                               .where(Region.parent_id == target.id)).scalar()
    centres = connection.execute(select(func.count()).select_from(Centre.__table__)
                                 .where(Centre.__table__.c.region_id == target.id)).scalar()
    if below or centres:
        raise TreeError(gettext("%(name)s still has divisions or a centre under it: move or "
                                "delete those first.", name=target.name))


class Centre(Model):
    """A county's comprehensive governance centre."""

    __tablename__ = "centre"
    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, unique=True)
    short_name = Column(String(30), nullable=False)
    region_id = Column(Integer, ForeignKey("region.id"), nullable=False, unique=True)
    director = Column(String(50))
    head = Column(String(50))
    address = Column(String(200))
    phone = Column(String(20))
    opened_on = Column(Date)
    is_pilot = Column(Boolean, nullable=False, default=False)
    standard_status = Column(String(16), nullable=False, default="building")
    origin = Column(String(24))
    notes = Column(Text)
    region = relationship("Region")
    units = relationship("StationedUnit", back_populates="centre")
    choice_columns = {"standard_status": choices.CENTRE_STANDARD, "origin": choices.CENTRE_ORIGIN}
    __table_args__ = (*choice_checks("centre", choice_columns),)

    def __str__(self):
        return self.name


class DepartmentFunction(Model):
    """A function a department performs, such as litigation service."""

    __tablename__ = "department_function"
    id = Column(Integer, primary_key=True)
    code = Column(String(30), nullable=False, unique=True)
    name = Column(String(50), nullable=False, unique=True)
    # One of the four centres merged into the comprehensive governance centre.
    merged_service = Column(Boolean, nullable=False, default=False)

    def __str__(self):
        return self.name


class Category(Model):
    """A category of dispute; also an expert's specialty and a department's responsibility."""

    __tablename__ = "category"
    id = Column(Integer, primary_key=True)
    code = Column(String(30), nullable=False, unique=True)
    name = Column(String(50), nullable=False, unique=True)
    description = Column(Text)

    def __str__(self):
        return self.name


class Department(Model):
    """A government department or body that can be stationed at centres."""

    __tablename__ = "department"
    id = Column(Integer, primary_key=True)
    code = Column(String(30), nullable=False, unique=True)
    name = Column(String(100), nullable=False, unique=True)
    description = Column(Text)
    functions = relationship("DepartmentFunction", secondary=department_function_link)
    categories = relationship("Category", secondary=department_category)

    def __str__(self):
        return self.name


class LegalRoute(Model):
    """A track on the legal route map, with its statutory clocks."""

    __tablename__ = "legal_route"
    id = Column(Integer, primary_key=True)
    code = Column(String(30), nullable=False, unique=True)
    name = Column(String(50), nullable=False, unique=True)
    sort_order = Column(Integer, nullable=False, default=0)
    days_to_accept = Column(Integer, nullable=False, default=0)
    days_to_handle = Column(Integer, nullable=False, default=30)
    max_extension_days = Column(Integer, nullable=False, default=0)
    extension_needs_approval = Column(Boolean, nullable=False, default=True)
    description = Column(Text)
    __table_args__ = (
        CheckConstraint("days_to_accept >= 0", name="ck_legal_route_days_to_accept"),
        CheckConstraint("days_to_handle > 0", name="ck_legal_route_days_to_handle"),
        CheckConstraint("max_extension_days >= 0", name="ck_legal_route_max_extension_days"),
    )

    def __str__(self):
        return self.name


class Language(Model):
    """A language staff and experts can mediate in."""

    __tablename__ = "language"
    id = Column(Integer, primary_key=True)
    code = Column(String(10), nullable=False, unique=True)
    name = Column(String(30), nullable=False, unique=True)

    def __str__(self):
        return self.name


class StationedUnit(Model):
    """A department stationed at a centre: resident, rotating or on call."""

    __tablename__ = "stationed_unit"
    id = Column(Integer, primary_key=True)
    centre_id = Column(Integer, ForeignKey("centre.id"), nullable=False)
    department_id = Column(Integer, ForeignKey("department.id"), nullable=False, index=True)
    mode = Column(String(10), nullable=False)
    window = Column(String(50))
    contact_phone = Column(String(20))
    staff_count = Column(Integer)
    stationed_since = Column(Date)
    active = Column(Boolean, nullable=False, default=True)
    centre = relationship("Centre", back_populates="units")
    department = relationship("Department")
    # Relations the label (__str__) reads, loaded with the unit wherever it is listed.
    label_loads = ("centre", "department")
    rota = relationship(
        "RotaSlot", back_populates="unit", cascade="all, delete-orphan", order_by="RotaSlot.weekday"
    )
    choice_columns = {"mode": choices.UNIT_MODE}
    __table_args__ = (
        *choice_checks("stationed_unit", choice_columns),
        UniqueConstraint("centre_id", "department_id", name="uq_stationed_unit_centre_department"),
        CheckConstraint(
            "staff_count IS NULL OR staff_count >= 0", name="ck_stationed_unit_staff_count"
        ),
    )

    def __str__(self):
        if self.centre is None or self.department is None:
            return ""
        return f"{self.centre.short_name}·{self.department.name}"


class RotaSlot(Model):
    """A weekday on which a rotating unit sits at the centre."""

    __tablename__ = "rota_slot"
    id = Column(Integer, primary_key=True)
    unit_id = Column(Integer, ForeignKey("stationed_unit.id", ondelete="CASCADE"), nullable=False)
    weekday = Column(Integer, nullable=False)
    note = Column(String(100))
    unit = relationship("StationedUnit", back_populates="rota")
    choice_columns = {"weekday": choices.WEEKDAY}
    __table_args__ = (
        *choice_checks("rota_slot", choice_columns),
        UniqueConstraint("unit_id", "weekday", name="uq_rota_slot_unit_weekday"),
    )

    def __str__(self):
        return f"{self.unit} {choices.WEEKDAY.label(self.weekday)}"


class Staff(Model):
    """A person working at a centre, optionally for a stationed unit and with a login."""

    __tablename__ = "staff"
    id = Column(Integer, primary_key=True)
    name = Column(String(50), nullable=False)
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), unique=True)
    centre_id = Column(Integer, ForeignKey("centre.id"), nullable=False, index=True)
    unit_id = Column(Integer, ForeignKey("stationed_unit.id", ondelete="SET NULL"), index=True)
    position = Column(String(50))
    phone = Column(String(20))
    is_mediator = Column(Boolean, nullable=False, default=False)
    active = Column(Boolean, nullable=False, default=True)
    user = relationship("User")
    centre = relationship("Centre")
    unit = relationship("StationedUnit")
    languages = relationship("Language", secondary=staff_language)
    personal_columns = {"phone": "phone"}

    def __str__(self):
        return self.name


class Expert(Model):
    """A mediator in the electronic expert library, booked by appointment, on call or by video."""

    __tablename__ = "expert"
    id = Column(Integer, primary_key=True)
    name = Column(String(50), nullable=False, index=True)
    centre_id = Column(Integer, ForeignKey("centre.id"), index=True)
    region_id = Column(Integer, ForeignKey("region.id"), nullable=False, index=True)
    organisation = Column(String(100))
    title = Column(String(50))
    phone = Column(String(20))
    bio = Column(Text)
    books_appointment = Column(Boolean, nullable=False, default=True)
    books_on_call = Column(Boolean, nullable=False, default=False)
    books_video = Column(Boolean, nullable=False, default=False)
    active = Column(Boolean, nullable=False, default=True)
    centre = relationship("Centre")
    region = relationship("Region")
    specialties = relationship("Category", secondary=expert_specialty)
    languages = relationship("Language", secondary=expert_language)
    personal_columns = {"phone": "phone"}

    def __str__(self):
        return self.name


class Dispute(Model):
    """A dispute brought to a centre: the case that runs the closed loop."""

    __tablename__ = "dispute"
    # Lists sorted by another column order ties by registration: the (column, registered_at)
    # indexes keep that order.
    order_tiebreak = "registered_at"
    id = Column(Integer, primary_key=True)
    case_no = Column(String(32), nullable=False, unique=True)
    centre_id = Column(Integer, ForeignKey("centre.id"), nullable=False)
    category_id = Column(Integer, ForeignKey("category.id"), nullable=False)
    route_id = Column(Integer, ForeignKey("legal_route.id"), index=True)
    title = Column(String(200), nullable=False)
    description = Column(Text, nullable=False)
    amount = Column(Numeric(14, 2))
    source = Column(String(10), nullable=False)
    level = Column(String(10), nullable=False)
    risk = Column(String(10), nullable=False, default="low")
    status = Column(String(12), nullable=False, default="registered")
    outcome = Column(String(12))
    outcome_note = Column(Text)
    decline_reason = Column(Text)
    resolved_level = Column(String(10))
    place_id = Column(Integer, ForeignKey("region.id"), index=True)
    handler_id = Column(Integer, ForeignKey("staff.id", ondelete="SET NULL"), index=True)
    registered_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    repeat_of_id = Column(Integer, ForeignKey("dispute.id", ondelete="SET NULL"), index=True)
    # The language the parties need the mediation in (Uyghur, Kazakh, the common language…).
    language_id = Column(Integer, ForeignKey("language.id"))
    extension_days = Column(Integer, nullable=False, default=0)
    registered_at = Column(DateTime, nullable=False, default=now)
    accepted_at = Column(DateTime)
    declined_at = Column(DateTime)
    referred_at = Column(DateTime)
    concluded_at = Column(DateTime)
    closed_at = Column(DateTime)
    # Whole seconds from registration to conclusion, kept with concluded_at (see below), so the
    # statistics sum and rank durations from an index instead of parsing two timestamps per case.
    conclude_seconds = Column(Integer)
    accept_due = Column(DateTime)
    handle_due = Column(DateTime)
    version = Column(Integer, nullable=False, default=1)

    centre = relationship("Centre")
    category = relationship("Category")
    route = relationship("LegalRoute")
    place = relationship("Region")
    handler = relationship("Staff")
    registered_by = relationship("User")
    repeat_of = relationship("Dispute", remote_side=[id])
    language = relationship("Language")
    parties = relationship(
        "Party", back_populates="dispute", cascade="all, delete-orphan", passive_deletes=True
    )
    referrals = relationship(
        "Referral", back_populates="dispute", cascade="all, delete-orphan", passive_deletes=True
    )
    sessions = relationship(
        "MediationSession",
        back_populates="dispute",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    feedback = relationship(
        "Feedback", back_populates="dispute", cascade="all, delete-orphan", passive_deletes=True
    )
    # Every conclusion the case has had (reopening keeps them): what the statistics count.
    conclusions = relationship(
        "Conclusion", back_populates="dispute", cascade="all, delete-orphan",
        passive_deletes=True, order_by="Conclusion.concluded_at",
    )
    events = relationship(
        "CaseEvent",
        back_populates="dispute",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="CaseEvent.at",
    )

    __mapper_args__ = {"version_id_col": version}
    choice_columns = {
        "source": choices.DISPUTE_SOURCE,
        "level": choices.HANDLING_LEVEL,
        "risk": choices.RISK_LEVEL,
        "status": choices.DISPUTE_STATUS,
        "outcome": choices.OUTCOME,
        "resolved_level": choices.HANDLING_LEVEL,
    }
    __table_args__ = (
        *choice_checks("dispute", choice_columns),
        CheckConstraint("amount IS NULL OR amount >= 0", name="ck_dispute_amount"),
        CheckConstraint("extension_days >= 0", name="ck_dispute_extension_days"),
        CheckConstraint(
            "concluded_at IS NULL OR concluded_at >= registered_at",
            name="ck_dispute_concluded_after",
        ),
        CheckConstraint(
            "status NOT IN ('concluded', 'closed') OR outcome IS NOT NULL",
            name="ck_dispute_outcome_when_concluded",
        ),
        # The list screens filter by centre, status, category, source and level and sort by time.
        Index("ix_dispute_centre_registered", "centre_id", "registered_at"),
        Index("ix_dispute_status_registered", "status", "registered_at"),
        Index("ix_dispute_category_registered", "category_id", "registered_at"),
        Index("ix_dispute_source_registered", "source", "registered_at"),
        Index("ix_dispute_level_registered", "level", "registered_at"),
        # The statistics read these columns only: each figure is an index-only range scan.
        Index("ix_dispute_stats_registered", "registered_at", "centre_id", "category_id",
              "source", "level", "status", "referred_at"),
        Index("ix_dispute_stats_concluded", "concluded_at", "centre_id", "outcome",
              "resolved_level", "conclude_seconds"),
        Index("ix_dispute_stats_accepted", "accepted_at", "centre_id"),
        Index("ix_dispute_stats_declined", "declined_at", "centre_id"),
        Index("ix_dispute_stats_open", "status", "accept_due", "handle_due", "centre_id"),
        # The deadline warnings read the cases in hand whose handling deadline is near.
        Index("ix_dispute_status_handle_due", "status", "handle_due"),
    )

    def __str__(self):
        return f"{self.case_no} {self.title}"


def conclude_seconds(registered_at, concluded_at):
    """Whole seconds between registration and conclusion, or None while not concluded."""
    if registered_at is None or concluded_at is None:
        return None
    return round((concluded_at - registered_at).total_seconds())


@event.listens_for(Dispute, "before_insert")
@event.listens_for(Dispute, "before_update")
def _conclude_seconds(mapper, connection, target):
    """Keep the stored duration in step with the two timestamps, whoever writes them."""
    target.conclude_seconds = conclude_seconds(target.registered_at, target.concluded_at)


class Party(Model):
    """A party to a dispute: applicant, respondent or third party."""

    __tablename__ = "party"
    id = Column(Integer, primary_key=True)
    dispute_id = Column(
        Integer, ForeignKey("dispute.id", ondelete="CASCADE"), nullable=False, index=True
    )
    role = Column(String(12), nullable=False)
    name = Column(String(50), nullable=False, index=True)
    id_number = Column(String(18), index=True)
    phone = Column(String(20))
    address = Column(String(200))
    dispute = relationship("Dispute", back_populates="parties")
    # Personal information: masked on every screen and export unless revealed (kind of mask).
    personal_columns = {"id_number": "id", "phone": "phone", "address": "text"}
    choice_columns = {"role": choices.PARTY_ROLE}
    __table_args__ = (*choice_checks("party", choice_columns),)

    def __str__(self):
        return self.name


class Referral(Model):
    """A dispute sent by the centre to a stationed unit ("the centre whistles, the department reports in")."""

    __tablename__ = "referral"
    id = Column(Integer, primary_key=True)
    dispute_id = Column(
        Integer, ForeignKey("dispute.id", ondelete="CASCADE"), nullable=False, index=True
    )
    unit_id = Column(Integer, ForeignKey("stationed_unit.id"), nullable=False)
    sent_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    instructions = Column(Text)
    status = Column(String(10), nullable=False, default="sent")
    # Referrals "in turn": the order in which queued referrals are sent, one after another.
    position = Column(Integer, nullable=False, default=1)
    summoned = Column(Boolean, nullable=False, default=False)
    sent_at = Column(DateTime, nullable=False, default=now)
    respond_due = Column(DateTime, nullable=False)
    answer_due = Column(DateTime, nullable=False)
    reported_at = Column(DateTime)
    answered_at = Column(DateTime)
    result = Column(Text)
    returned_at = Column(DateTime)
    return_reason = Column(Text)
    # When concluding the case cancelled the referral still open (its timeliness counts up to
    # then: a deadline already passed stays missed).
    cancelled_at = Column(DateTime)
    dispute = relationship("Dispute", back_populates="referrals")
    unit = relationship("StationedUnit")
    sent_by = relationship("User")
    choice_columns = {"status": choices.REFERRAL_STATUS}
    __table_args__ = (
        *choice_checks("referral", choice_columns),
        CheckConstraint("respond_due >= sent_at", name="ck_referral_respond_due"),
        CheckConstraint("answer_due >= sent_at", name="ck_referral_answer_due"),
        Index("ix_referral_unit_status", "unit_id", "status", "sent_at"),
        Index("ix_referral_stats_sent", "sent_at", "unit_id", "status", "reported_at",
              "respond_due", "answered_at", "answer_due", "dispute_id"),
        Index("ix_referral_stats_open", "status", "respond_due", "answer_due", "unit_id",
              "dispute_id"),
        # The deadline warnings read the open referrals whose answer deadline is near.
        Index("ix_referral_status_answer_due", "status", "answer_due"),
    )

    def __str__(self):
        return f"{self.dispute.case_no if self.dispute else ''} → {self.unit or ''}"


class MediationSession(Model):
    """A mediation session or online hearing held for a dispute."""

    __tablename__ = "mediation_session"
    id = Column(Integer, primary_key=True)
    dispute_id = Column(
        Integer, ForeignKey("dispute.id", ondelete="CASCADE"), nullable=False, index=True
    )
    expert_id = Column(Integer, ForeignKey("expert.id"))
    staff_id = Column(Integer, ForeignKey("staff.id", ondelete="SET NULL"), index=True)
    scheduled_at = Column(DateTime, nullable=False)
    duration_minutes = Column(Integer, nullable=False, default=60)
    mode = Column(String(12), nullable=False)
    place = Column(String(100))
    link = Column(String(300))
    result = Column(String(10), nullable=False, default="pending")
    agreement_text = Column(Text)
    # What the agreement says about its performance (人民调解法 art. 29): how, and by when.
    performance_method = Column(String(200))
    performance_due = Column(Date)
    follow_up_on = Column(Date, index=True)
    followed_up_at = Column(DateTime)
    follow_up_note = Column(Text)
    dispute = relationship("Dispute", back_populates="sessions")
    expert = relationship("Expert")
    staff = relationship("Staff")
    choice_columns = {"mode": choices.SESSION_MODE, "result": choices.SESSION_RESULT}
    __table_args__ = (
        *choice_checks("mediation_session", choice_columns),
        CheckConstraint("duration_minutes > 0", name="ck_mediation_session_duration"),
        Index("ix_mediation_session_expert_time", "expert_id", "scheduled_at"),
    )

    def __str__(self):
        return f"{self.dispute.case_no if self.dispute else ''} {self.scheduled_at or ''}"


class Feedback(Model):
    """A party's satisfaction with a concluded dispute, and how it was collected."""

    __tablename__ = "feedback"
    id = Column(Integer, primary_key=True)
    dispute_id = Column(
        Integer, ForeignKey("dispute.id", ondelete="CASCADE"), nullable=False, index=True
    )
    satisfaction = Column(Integer, nullable=False)
    channel = Column(String(10), nullable=False)
    note = Column(Text)
    collected_at = Column(DateTime, nullable=False, default=now)
    collected_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    dispute = relationship("Dispute", back_populates="feedback")
    collected_by = relationship("User")
    choice_columns = {"satisfaction": choices.SATISFACTION, "channel": choices.FEEDBACK_CHANNEL}
    __table_args__ = (
        *choice_checks("feedback", choice_columns),
        Index("ix_feedback_stats_collected", "collected_at", "satisfaction", "dispute_id"),
    )

    def __str__(self):
        return str(choices.SATISFACTION.label(self.satisfaction))


class Conclusion(Model):
    """One conclusion of a case, as it was when concluded: kept when the case is reopened, so a
    case concluded twice counts twice, each time in the period it happened."""

    __tablename__ = "conclusion"
    id = Column(Integer, primary_key=True)
    dispute_id = Column(
        Integer, ForeignKey("dispute.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # The centre that concluded it (a case never changes centre; kept here so the statistics
    # read one index, without a join).
    centre_id = Column(Integer, ForeignKey("centre.id"), nullable=False)
    concluded_at = Column(DateTime, nullable=False)
    outcome = Column(String(12), nullable=False)
    resolved_level = Column(String(10))
    # Whole seconds from the case's registration to this conclusion.
    conclude_seconds = Column(Integer, nullable=False)
    dispute = relationship("Dispute", back_populates="conclusions")
    centre = relationship("Centre")
    choice_columns = {"outcome": choices.OUTCOME, "resolved_level": choices.HANDLING_LEVEL}
    __table_args__ = (
        *choice_checks("conclusion", choice_columns),
        Index("ix_conclusion_stats", "concluded_at", "centre_id", "outcome", "resolved_level",
              "conclude_seconds"),
    )

    @classmethod
    def of(cls, dispute):
        """The conclusion a case's current outcome columns describe."""
        return cls(centre_id=dispute.centre_id if dispute.centre_id is not None
                   else dispute.centre.id, concluded_at=dispute.concluded_at,
                   outcome=dispute.outcome, resolved_level=dispute.resolved_level,
                   conclude_seconds=conclude_seconds(dispute.registered_at, dispute.concluded_at))

    def __str__(self):
        return f"{choices.OUTCOME.label(self.outcome)} {self.concluded_at or ''}"


class CaseEvent(Model):
    """One step on a dispute's timeline: who did what, when, from which status to which."""

    __tablename__ = "case_event"
    id = Column(Integer, primary_key=True)
    dispute_id = Column(Integer, ForeignKey("dispute.id", ondelete="CASCADE"), nullable=False)
    at = Column(DateTime, nullable=False, default=now)
    actor_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    action = Column(String(12), nullable=False)
    from_status = Column(String(12))
    to_status = Column(String(12))
    note = Column(Text)
    dispute = relationship("Dispute", back_populates="events")
    actor = relationship("User")
    choice_columns = {
        "action": choices.EVENT_ACTION,
        "from_status": choices.DISPUTE_STATUS,
        "to_status": choices.DISPUTE_STATUS,
    }
    __table_args__ = (
        *choice_checks("case_event", choice_columns),
        Index("ix_case_event_dispute_at", "dispute_id", "at"),
    )

    def __str__(self):
        return f"{choices.EVENT_ACTION.label(self.action)} {self.at or ''}"


class DocumentCounter(Model):
    """The last document number given per centre, year and kind of document (文号), taken with
    an atomic UPDATE in the issuing transaction, as case numbers are."""

    __tablename__ = "document_counter"
    centre_id = Column(Integer, ForeignKey("centre.id", ondelete="CASCADE"), primary_key=True)
    year = Column(Integer, primary_key=True)
    kind = Column(String(16), primary_key=True)
    last = Column(Integer, nullable=False)


class DocumentTemplate(Model):
    """The wording of a kind of document, edited by an administrator: the region's (no
    centre) or one centre's own; without one, the shipped wording is used."""

    __tablename__ = "document_template"
    id = Column(Integer, primary_key=True)
    kind = Column(String(16), nullable=False)
    centre_id = Column(Integer, ForeignKey("centre.id", ondelete="CASCADE"))
    body = Column(Text, nullable=False)
    updated_at = Column(DateTime, nullable=False, default=now)
    updated_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    centre = relationship("Centre")
    choice_columns = {"kind": choices.DOCUMENT_KIND}
    __table_args__ = (
        *choice_checks("document_template", choice_columns),
        UniqueConstraint("kind", "centre_id", name="uq_document_template_kind_centre"),
    )

    def __str__(self):
        return str(choices.DOCUMENT_KIND.label(self.kind))


class CaseDocument(Model):
    """A document issued from a case (受理通知书, 转办单, 人民调解协议书…): its number, the PDF as
    printed (kept in the file storage under a random key), who issued it and when. Issuing again
    makes a new version under the same number; nothing is overwritten."""

    __tablename__ = "case_document"
    id = Column(Integer, primary_key=True)
    dispute_id = Column(Integer, ForeignKey("dispute.id", ondelete="CASCADE"), nullable=False,
                        index=True)
    referral_id = Column(Integer, ForeignKey("referral.id", ondelete="SET NULL"))
    session_id = Column(Integer, ForeignKey("mediation_session.id", ondelete="SET NULL"))
    kind = Column(String(16), nullable=False)
    number = Column(String(64), nullable=False)
    version = Column(Integer, nullable=False, default=1)
    issued_at = Column(DateTime, nullable=False, default=now)
    issued_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    storage_key = Column(String(80), nullable=False)
    size = Column(Integer, nullable=False)
    sha256 = Column(String(64), nullable=False)
    dispute = relationship("Dispute")
    referral = relationship("Referral")
    session = relationship("MediationSession")
    issued_by = relationship("User")
    choice_columns = {"kind": choices.DOCUMENT_KIND}
    __table_args__ = (
        *choice_checks("case_document", choice_columns),
        UniqueConstraint("dispute_id", "number", "version",
                         name="uq_case_document_number_version"),
    )

    def __str__(self):
        return f"{choices.DOCUMENT_KIND.label(self.kind)} {self.number}"


class Attachment(Model):
    """A file a case received (application, ID copy, IOU, signed agreement, photos…), kept in
    the file storage under a random key; deleted only softly (the record stays, marked)."""

    __tablename__ = "attachment"
    id = Column(Integer, primary_key=True)
    dispute_id = Column(Integer, ForeignKey("dispute.id", ondelete="CASCADE"), nullable=False,
                        index=True)
    # What within the case the file belongs to, if more than the case: a party, a referral
    # (the unit's answer) or a session (its result).
    party_id = Column(Integer, ForeignKey("party.id", ondelete="SET NULL"))
    referral_id = Column(Integer, ForeignKey("referral.id", ondelete="SET NULL"))
    session_id = Column(Integer, ForeignKey("mediation_session.id", ondelete="SET NULL"))
    kind = Column(String(20), nullable=False)
    file_name = Column(String(120), nullable=False)
    content_type = Column(String(100), nullable=False)
    size = Column(Integer, nullable=False)
    sha256 = Column(String(64), nullable=False)
    storage_key = Column(String(80), nullable=False)
    thumbnail_key = Column(String(80))
    uploaded_at = Column(DateTime, nullable=False, default=now)
    uploaded_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    deleted_at = Column(DateTime)
    deleted_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    dispute = relationship("Dispute")
    party = relationship("Party")
    referral = relationship("Referral")
    session = relationship("MediationSession")
    uploaded_by = relationship("User", foreign_keys=[uploaded_by_id])
    choice_columns = {"kind": choices.ATTACHMENT_KIND}
    __table_args__ = (*choice_checks("attachment", choice_columns),)

    def __str__(self):
        return self.file_name


class ServiceRecord(Model):
    """A count of the centre's other services over a period within one calendar month:
    visitors, notarisations, legal aid, petitions… (kept per month, so that each month's
    statistics count what happened in it)."""

    @staticmethod
    def split_by_month(start, end, count):
        """[(first day, last day, share)] of a count over start..end (both included), one
        piece per calendar month, shared by days (largest remainders; the shares sum to the
        count)."""
        pieces = []
        first = start
        while first <= end:
            following = (first.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
            last = min(end, following - datetime.timedelta(days=1))
            pieces.append((first, last, (last - first).days + 1))
            first = following
        days = sum(piece[2] for piece in pieces)
        exact = [count * piece[2] / days for piece in pieces]
        shares = [int(value) for value in exact]
        order = sorted(range(len(pieces)), key=lambda k: (shares[k] - exact[k], k))
        for k in order[:count - sum(shares)]:
            shares[k] += 1
        return [(a, b, share) for (a, b, _days), share in zip(pieces, shares, strict=True)]

    def period_problem(self):
        """Why the record's period is refused (words), or None."""
        if self.period_start is None or self.period_end is None:
            return None
        if self.period_end < self.period_start:
            return gettext("The period ends before it starts.")
        if (self.period_start.year, self.period_start.month) != \
                (self.period_end.year, self.period_end.month):
            return gettext("Service records are kept per month: the period must lie within "
                           "one calendar month (enter one record for each month).")
        return None

    __tablename__ = "service_record"
    id = Column(Integer, primary_key=True)
    centre_id = Column(Integer, ForeignKey("centre.id"), nullable=False)
    kind = Column(String(20), nullable=False)
    count = Column(Integer, nullable=False)
    period_start = Column(Date, nullable=False)
    period_end = Column(Date, nullable=False)
    note = Column(String(200))
    centre = relationship("Centre")
    choice_columns = {"kind": choices.SERVICE_KIND}
    __table_args__ = (
        *choice_checks("service_record", choice_columns),
        CheckConstraint("count >= 0", name="ck_service_record_count"),
        CheckConstraint("period_end >= period_start", name="ck_service_record_period"),
        Index("ix_service_record_centre_period", "centre_id", "period_start"),
    )

    def __str__(self):
        return f"{choices.SERVICE_KIND.label(self.kind)} {self.count}"


class StatMonth(Model):
    """Monthly counts per centre, the statistics' rollup: kept exact by app/rollup.py on every
    write (recomputed from the case rows for the months and centres a flush touched)."""

    __tablename__ = "stat_month"

    month = Column(Date, primary_key=True)
    centre_id = Column(Integer, ForeignKey("centre.id", ondelete="CASCADE"), primary_key=True)
    registered = Column(Integer, nullable=False, default=0)
    accepted = Column(Integer, nullable=False, default=0)
    declined = Column(Integer, nullable=False, default=0)
    concluded = Column(Integer, nullable=False, default=0)
    resolved = Column(Integer, nullable=False, default=0)
    routed_on = Column(Integer, nullable=False, default=0)
    withdrawn = Column(Integer, nullable=False, default=0)
    grassroots = Column(Integer, nullable=False, default=0)
    conclude_seconds = Column(BigInteger, nullable=False, default=0)
    feedback = Column(Integer, nullable=False, default=0)
    satisfied = Column(Integer, nullable=False, default=0)

    COUNTS = ("registered", "accepted", "declined", "concluded", "resolved", "routed_on",
              "withdrawn", "grassroots", "conclude_seconds", "feedback", "satisfied")


class StatMonthPart(Model):
    """Monthly counts per centre by a dimension, the statistics' second rollup, kept with
    stat_month: cases registered by category, source and level (the level registered at), the
    funnel steps those cases reached, cases concluded by whole days taken (what the median and
    p90 are found from), and cases resolved by the level they were resolved at."""

    __tablename__ = "stat_month_part"

    dimension = Column(String(16), primary_key=True)
    month = Column(Date, primary_key=True)
    centre_id = Column(Integer, ForeignKey("centre.id", ondelete="CASCADE"), primary_key=True)
    code = Column(String(32), primary_key=True)
    cases = Column(Integer, nullable=False)

    DIMENSIONS = ("category", "source", "level", "funnel", "days", "resolved")


class CaseCounter(Model):
    """The last case number given per centre and year: taken with an atomic UPDATE in the
    registering transaction, so two clerks never get the same number (app/workflow.py)."""

    __tablename__ = "case_counter"
    centre_id = Column(Integer, ForeignKey("centre.id", ondelete="CASCADE"), primary_key=True)
    year = Column(Integer, primary_key=True, autoincrement=False)
    last = Column(Integer, nullable=False)


class Heartbeat(Model):
    """One row the health check writes, to tell a database that cannot take writes."""

    __tablename__ = "heartbeat"
    id = Column(Integer, primary_key=True, autoincrement=False)
    at = Column(DateTime, nullable=False)


class UserScope(Model):
    """Where a login may see and change data: a subtree of the region tree, or one stationed unit."""

    __tablename__ = "user_scope"
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True)
    # The region, a prefecture or a county (one centre); NULL with no unit means the whole tree.
    region_id = Column(Integer, ForeignKey("region.id"))
    # For unit liaisons: the cases referred to this unit.
    unit_id = Column(Integer, ForeignKey("stationed_unit.id", ondelete="CASCADE"))
    user = relationship("User")
    region = relationship("Region")
    unit = relationship("StationedUnit")

    def __str__(self):
        return str(self.unit or self.region or "")


class AccountState(Model):
    """Security state of a login: forced password change, failures and lockout, shared by all workers."""

    __tablename__ = "account_state"
    # Keyed by the name typed at login, so unknown names are throttled exactly like real ones.
    username = Column(String(256), primary_key=True)
    failures = Column(Integer, nullable=False, default=0)
    locked_until = Column(DateTime)
    must_change_password = Column(Boolean, nullable=False, default=False)
    password_changed_at = Column(DateTime)
    __table_args__ = (CheckConstraint("failures >= 0", name="ck_account_state_failures"),)


class LoginSession(Model):
    """A signed-in session, so that logout, idle timeout and deactivation end it on every worker."""

    __tablename__ = "login_session"
    id = Column(String(64), primary_key=True)
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False, index=True)
    created_at = Column(DateTime, nullable=False, default=now)
    last_seen = Column(DateTime, nullable=False, default=now)
    ended_at = Column(DateTime)
    ip = Column(String(64))
    # Copied from AccountState at sign-in, so the check costs no query per request.
    must_change_password = Column(Boolean, nullable=False, default=False)


class AuditLog(Model):
    """One security-relevant event. Append-only: the database refuses updates and early deletes."""

    __tablename__ = "audit_log"
    id = Column(Integer, primary_key=True)
    at = Column(DateTime, nullable=False, default=now, index=True)
    # No foreign key: the record outlives the account it names.
    user_id = Column(Integer, index=True)
    username = Column(String(256))
    ip = Column(String(64))
    action = Column(String(20), nullable=False, index=True)
    object_type = Column(String(40))
    object_id = Column(String(64))
    outcome = Column(String(10), nullable=False, default="success")
    detail = Column(Text)
    choice_columns = {"action": choices.AUDIT_ACTION, "outcome": choices.AUDIT_OUTCOME}
    __table_args__ = (*choice_checks("audit_log", choice_columns),)

    def __str__(self):
        return f"{self.at} {self.username or ''} {self.action}"


class DispatchRule(Model):
    """A weight of the dispatch suggestions, kept as data so that an admin can tune it."""

    __tablename__ = "dispatch_rule"
    id = Column(Integer, primary_key=True)
    code = Column(String(40), nullable=False, unique=True)
    name = Column(String(100), nullable=False)
    weight = Column(Integer, nullable=False, default=0)
    enabled = Column(Boolean, nullable=False, default=True)
    description = Column(Text)

    def __str__(self):
        return self.name


class OutboxEvent(Model):
    """A case event for other systems, written in the event's own transaction; its `seq` is
    given after commit, in commit order, by the publisher (app/outbox.py), so a subscriber
    reading by cursor never skips an event committed late."""

    __tablename__ = "outbox_event"
    id = Column(Integer, primary_key=True)
    event_id = Column(Integer, ForeignKey("case_event.id", ondelete="CASCADE"), nullable=False,
                      unique=True)
    seq = Column(BigInteger, unique=True)
    event = relationship("CaseEvent")


class OutboxCursor(Model):
    """The last sequence number the publisher gave, taken with an atomic UPDATE."""

    __tablename__ = "outbox_cursor"
    name = Column(String(20), primary_key=True)
    last = Column(BigInteger, nullable=False, default=0)


class ApiClient(Model):
    """Another system calling the API (an upper-level platform, a hotline): it acts as a login
    of its own, whose roles are its rights and whose scope is its area; its secret is kept only
    as a hash, and a revoked or expired client is refused on its next request."""

    __tablename__ = "api_client"
    id = Column(Integer, primary_key=True)
    name = Column(String(80), nullable=False, unique=True)
    # The public half of the token (zz.<key>.<secret>), to find the client by.
    key = Column(String(24), nullable=False, unique=True)
    secret_hash = Column(String(64), nullable=False)  # SHA-256 of the secret
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False,
                     unique=True)
    rate_per_minute = Column(Integer, nullable=False, default=120)
    expires_at = Column(DateTime)
    revoked_at = Column(DateTime)
    created_at = Column(DateTime, nullable=False, default=now)
    user = relationship("User", foreign_keys=[user_id])
    __table_args__ = (CheckConstraint("rate_per_minute > 0", name="ck_api_client_rate"),)

    def __str__(self):
        return self.name


class ApiCall(Model):
    """One request an API client made: which client, what, when and how it was answered."""

    __tablename__ = "api_call"
    id = Column(Integer, primary_key=True)
    at = Column(DateTime, nullable=False, default=now, index=True)
    client_id = Column(Integer, ForeignKey("api_client.id", ondelete="CASCADE"), nullable=False,
                       index=True)
    method = Column(String(8), nullable=False)
    path = Column(String(200), nullable=False)
    status = Column(Integer, nullable=False)


class WebhookSubscription(Model):
    """An API client's address that is sent the case events of its scope, in feed order, one at
    a time: a receiver that fails holds its own queue (retried with growing waits) and nobody
    else's; `last_seq` is the last event it acknowledged."""

    __tablename__ = "webhook_subscription"
    id = Column(Integer, primary_key=True)
    client_id = Column(Integer, ForeignKey("api_client.id", ondelete="CASCADE"), nullable=False,
                       index=True)
    url = Column(String(500), nullable=False)
    secret = Column(String(64), nullable=False)  # the HMAC key: it must be kept to sign
    actions = Column(String(500))  # comma-separated event actions; empty: every event
    active = Column(Boolean, nullable=False, default=True)
    last_seq = Column(BigInteger, nullable=False, default=0)
    failures = Column(Integer, nullable=False, default=0)
    retry_at = Column(DateTime)
    last_error = Column(String(300))
    last_delivered_at = Column(DateTime)
    created_at = Column(DateTime, nullable=False, default=now)
    client = relationship("ApiClient")


class Notice(Model):
    """A message in a person's message centre: a deadline coming or reached, a returned
    referral, a poor rating; `key` names what it is about, so nobody is told twice."""

    __tablename__ = "notice"
    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False)
    kind = Column(String(16), nullable=False)
    key = Column(String(80), nullable=False)
    # The case it is about (none for a finished export).
    dispute_id = Column(Integer, ForeignKey("dispute.id", ondelete="CASCADE"), index=True)
    referral_id = Column(Integer, ForeignKey("referral.id", ondelete="CASCADE"), index=True)
    # A file made for the person in the background (an export), in the file storage.
    file_key = Column(String(80))
    file_name = Column(String(120))
    # The deadline warned about, and how long before it the warning went (0: reached).
    due = Column(DateTime)
    lead_minutes = Column(Integer)
    detail = Column(String(200))
    created_at = Column(DateTime, nullable=False, default=now)
    read_at = Column(DateTime)
    user = relationship("User")
    dispute = relationship("Dispute")
    referral = relationship("Referral")
    choice_columns = {"kind": choices.NOTICE_KIND}
    __table_args__ = (
        *choice_checks("notice", choice_columns),
        UniqueConstraint("user_id", "key", name="uq_notice_user_key"),
        # The unread count in the menu bar, and a person's messages newest first.
        Index("ix_notice_user_read", "user_id", "read_at"),
        Index("ix_notice_user_created", "user_id", "created_at"),
    )


class NoticeDelivery(Model):
    """A message sent on by text message or e-mail: once per message and channel, held while
    the person's quiet hours last, retried a few times when the gateway fails."""

    __tablename__ = "notice_delivery"
    id = Column(Integer, primary_key=True)
    notice_id = Column(Integer, ForeignKey("notice.id", ondelete="CASCADE"), nullable=False)
    channel = Column(String(8), nullable=False)
    address = Column(String(320), nullable=False)  # as long as an account's e-mail may be
    status = Column(String(8), nullable=False, default="pending")
    attempts = Column(Integer, nullable=False, default=0)
    send_after = Column(DateTime, nullable=False, default=now)
    sent_at = Column(DateTime)
    error = Column(String(300))
    notice = relationship("Notice")
    choice_columns = {"channel": choices.NOTICE_CHANNEL, "status": choices.DELIVERY_STATUS}
    __table_args__ = (
        *choice_checks("notice_delivery", choice_columns),
        UniqueConstraint("notice_id", "channel", name="uq_notice_delivery_channel"),
        Index("ix_notice_delivery_due", "status", "send_after"),
    )


class NoticePreference(Model):
    """How a person wants their messages besides the message centre, and when not."""

    __tablename__ = "notice_preference"
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True)
    by_sms = Column(Boolean, nullable=False, default=False)
    by_email = Column(Boolean, nullable=False, default=False)
    phone = Column(String(20))
    email = Column(String(120))
    # No text message or e-mail from quiet_from to quiet_to (across midnight when from > to).
    quiet_from = Column(Time)
    quiet_to = Column(Time)
    user = relationship("User")
    # Personal information: never in the audit trail in clear.
    personal_columns = {"phone": "phone", "email": "text"}


class JobRun(Model):
    """One run of a queued job as the worker saw it: running, done, failed (with the error) or
    cut short; what waits in the queue is read from the queue itself."""

    __tablename__ = "job_run"
    id = Column(Integer, primary_key=True)
    task_id = Column(String(64), nullable=False, unique=True)
    name = Column(String(80), nullable=False)
    status = Column(String(12), nullable=False)
    retries_left = Column(Integer)
    started_at = Column(DateTime, nullable=False, default=now)
    finished_at = Column(DateTime)
    error = Column(Text)
    result = Column(String(300))
    worker = Column(String(80))  # host:pid of the worker process that ran it
    choice_columns = {"status": choices.JOB_STATUS}
    __table_args__ = (
        *choice_checks("job_run", choice_columns),
        Index("ix_job_run_started", "started_at"),
        Index("ix_job_run_status", "status", "started_at"),
    )

    def __str__(self):
        return f"{self.name} {self.started_at or ''}"
