"""Spreadsheets in: regions, stationed units with their rota, staff, expert mediators and
historic cases, read from xlsx or CSV, previewed row by row (new, updated, unchanged or in
error, the reason beside the cell) and written only when confirmed, all in one transaction.

Rows are matched by natural keys (a region's code, a unit's department within its centre, a
staff member's phone or name within the centre, an expert's name within the centre, a case's
number), so importing the same file twice changes nothing. Every value is checked as the forms
check it; cells are read as values, never evaluated (a formula is text). A centre
administrator's rows must lie inside their own scope.
"""

import csv
import datetime
import decimal
import io
import re
import secrets
from dataclasses import dataclass, field

import openpyxl
import xlsxwriter
from flask import current_app
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import or_, select
from werkzeug.security import generate_password_hash

from app import attachments, choices, exports, models, personal, scope, workflow
from app.exporting import Computed


class Invalid(ValueError):
    """A cell that cannot be taken; the message says why, in the reader's language."""


class FileProblem(ValueError):
    """A file that cannot be read at all (type, encoding, header, size)."""


# --------------------------------------------------------------------------- reading cells

def _text(value):
    """A cell as text: numbers without a trailing .0 (codes and phones typed as numbers)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, datetime.date):
        return value.isoformat()
    text = str(value).strip()
    # Our own CSV exports mark formula-like text with an apostrophe: read it as typed.
    if text.startswith("'") and text[1:].startswith(exports.FORMULA_STARTS):
        text = text[1:]
    return text


def text(limit, required=False):
    """Text up to a length."""
    def parse(value, context):
        found = _text(value)
        if required and not found:
            raise Invalid(gettext("This cell is required."))
        if len(found) > limit:
            raise Invalid(gettext("At most %(n)d characters.", n=limit))
        return found or None
    parse.required = required
    return parse


def choice(options, required=True):
    """One of a set of coded values, by its label (村级) or its code (village)."""
    def parse(value, context):
        found = _text(value)
        if not found:
            if required:
                raise Invalid(gettext("This cell is required."))
            return None
        for code in options.codes:
            label = options.label_text(code)
            # A label of two names ("窗口工作人员 / 调解员") is matched by either.
            if found in (str(code), label, *(part.strip() for part in label.split("/"))):
                return code
        raise Invalid(gettext("Not one of: %(allowed)s.", allowed="、".join(
            options.label_text(code) for code in options.codes)))
    parse.required = required
    return parse


YES, NO = ("是", "yes", "y", "true", "1", "√"), ("否", "no", "n", "false", "0", "")
YES_NO = choices.Choices(("yes", _l("Yes")), ("no", _l("No")))  # the template's drop-down


def boolean(default=False):
    """是 or 否 (blank: the default)."""
    def parse(value, context):
        found = _text(value).lower()
        if found == "":
            return default
        if found in YES:
            return True
        if found in NO:
            return False
        raise Invalid(gettext("Write 是 or 否."))
    return parse


DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日")


def moment(required=False, with_time=True):
    """A date (and time): a spreadsheet date, or 2025-03-07 [14:30], 2025/3/7, 2025年3月7日."""
    def parse(value, context):
        if isinstance(value, datetime.datetime):
            found = value.replace(second=0, microsecond=0)
        elif isinstance(value, datetime.date):
            found = datetime.datetime.combine(value, datetime.time())
        else:
            raw = _text(value)
            if not raw:
                if required:
                    raise Invalid(gettext("This cell is required."))
                return None
            found = None
            day, _space, clock = raw.partition(" ")
            for pattern in DATE_FORMATS:
                try:
                    found = datetime.datetime.strptime(day, pattern)
                    break
                except ValueError:
                    continue
            if found is None:
                raise Invalid(gettext("Write a date as 2025-03-07%(time)s.",
                                      time=" 14:30" if with_time else ""))
            if clock:
                try:
                    hour, minute = (int(part) for part in clock.split(":")[:2])
                    found = found.replace(hour=hour, minute=minute)
                except ValueError as error:
                    raise Invalid(gettext("Write a time as 14:30.")) from error
        if found > models.now():
            raise Invalid(gettext("This time lies in the future."))
        return found if with_time else found.date()
    parse.required = required
    return parse


def count():
    """A whole number, zero or more (blank: none)."""
    def parse(value, context):
        found = _text(value)
        if not found:
            return None
        if not re.fullmatch(r"\d{1,9}", found):
            raise Invalid(gettext("Write a whole number, 0 or more."))
        return int(found)
    return parse


def amount():
    """A sum of money, 0 or more, at most two decimals (blank: none)."""
    def parse(value, context):
        found = _text(value).replace(",", "")
        if not found:
            return None
        try:
            number = decimal.Decimal(found)
        except decimal.InvalidOperation as error:
            raise Invalid(gettext("Write an amount such as 78000 or 78000.50.")) from error
        if not number.is_finite() or number < 0 or number > decimal.Decimal("999999999999"):
            raise Invalid(gettext("Write an amount such as 78000 or 78000.50."))
        return number.quantize(decimal.Decimal("0.01"))
    return parse


@dataclass(frozen=True)
class Masked:
    """A personal value as a masked export shows it (6527**********1234): it leaves the stored
    value as it is when it masks to the same, and is refused where there is none."""

    kind: str
    text: str

    def matches(self, current):
        """True when the stored value masks to this."""
        return bool(current) and personal.mask(self.kind, str(current)) == self.text


def id_number():
    """A resident ID number, checked as the forms check it (GB 11643 check digit)."""
    def parse(value, context):
        found = personal.normalise_number(_text(value))
        if not found:
            return None
        if "*" in found:
            return Masked("id", found)
        problem = personal.id_number_problem(found)
        if problem:
            raise Invalid(str(problem))
        return found
    return parse


def phone():
    """A phone number, checked as the forms check it."""
    def parse(value, context):
        found = _text(value)
        if not found:
            return None
        if "*" in found:
            return Masked("phone", found)
        problem = personal.phone_problem(found)
        if problem:
            raise Invalid(str(problem))
        return found
    return parse


def row_of(model, *columns, required=True, within_scope=False):
    """A row of another table named by one of its columns (a centre by name or short name, a
    department by name or code…); a centre outside the importer's scope is refused."""
    def parse(value, context):
        found = _text(value)
        if not found:
            if required:
                raise Invalid(gettext("This cell is required."))
            return None
        key = (model, found)
        if key not in context.lookups:
            session = context.session
            conditions = [getattr(model, column) == found for column in columns]
            context.lookups[key] = session.scalars(
                select(model).where(or_(*conditions)).limit(2)).all()
        rows = context.lookups[key]
        if not rows:
            raise Invalid(gettext("No such %(thing)s: %(name)s.", thing=context.noun(model),
                                  name=found))
        if len(rows) > 1:
            raise Invalid(gettext("%(name)s names more than one %(thing)s.", name=found,
                                  thing=context.noun(model)))
        if within_scope:
            allowed = context.lookups.get((model, rows[0].id, "writable"))
            if allowed is None:
                allowed = context.lookups[model, rows[0].id, "writable"] = scope.visible(
                    model, rows[0].id, context.scope, write=True)
            if not allowed:
                raise Invalid(gettext("%(name)s lies outside your scope.", name=found))
        return rows[0]
    parse.required = required
    return parse


