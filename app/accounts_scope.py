"""A login's scope (管辖范围) as one choice on the user form: a region node or a stationed unit."""

from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app import models
from app.extensions import db

INDENT = {"region": "", "prefecture": "　", "county": "　　", "township": "　　　",
          "village": "　　　　"}


def choices(within=None):
    """(value, label) of every node a login may be given, in tree order: "r:<region id>" for a
    region, prefecture, county and below, "u:<unit id>" for a stationed unit (liaisons), all
    inside a scope when one is given (a centre administrator's own)."""
    region = models.Region
    query = select(region.id, region.name, region.level, region.path).order_by(region.path)
    if within is not None and within.path:
        query = query.where(region.path.startswith(within.path))
    found = [("", gettext("(none: sees nothing)"))]
    paths = {}
    for key, name, level, path in db.session.execute(query):
        found.append((f"r:{key}", f"{INDENT.get(level, '')}{name}"))
        paths[key] = path
    unit = models.StationedUnit
    units = db.session.scalars(select(unit).options(
        joinedload(unit.centre).joinedload(models.Centre.region), joinedload(unit.department))
        .order_by(unit.centre_id, unit.id))
    for row in units:
        if within is None or not within.path or row.centre.region.path.startswith(within.path):
            found.append((f"u:{row.id}", gettext("Unit: %(centre)s · %(department)s",
                                                 centre=row.centre.short_name,
                                                 department=row.department.name)))
    return found


def current_value(user_id):
    """The choice value of a login's scope now ("" without one)."""
    row = db.session.get(models.UserScope, user_id) if user_id else None
    if row is None:
        return ""
    return f"u:{row.unit_id}" if row.unit_id else (f"r:{row.region_id}" if row.region_id else "")


def label(user_id):
    """A login's scope in words, for the user list."""
    row = db.session.get(models.UserScope, user_id) if user_id else None
    if row is None:
        return ""
    if row.unit_id:
        unit = db.session.get(models.StationedUnit, row.unit_id)
        return f"{unit.centre.short_name}·{unit.department.name}" if unit else ""
    region = db.session.get(models.Region, row.region_id) if row.region_id else None
    return region.name if region else ""


def assign(session, user, value, role_names):
    """Give a login the scope of a choice value; a liaison needs a unit, the others a region
    node. Raises ValueError with the reason in words."""
    kind, _sep, key = (value or "").partition(":")
    if value and (kind not in ("r", "u") or not key.isdigit()):
        raise ValueError(gettext("Choose the area of responsibility from the list."))
    unit_id = int(key) if kind == "u" else None
    region_id = int(key) if kind == "r" else None
    if unit_id is not None and session.get(models.StationedUnit, unit_id) is None or \
            region_id is not None and session.get(models.Region, region_id) is None:
        raise ValueError(gettext("Choose the area of responsibility from the list."))
    if "unit_liaison" in role_names and value and unit_id is None:
        raise ValueError(gettext("A unit liaison's area of responsibility is one stationed unit."))
    if unit_id is not None and "unit_liaison" not in role_names:
        raise ValueError(gettext("Only unit liaisons are given a stationed unit; choose a region, "
                                 "prefecture or county."))
    row = session.get(models.UserScope, user.id)
    if not value:
        if row is not None:
            session.delete(row)
        return
    if row is None:
        row = models.UserScope(user_id=user.id)
        session.add(row)
    row.region_id, row.unit_id = region_id, unit_id
