"""Personal data rules: resident ID numbers (GB 11643) and phone numbers, validated and masked."""

import datetime
import re
import unicodedata

from flask import current_app, has_request_context, url_for
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from wtforms import StringField
from wtforms.validators import ValidationError

from app import clock

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
ID_PATTERN = re.compile(r"^[0-9]{17}[0-9X]$")
MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
# Area code 010, 02x or 0xxx, a dash optional, then a 7 or 8 digit local number.
LANDLINE = re.compile(r"^(0(?:10|2[0-9]|[3-9][0-9]{2}))-?([2-9][0-9]{6,7})$")

# Permission names (on the "PersonalData" pseudo-view) that the roles may hold.
VIEW_NAME = "PersonalData"
CAN_VIEW = "can_view"
CAN_REVEAL = "can_reveal"


def id_check_digit(body17):
    """The check character of an 18-character resident ID number, from its first 17 digits."""
    total = sum(int(digit) * weight for digit, weight in zip(body17, ID_WEIGHTS))
    return ID_CHECK[total % 11]


def complete_id_number(body17):
    """A full ID number from its first 17 digits."""
    return body17 + id_check_digit(body17)


def normalise_number(value):
    """An ID or phone number as stored and searched: any Unicode digit (full-width ０-９,
    Arabic-Indic…) as its ASCII digit, the full-width Ｘ and － as X and -, spaces removed."""
    out = []
    for char in value or "":
        if char.isspace():
            continue
        if unicodedata.category(char) == "Nd":
            out.append(str(unicodedata.digit(char)))
        else:
            out.append({"Ｘ": "X", "ｘ": "X", "－": "-", "—": "-"}.get(char, char))
    return "".join(out)


def id_number_problem(value):
    """Why a resident ID number is invalid, or None when it is valid."""
    value = normalise_number(value).upper()
    if len(value) != 18 or not ID_PATTERN.match(value):
        return _l("An ID number has 18 characters: 17 digits and a digit or X.")
    try:
        born = datetime.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return _l("The birth date in this ID number does not exist.")
    if born < datetime.date(1900, 1, 1) or born > clock.today():
        return _l("The birth date in this ID number is not plausible.")
    if id_check_digit(value[:17]) != value[17]:
        return _l("The check digit of this ID number is wrong; please check the number.")
    return None


def phone_problem(value):
    """Why a phone number is invalid, or None: an 11-digit mobile, or a landline with area code."""
    value = normalise_number(value)
    if MOBILE.match(value) or LANDLINE.match(value):
        return None
    return _l("Enter an 11-digit mobile number or a landline with its area code, such as 0909-2345678.")


class IdNumber:
    """WTForms validator for resident ID numbers."""

    def __call__(self, form, field):
        if field.data:
            field.data = normalise_number(field.data).upper()
            problem = id_number_problem(field.data)
            if problem:
                raise ValidationError(str(problem))


class Phone:
    """WTForms validator for phone numbers."""

    def __call__(self, form, field):
        if field.data:
            field.data = normalise_number(field.data)
            problem = phone_problem(field.data)
            if problem:
                raise ValidationError(str(problem))


def mask(kind, value):
    """A value with its identifying middle hidden: 6501**********1234, 138****5678."""
    if not value:
        return ""
    if kind == "id":
        return value[:4] + "*" * (len(value) - 8) + value[-4:] if len(value) > 8 else "*" * len(value)
    if kind == "phone":
        digits = re.sub(r"\D", "", value)
        if MOBILE.match(digits):
            return digits[:3] + "****" + digits[-4:]
        return value[:4] + "****" + value[-2:] if len(value) > 6 else "*" * len(value)
    # Addresses and other text: keep the first few characters.
    return value[:6] + "****" if len(value) > 6 else value[:1] + "****"


def _has(permission):
    """True when the signed-in user's roles grant a personal-data permission."""
    if not has_request_context():
        return False

    return current_app.appbuilder.sm.has_access(permission, VIEW_NAME)


def can_view():
    """May the user see personal data unmasked without asking?"""
    return _has(CAN_VIEW)


def can_reveal():
    """May the user reveal one masked value at a time (each reveal is audited)?"""
    return _has(CAN_REVEAL)


def shown(item, column):
    """A personal value as this user may see it: in full, or masked with a reveal button."""
    kind = type(item).personal_columns[column]
    value = getattr(item, column)
    if not value:
        return ""
    if can_view():
        return value
    masked = escape(mask(kind, value))
    if not can_reveal() or item.id is None:
        return masked
    url = url_for("PersonalDataView.reveal", model=type(item).__tablename__, pk=item.id,
                  column=column)
    label = escape(_l("Reveal"))
    return Markup(f'<span class="zz-masked">{masked}</span> '
                  f'<button type="button" class="btn btn-link btn-xs zz-reveal" '
                  f'data-url="{escape(url)}">{label}</button>')


class PersonalDataField(StringField):
    """An input that never echoes a stored personal value; left blank, the stored value stays."""

    def __init__(self, label=None, validators=None, kind="id", **kwargs):
        super().__init__(label, validators, **kwargs)
        self.kind = kind
        self.stored_mask = ""

    def process_data(self, value):
        """Remember only the masked form of the stored value."""
        self.stored_mask = mask(self.kind, value) if value else ""
        self.data = ""

    def _value(self):
        """Render what was typed, never what was stored."""
        return self.raw_data[0] if self.raw_data else ""

    def __call__(self, **kwargs):
        if self.stored_mask:
            keep = _l("leave blank to keep")
            kwargs.setdefault("placeholder", f"{self.stored_mask}（{keep}）")
        kwargs.setdefault("autocomplete", "off")
        return super().__call__(**kwargs)

    def populate_obj(self, obj, name):
        """Write the value only when one was typed."""
        if self.data:
            setattr(obj, name, self.data)