def rows_of(model, column):
    """Several rows of another table by name, separated by 、 , ; (languages, specialties)."""
    def parse(value, context):
        names = [n.strip() for n in re.split(r"[、,，;；/]", _text(value)) if n.strip()]
        found = []
        for name in names:
            row = context.session.scalar(select(model).where(getattr(model, column) == name))
            if row is None:
                raise Invalid(gettext("No such %(thing)s: %(name)s.", thing=context.noun(model),
                                      name=name))
            found.append(row)
        return found
    return parse


def weekdays():
    """Weekdays a rotating unit sits, such as 周一、周三."""
    def parse(value, context):
        names = [n.strip() for n in re.split(r"[、,，;；/ ]", _text(value)) if n.strip()]
        found = set()
        for name in names:
            for code in choices.WEEKDAY.codes:
                if name in (str(code), choices.WEEKDAY.label_text(code)):
                    found.add(code)
                    break
            else:
                raise Invalid(gettext("Not one of: %(allowed)s.", allowed="、".join(
                    choices.WEEKDAY.label_text(c) for c in choices.WEEKDAY.codes)))
        return sorted(found)
    return parse


# --------------------------------------------------------------------------- kinds

@dataclass(frozen=True)
class Field:
    """One column of an import file: its header, where its value goes, how it is read, and
    whether a file must have the column (the key and the values a new row cannot lack; other
    columns may be left out, and are then neither read nor changed)."""

    header: object
    name: str
    parse: object
    example: str = ""
    options: object = None  # a Choices set for the template's drop-down
    needed: bool = False


@dataclass
class Row:
    """One row of a file as the preview shows it."""

    number: int
    cells: dict
    values: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    status: str = ""  # new, updated, unchanged, error
    item: object = None
    messages: list = field(default_factory=list)


