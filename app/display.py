"""How values read on screen: blanks for missing values, Chinese dates, labels for codes."""

import datetime
import decimal
import functools

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from flask_babel import get_locale, gettext
from markupsafe import Markup


def _locale():
    """The request's locale, Chinese outside a request."""
    try:
        return get_locale() or "zh"
    except (RuntimeError, AttributeError):
        return "zh"


@functools.lru_cache(maxsize=16)
def _date_pattern(locale):
    """The locale and its long date pattern, parsed once (Babel parses both on every call)."""
    parsed = babel_dates.Locale.parse(locale)
    return babel_dates.parse_pattern(babel_dates.get_date_format("long", locale=parsed)), parsed


def format_date(value):
    """A date in the reader's language: 2025年3月7日."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        value = value.date()
    return _formatted_date(str(_locale()), value)


@functools.lru_cache(maxsize=4096)
def _formatted_date(locale, value):
    """A date formatted once: a list's rows mostly share a few days, and Babel's formatting
    costs more than the rest of a cell."""
    pattern, parsed = _date_pattern(locale)
    return pattern.apply(value, parsed)


def format_datetime(value):
    """A date and time in the reader's language: 2025年3月7日 14:30."""
    if value is None:
        return ""
    return f"{format_date(value)} {value:%H:%M}"


def format_amount(value):
    """A sum of money with thousands separators: 78,000.00."""
    if value is None:
        return ""
    return babel_numbers.format_decimal(value, "#,##0.00", locale=_locale())


def display_value(value):
    """Any stored value as the screens show it; None is blank, never the text 'None'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if isinstance(value, datetime.datetime):
        return format_datetime(value)
    if isinstance(value, datetime.date):
        return format_date(value)
    if isinstance(value, decimal.Decimal):
        return format_amount(value)
    if isinstance(value, (list, tuple, set)) or _is_collection(value):
        return "、".join(str(item) for item in value)
    if isinstance(value, Markup):
        return value
    if hasattr(value, "first_name") and hasattr(value, "last_name"):
        return person_name(value.first_name, value.last_name)
    return str(value)


def person_name(first, last):
    """A person's name in the order of its script: 董秀君, but Jane Doe."""
    first, last = first or "", last or ""
    if any(ord(ch) > 0x2E80 for ch in first + last):
        return f"{last}{first}"
    return f"{first} {last}".strip()


def _is_collection(value):
    """True for SQLAlchemy's instrumented lists of related rows."""
    return type(value).__name__ in {"InstrumentedList", "AppenderQuery"}


def formatter_for(choices=None):
    """A FAB column formatter: a code's label when the column has choices, else display_value."""
    if choices is None:
        return display_value
    return choices.label_text
