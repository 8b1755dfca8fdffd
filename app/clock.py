"""The business clock: every stored, shown and counted time is wall-clock time in one zone.

Zongzhi's days, months and deadlines are China's (ZONGZHI_TIMEZONE, Asia/Shanghai by default),
whatever the server's own TZ. Timestamps are stored naive, meaning that zone's wall-clock time,
so a month or a day range is the same range of stored values on every engine and server.
"""

import datetime
import os
import time
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "Asia/Shanghai"
_zone = ZoneInfo(os.environ.get("ZONGZHI_TIMEZONE") or DEFAULT_ZONE)


def zone():
    """The business time zone."""
    return _zone


def set_zone(name):
    """Use this zone for the business clock, and as the process's local time, so that library
    code reading the local clock (Flask-AppBuilder's sign-in times, SQLite's 'localtime')
    agrees with ours."""
    global _zone
    _zone = ZoneInfo(name)
    if os.environ.get("TZ") != name and hasattr(time, "tzset"):
        os.environ["TZ"] = name
        time.tzset()


def process_offset_minutes():
    """The process's local time zone's offset from UTC now, in minutes."""
    return int(datetime.datetime.now().astimezone().utcoffset().total_seconds() // 60)


def now():
    """The current business time, naive, to the second."""
    return datetime.datetime.now(_zone).replace(tzinfo=None, microsecond=0)


def today():
    """Today's date in the business time zone."""
    return datetime.datetime.now(_zone).date()


def utc_offset(moment=None):
    """The zone's offset from UTC at a naive business time (now by default), as +08:00."""
    moment = (moment or now()).replace(tzinfo=_zone)
    minutes = int(moment.utcoffset().total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def iso(moment):
    """A stored (naive, business-zone) moment as RFC 3339 text with the zone's offset, as the
    API writes it: 2026-12-03T21:24:50+08:00."""
    if moment is None:
        return None
    return moment.replace(tzinfo=_zone).isoformat()