class Kind:
    """What one kind of import reads, how it finds an existing row and how it writes one."""

    code = ""
    label = ""
    model = None
    fields = ()

    def find(self, context, values):
        """The existing record these values name, or None."""
        raise NotImplementedError

    def prepare(self, context, table):
        """Read ahead what every row's lookups will ask for (a kind with many rows)."""

    def changes(self, item, values):
        """The names of the values that differ from the record's."""
        found = []
        for name, value in values.items():
            current = getattr(item, name, None)
            if isinstance(value, Masked):
                if not value.matches(current):
                    raise Invalid({name: gettext("A masked value can only stand for the one "
                                                 "already stored: write it in full.")})
            elif isinstance(value, list):
                if {id(v) for v in value} != {id(v) for v in (current or [])}:
                    found.append(name)
            elif current != value:
                found.append(name)
        return found

    def write(self, context, item, values):
        """Put the values on a record (a new one when item is None); returns the record."""
        item = item if item is not None else self.model()
        for name, value in values.items():
            if isinstance(value, Masked):
                continue  # the stored value it stands for stays
            setattr(item, name, value)
        if item.id is None:
            context.session.add(item)
        return item

    def check(self, context, values):
        """Refuse, with Invalid({header: message}), values that do not go together."""

    def shown(self, item, name):
        """A field's value of a record as the file writes it (what an export holds, so that
        exporting and importing again changes nothing)."""
        value = getattr(item, name, None)
        options = next((f.options for f in self.fields if f.name == name), None)
        if value is None:
            return ""
        kind = getattr(self.model, "personal_columns", {}).get(name)
        if kind is not None and not personal.can_view():
            return personal.mask(kind, str(value))
        if isinstance(value, bool):
            return gettext("Yes") if value else gettext("No")
        if options is not None:
            return options.label_text(value)
        if isinstance(value, list):
            return "、".join(getattr(v, "name", str(v)) for v in value)
        if isinstance(value, models.Centre):
            return value.short_name
        if isinstance(value, (models.Department, models.Category)):
            return value.name
        if isinstance(value, datetime.datetime):
            return f"{value:%Y-%m-%d %H:%M}"
        if isinstance(value, datetime.date):
            return value.isoformat()
        return str(value)

    def one_of(self, namesakes, values):
        """The record a row names among namesakes (people of one name at one centre): the
        only one, or the one the row describes exactly; else the row must say which."""
        if len(namesakes) <= 1:
            return namesakes[0] if namesakes else None
        for candidate in namesakes:
            if not self.changes(candidate, values):
                return candidate
        raise Invalid({"phone": gettext("Several people here are called %(name)s: give the "
                                        "phone to say which.", name=values["name"])})

    def finish(self, context):
        """Anything the written rows need once at the end."""

    def new_row_problems(self, values):
        """{field: message} for values a new record cannot take (masked personal data)."""
        return {name: gettext("A masked value cannot be imported as a new record: write it "
                              "in full.") for name, value in values.items()
                if isinstance(value, Masked)}


class RegionKind(Kind):
    code, label, model = "region", _l("Administrative divisions"), models.Region
    fields = (
        Field(_l("Division code"), "code", text(12, required=True), "652701101", needed=True),
        Field(_l("Name"), "name", text(100, required=True), "小营盘镇", needed=True),
        Field(_l("Level"), "level", choice(choices.REGION_LEVEL), "乡镇",
              choices.REGION_LEVEL, needed=True),
        Field(_l("Parent division code"), "parent_code", text(12), "652701", needed=True),
    )

    def find(self, context, values):
        return context.session.scalar(select(models.Region).filter_by(code=values["code"]))

    def check(self, context, values):
        if not re.fullmatch(r"\d{6,12}", values["code"] or ""):
            raise Invalid({"code": gettext("A division code is 6 to 12 digits.")})
        parent = None
        if values.get("parent_code"):
            parent = context.pending.get(("region", values["parent_code"])) or \
                context.session.scalar(select(models.Region).filter_by(
                    code=values["parent_code"]))
            if parent is None:
                raise Invalid({"parent_code": gettext(
                    "No division has the code %(code)s (in the database or above in this "
                    "file).", code=values["parent_code"])})
        elif values["level"] != "region":
            raise Invalid({"parent_code": gettext("Only the whole region may be without a "
                                                  "parent: give the parent's code.")})
        path = parent.path if parent is not None else ""
        if not context.scope.whole and not (path + values["code"] + "/").startswith(
                context.scope.path or "\0"):
            raise Invalid({"code": gettext("%(name)s lies outside your scope.",
                                           name=values["name"])})
        existing = context.session.scalar(select(models.Region).filter_by(code=values["code"]))
        if existing is not None and not context.scope.whole and not existing.path.startswith(
                context.scope.path or "\0"):
            raise Invalid({"code": gettext("%(name)s lies outside your scope.",
                                           name=existing.name)})
        values["parent"] = parent
        context.pending[("region", values["code"])] = _PendingRegion(path + values["code"] + "/")

    def shown(self, item, name):
        if name == "parent_code":
            return item.parent.code if item.parent is not None else ""
        return super().shown(item, name)

    def changes(self, item, values):
        found = [n for n in ("name", "level") if getattr(item, n) != values[n]]
        if (item.parent.code if item.parent is not None else None) != values.get("parent_code"):
            found.append("parent_code")
        return found

    def write(self, context, item, values):
        item = item if item is not None else models.Region(code=values["code"])
        item.name, item.level = values["name"], values["level"]
        parent = values["parent"]
        if isinstance(parent, _PendingRegion):
            parent = context.session.scalar(select(models.Region).filter_by(code=parent.code))
        item.parent = parent
        if item.id is None:
            context.session.add(item)
        context.session.flush()  # the next rows may name it as their parent
        return item


@dataclass
class _PendingRegion:
    """A division this file adds above the current row (not written yet in a preview)."""

    path: str

    @property
    def code(self):
        return self.path.rstrip("/").rsplit("/", 1)[-1]


class UnitKind(Kind):
    code, label, model = "unit", _l("Stationed units"), models.StationedUnit
    fields = (
        Field(_l("Centre"), "centre", row_of(models.Centre, "name", "short_name",
                                             within_scope=True), "博乐市", needed=True),
        Field(_l("Department"), "department", row_of(models.Department, "name", "code"),
              "人民法院", needed=True),
        Field(_l("Mode"), "mode", choice(choices.UNIT_MODE), "轮驻", choices.UNIT_MODE,
              needed=True),
        Field(_l("Window"), "window", text(50), "3号窗口"),
        Field(_l("Contact phone"), "contact_phone", phone(), "0909-2222222"),
        Field(_l("Staff count"), "staff_count", count(), "2"),
        Field(_l("Stationed since"), "stationed_since", moment(with_time=False), "2025-01-01"),
        Field(_l("Rota weekdays"), "weekdays", weekdays(), "周一、周三"),
        Field(_l("Active"), "active", boolean(default=True), "是", YES_NO),
    )

    def find(self, context, values):
        return context.session.scalar(select(models.StationedUnit).where(
            models.StationedUnit.centre_id == values["centre"].id,
            models.StationedUnit.department_id == values["department"].id))

    def shown(self, item, name):
        if name == "weekdays":
            return "、".join(choices.WEEKDAY.label_text(slot.weekday) for slot in item.rota)
        return super().shown(item, name)

    def changes(self, item, values):
        days = values.get("weekdays")
        found = super().changes(item, {n: v for n, v in values.items() if n != "weekdays"})
        if days is not None and sorted(slot.weekday for slot in item.rota) != days:
            found.append("weekdays")
        return found

    def write(self, context, item, values):
        days = values.pop("weekdays", None)
        item = super().write(context, item, values)
        if days is not None:
            kept = {slot.weekday: slot for slot in item.rota}
            item.rota = [kept.get(day) or models.RotaSlot(weekday=day) for day in days]
        return item


# The roles a login made by a staff import may get (those a centre administrator gives).
LOGIN_ROLES = choices.Choices(("staff", _l("Window staff / mediator")),
                              ("unit_liaison", _l("Unit liaison")))
LOGIN_NAME = re.compile(r"[A-Za-z0-9_.@-]{3,64}")


def _initial_password():
    """A one-time password that meets the policy (changed at the first sign-in)."""
    alphabet = "ABCDEFGHJKMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789"
    return "Zz#" + "".join(secrets.choice(alphabet) for _ in range(12)) + "7a"


class StaffKind(Kind):
    code, label, model = "staff", _l("Staff"), models.Staff
    fields = (
        Field(_l("Person's name"), "name", text(50, required=True), "董秀君", needed=True),
        Field(_l("Centre"), "centre", row_of(models.Centre, "name", "short_name",
                                             within_scope=True), "博乐市", needed=True),
        Field(_l("Department"), "department", row_of(models.Department, "name", "code",
                                                     required=False), "人民法院"),
        Field(_l("Position"), "position", text(50), "立案窗口"),
        Field(_l("Phone"), "phone", phone(), "13800000000"),
        Field(_l("Mediator"), "is_mediator", boolean(), "是", YES_NO),
        Field(_l("Login account"), "login", text(64), "dongxj"),
        Field(_l("Role"), "role", choice(LOGIN_ROLES, required=False), "窗口工作人员",
              LOGIN_ROLES),
        Field(_l("Languages"), "languages", rows_of(models.Language, "name"), "国家通用语言"),
        Field(_l("Active"), "active", boolean(default=True), "是", YES_NO),
    )

    def shown(self, item, name):
        if name == "department":
            return item.unit.department.name if item.unit is not None else ""
        if name == "login":
            return item.user.username if item.user is not None else ""
        return super().shown(item, name)

    def check(self, context, values):
        if "department" not in values:
            department = False
        else:
            department = values.pop("department")
            values["unit"] = None
        if department:
            values["unit"] = context.session.scalar(select(models.StationedUnit).where(
                models.StationedUnit.centre_id == values["centre"].id,
                models.StationedUnit.department_id == department.id))
            if values["unit"] is None:
                raise Invalid({"department": gettext(
                    "%(department)s is not stationed at %(centre)s.", department=department.name,
                    centre=values["centre"].short_name)})
        login = values.pop("login", None)
        role = values.pop("role", None)
        if login is not None or "login" in context.columns:
            values["user"] = None
        if login:
            user = context.session.scalar(select(User).filter_by(username=login))
            if user is None:
                # A new login for this person, with the role given and the centre's scope.
                if not LOGIN_NAME.fullmatch(login):
                    raise Invalid({"login": gettext(
                        "A login name is 3 to 64 letters, digits or . _ - @.")})
                if role == "unit_liaison" and values.get("unit") is None:
                    raise Invalid({"role": gettext("A unit liaison needs the department the "
                                                   "person works for.")})
                if ("login", login) in context.pending:
                    raise Invalid({"login": gettext("This login is on an earlier row too.")})
                context.pending["login", login] = True
                values["new_login"] = (login, role or "staff")
            elif not scope.visible(User, user.id, context.scope):
                raise Invalid({"login": gettext("No login %(name)s among those you manage.",
                                                name=login)})
            else:
                values["user"] = user

    def changes(self, item, values):
        found = super().changes(item, {n: v for n, v in values.items() if n != "new_login"})
        return found + (["user"] if values.get("new_login") else [])

    def write(self, context, item, values):
        new_login = values.pop("new_login", None)
        item = super().write(context, item, values)
        if new_login is not None:
            item.user = self._login(context, item, *new_login)
        return item

    @staticmethod
    def _login(context, staff, login, role_name):
        """A new login for a staff member, in the import's transaction: the role, the scope of
        the centre (or the unit, for a liaison), a one-time password changed at first sign-in
        (shown once on the result page)."""
        sm = current_app.appbuilder.sm
        password = _initial_password()
        method = current_app.config.get("FAB_PASSWORD_HASH_METHOD") or "scrypt"
        user = User(first_name=staff.name, last_name="", username=login,
                    email=f"{login}@users.zongzhi.local", active=True,
                    roles=[sm.find_role(role_name)],
                    password=generate_password_hash(
                        password, method=method,
                        salt_length=current_app.config.get("FAB_PASSWORD_HASH_SALT_LENGTH", 16)))
        context.session.add(user)
        context.session.flush()
        context.session.add(models.UserScope(
            user_id=user.id, region_id=staff.centre.region_id,
            unit_id=staff.unit.id if role_name == "unit_liaison" and staff.unit else None))
        state = context.session.get(models.AccountState, login) or models.AccountState(
            username=login, failures=0)
        state.must_change_password = True
        context.session.add(state)
        context.created_logins.append((staff.name, login, password))
        return user

    def find(self, context, values):
        staff = models.Staff
        if values.get("phone") and not isinstance(values["phone"], Masked):
            found = context.session.scalar(select(staff).where(
                staff.centre_id == values["centre"].id, staff.phone == values["phone"]))
            if found is not None:
                return found
        return self.one_of(context.session.scalars(select(staff).where(
            staff.centre_id == values["centre"].id, staff.name == values["name"])).all(),
            values)


class ExpertKind(Kind):
    code, label, model = "expert", _l("Expert mediators"), models.Expert
    fields = (
        Field(_l("Person's name"), "name", text(50, required=True), "王建国", needed=True),
        Field(_l("Centre"), "centre", row_of(models.Centre, "name", "short_name",
                                             required=False, within_scope=True), "博乐市",
              needed=True),
        Field(_l("Region code"), "region_code", text(12, required=True), "652701",
              needed=True),
        Field(_l("Organisation"), "organisation", text(100), "博乐市律师协会"),
        Field(_l("Title"), "title", text(50), "律师"),
        Field(_l("Phone"), "phone", phone(), "13900000000"),
        Field(_l("Specialties"), "specialties", rows_of(models.Category, "name"),
              "民间借贷、婚姻家庭"),
        Field(_l("Languages"), "languages", rows_of(models.Language, "name"), "国家通用语言"),
        Field(_l("By appointment"), "books_appointment", boolean(default=True), "是", YES_NO),
        Field(_l("On call"), "books_on_call", boolean(), "否", YES_NO),
        Field(_l("By video"), "books_video", boolean(), "否", YES_NO),
        Field(_l("Active"), "active", boolean(default=True), "是", YES_NO),
    )

    def shown(self, item, name):
        if name == "region_code":
            return item.region.code if item.region is not None else ""
        return super().shown(item, name)

    def check(self, context, values):
        code = values.pop("region_code")
        region = context.session.scalar(select(models.Region).filter_by(code=code))
        if region is None:
            raise Invalid({"region_code": gettext("No division has the code %(code)s.",
                                                  code=code)})
        if not context.scope.whole and not region.path.startswith(context.scope.path or "\0"):
            raise Invalid({"region_code": gettext("%(name)s lies outside your scope.",
                                                  name=region.name)})
        values["region"] = region

    def find(self, context, values):
        expert = models.Expert
        centre = values.get("centre")
        return self.one_of(context.session.scalars(select(expert).where(
            expert.name == values["name"],
            expert.centre_id == centre.id if centre is not None else expert.centre_id.is_(None),
            expert.region_id == values["region"].id)).all(), values)


def _to_minute(value):
    """Times compared to the minute (what a file holds)."""
    if isinstance(value, datetime.datetime):
        return value.replace(second=0, microsecond=0)
    return value


class CaseKind(Kind):
    code, label, model = "case", _l("Historic cases"), models.Dispute
    PARTY_FIELDS = ("applicant_name", "applicant_id_number", "applicant_phone",
                    "respondent_name", "respondent_id_number", "respondent_phone")
    fields = (
        Field(_l("Case number"), "case_no", text(32, required=True), "652701-2024-00012",
              needed=True),
        Field(_l("Centre"), "centre", row_of(models.Centre, "name", "short_name",
                                             within_scope=True), "博乐市", needed=True),
        Field(_l("Category"), "category", row_of(models.Category, "name", "code"), "民间借贷",
              needed=True),
        Field(_l("Title"), "title", text(200, required=True), "刘某英诉张某民间借贷纠纷",
              needed=True),
        Field(_l("Description"), "description", text(5000), "借款七万八千元到期未还"),
        Field(_l("Amount"), "amount", amount(), "78000"),
        Field(_l("Source"), "source", choice(choices.DISPUTE_SOURCE), "窗口来访",
              choices.DISPUTE_SOURCE, needed=True),
        Field(_l("Level"), "level", choice(choices.HANDLING_LEVEL), "县级",
              choices.HANDLING_LEVEL, needed=True),
        Field(_l("Registered at"), "registered_at", moment(required=True), "2024-03-07 09:30",
              needed=True),
        Field(_l("Accepted at"), "accepted_at", moment(), "2024-03-07 10:00"),
        Field(_l("Concluded at"), "concluded_at", moment(), "2024-03-10 12:00"),
        Field(_l("Outcome"), "outcome", choice(choices.OUTCOME, required=False), "调解成功",
              choices.OUTCOME),
        Field(_l("Resolved level"), "resolved_level",
              choice(choices.HANDLING_LEVEL, required=False), "县级", choices.HANDLING_LEVEL),
        Field(_l("Applicant"), "applicant_name", text(50, required=True), "刘某英"),
        Field(_l("Applicant ID number"), "applicant_id_number", id_number(), ""),
        Field(_l("Applicant phone"), "applicant_phone", phone(), ""),
        Field(_l("Respondent"), "respondent_name", text(50), "张某"),
        Field(_l("Respondent ID number"), "respondent_id_number", id_number(), ""),
        Field(_l("Respondent phone"), "respondent_phone", phone(), ""),
    )

    def check(self, context, values):
        registered, accepted, concluded = (values.get(n) for n in (
            "registered_at", "accepted_at", "concluded_at"))
        if accepted is not None and accepted < registered:
            raise Invalid({"accepted_at": gettext("Earlier than the registration.")})
        if concluded is not None and concluded < registered:
            raise Invalid({"concluded_at": gettext("Earlier than the registration.")})
        if (concluded is None) != (values.get("outcome") is None):
            raise Invalid({"outcome": gettext("A concluded case needs both its conclusion time "
                                              "and its outcome.")})
        if values.get("outcome") == "resolved" and not values.get("resolved_level"):
            raise Invalid({"resolved_level": gettext("Say at which level the dispute was "
                                                     "resolved.")})
        if values.get("outcome") != "resolved":
            values["resolved_level"] = None
        if ("case", values["case_no"]) in context.pending:
            raise Invalid({"case_no": gettext("This case number is on an earlier row too.")})
        context.pending[("case", values["case_no"])] = True

    def prepare(self, context, table):
        """The cases already here among the file's numbers, in a few queries."""
        numbers = sorted({str(cells.get("case_no") or "").strip() for _n, cells in table})
        found = context.lookups["case_no"] = {}
        for start in range(0, len(numbers), 500):
            for case in context.session.scalars(select(models.Dispute).where(
                    models.Dispute.case_no.in_(numbers[start:start + 500]))):
                found[case.case_no] = case

    def find(self, context, values):
        return context.lookups["case_no"].get(values["case_no"])

    def changes(self, item, values):
        found = [n for n, v in values.items()
                 if n not in self.PARTY_FIELDS and n != "description"
                 and _to_minute(getattr(item, n)) != _to_minute(v)]
        if found:  # a case already here is changed by its steps, never by a file
            raise Invalid({"case_no": gettext(
                "A case with this number is already here with other details; cases are "
                "changed by their steps, not by import.")})
        return []

    def write(self, context, item, values):
        parties = {name: values.pop(name, None) for name in self.PARTY_FIELDS}
        values["description"] = values.get("description") or values["title"]
        case = models.Dispute(risk="low", **values)
        for role in ("applicant", "respondent"):
            if parties[f"{role}_name"]:
                case.parties.append(models.Party(
                    role=role, name=parties[f"{role}_name"],
                    id_number=parties[f"{role}_id_number"], phone=parties[f"{role}_phone"]))
        context.session.add(case)
        workflow.take_in(context.session, case, context.actor, note=gettext(
            "Imported from %(file)s", file=context.file_name), count_past=False)
        context.pending.setdefault("numbers", {}).setdefault(case.centre, []).append(
            case.case_no)
        return case

    def finish(self, context):
        """Move each centre's counters past the numbers imported (once per centre)."""
        for centre, numbers in context.pending.get("numbers", {}).items():
            workflow.count_past_numbers(context.session, centre, numbers)



def export_columns(code):
    """A list's export columns as the kind's import file has them, so that a file exported
    and imported again changes nothing."""
    kind = KINDS[code]
    return [Computed(f.name, f.header, lambda item, kind=kind, name=f.name:
                     kind.shown(item, name)) for f in kind.fields]


KINDS = {kind.code: kind for kind in (RegionKind(), UnitKind(), StaffKind(), ExpertKind(),
                                      CaseKind())}


# --------------------------------------------------------------------------- files

@dataclass
class Context:
    """What one import knows: the session, who imports, within which scope."""

    session: object
    scope: object
    actor: object = None
    file_name: str = ""
    lookups: dict = field(default_factory=dict)
    pending: dict = field(default_factory=dict)
    columns: tuple = ()  # the fields the file has columns for
    created_logins: list = field(default_factory=list)  # (name, login, one-time password)

    @staticmethod
    def noun(model):
        """A table's name in words."""
        return {models.Centre: gettext("centre"), models.Department: gettext("department"),
                models.Category: gettext("dispute category"),
                models.Language: gettext("language")}.get(model, model.__tablename__)


def read_table(name, data, kind, max_rows):
    """[(row number, {field name: cell})] of a file, below its header row (the first row whose
    cells hold every header of the kind; title lines above it are skipped)."""
    try:
        return _read_table(name, data, kind, max_rows)
    except FileProblem:
        raise
    except Exception as error:  # noqa: BLE001 (a broken file fails in many ways, all the same)
        raise FileProblem(gettext("The file cannot be read: save it again as .xlsx or as "
                                  "UTF-8 CSV and upload it again.")) from error


def _read_table(name, data, kind, max_rows):
    """read_table's work."""
    lower = name.lower()
    if lower.endswith(".xlsx"):
        try:
            attachments._check_zip(io.BytesIO(data))
        except attachments.Refused as problem:
            raise FileProblem(str(problem)) from problem
        try:
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
        except Exception as error:  # a broken or renamed file: openpyxl raises many kinds
            raise FileProblem(gettext("The file is not a readable Excel workbook (.xlsx).")) \
                from error
        sheet = book.worksheets[0]
        lines = ([c for c in row] for row in sheet.iter_rows(values_only=True))
    elif lower.endswith(".csv"):
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                decoded = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise FileProblem(gettext("The CSV file is neither UTF-8 nor GB18030 text."))
        lines = csv.reader(io.StringIO(decoded))
    else:
        raise FileProblem(gettext("Upload an Excel (.xlsx) or CSV (.csv) file."))
    headers = {str(f.header): f.name for f in kind.fields}
    needed = {str(f.header) for f in kind.fields if f.needed}
    positions, found = None, []
    for number, line in enumerate(lines, 1):
        cells = [_text(c) if not isinstance(c, (datetime.date, datetime.datetime)) else c
                 for c in line]
        if positions is None:
            named = {str(c).strip(): i for i, c in enumerate(cells) if str(c).strip() in headers}
            if needed <= set(named):
                positions = {headers[h]: i for h, i in named.items()}
            elif number > 20:
                break
            continue
        if not any(str(c).strip() for c in cells if c is not None):
            continue
        if len(found) >= max_rows:
            raise FileProblem(gettext("The file has more than %(n)d rows: split it.",
                                      n=max_rows))
        found.append((number, {n: (cells[i] if i < len(cells) else "")
                               for n, i in positions.items()}))
    if positions is None:
        raise FileProblem(gettext("No header row with the columns %(columns)s was found.",
                                  columns="、".join(h for h in headers if h in needed)))
    return found


def preview(context, kind, table, progress=None):
    """Each row read and checked against the database: new, updated, unchanged or error
    (progress(1) after each row, for a progress bar)."""
    results = []
    labels = {f.name: str(f.header) for f in kind.fields}
    with context.session.no_autoflush:
        kind.prepare(context, table)
        for number, cells in table:
            row = Row(number, cells)
            context.columns = tuple(cells)
            for f in kind.fields:
                if f.name not in cells:
                    continue
                try:
                    row.values[f.name] = f.parse(cells.get(f.name), context)
                except Invalid as problem:
                    row.errors[f.name] = str(problem)
            if not row.errors:
                try:
                    kind.check(context, row.values)
                    row.item = kind.find(context, row.values)
                    if row.item is None:
                        missing = {f.name: gettext("A new record needs this column.")
                                   for f in kind.fields if f.name not in cells
                                   and getattr(f.parse, "required", False)}
                        row.errors.update(missing)
                        row.errors.update(kind.new_row_problems(row.values))
                        row.status = "new"
                    else:
                        row.status = "updated" if kind.changes(row.item, row.values) \
                            else "unchanged"
                except Invalid as problem:
                    detail = problem.args[0]
                    row.errors.update(detail if isinstance(detail, dict) else {"": str(detail)})
            if row.errors:
                row.status = "error"
                row.messages = [gettext("Row %(row)d %(column)s: %(message)s", row=number,
                                        column=labels.get(name, ""), message=message)
                                for name, message in row.errors.items()]
            results.append(row)
            if progress is not None:
                progress(1)
    return results


def counts(results):
    """{status: rows} of a preview."""
    found = {"new": 0, "updated": 0, "unchanged": 0, "error": 0}
    for row in results:
        found[row.status] += 1
    return found


def write(context, kind, results):
    """Write the new and updated rows (the caller commits: all or nothing)."""
    written = 0
    for row in results:
        if row.status in ("new", "updated"):
            kind.write(context, row.item, dict(row.values))
            written += 1
    kind.finish(context)
    context.session.flush()
    return written


def template(kind):
    """An xlsx template for a kind: the header row, an example row, a sheet of the allowed
    values, and drop-downs on the coded columns."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet(str(kind.label)[:31])
    allowed = book.add_worksheet(gettext("Allowed values")[:31])
    bold = book.add_format({"bold": True, "bg_color": "#E3EBF4", "border": 1})
    text_format = book.add_format({"num_format": "@"})
    for index, f in enumerate(kind.fields):
        sheet.write_string(0, index, str(f.header), bold)
        sheet.set_column(index, index, max(12, 2 * len(str(f.header)) + 4), text_format)
        if f.example:
            sheet.write_string(1, index, f.example)
        if f.options is not None:
            labels = [f.options.label_text(code) for code in f.options.codes]
            allowed.write_string(0, index, str(f.header), bold)
            for offset, label in enumerate(labels, 1):
                allowed.write_string(offset, index, label)
            column = xlsxwriter.utility.xl_col_to_name(index)
            sheet.data_validation(1, index, 10000, index, {
                "validate": "list",
                "source": f"='{allowed.get_name()}'!${column}$2:${column}${len(labels) + 1}",
                "error_message": gettext("Choose from the list."),
            })
    book.close()
    return out.getvalue()

