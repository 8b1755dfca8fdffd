"""The data interface of our views: Flask-AppBuilder's, with related rows loaded in the same query."""

from flask_appbuilder.models.filters import Filters
from flask_appbuilder.models.sqla.interface import SQLAInterface
from sqlalchemy import func, inspect
from sqlalchemy.orm import joinedload, selectinload

from app import personal


def _loader(parent, attribute, uselist):
    """Joined loading for a single related row, a second batched query for collections."""
    strategy = selectinload if uselist else joinedload
    return strategy(attribute) if parent is None else getattr(parent, strategy.__name__)(attribute)


def eager_options(model, columns):
    """Loader options that fetch every related row the columns show, whatever the page holds."""
    options = []
    for column in columns:
        current, loader = model, None
        steps = column.split(".")
        for step in steps:
            relationships = inspect(current).relationships
            if step not in relationships:
                break
            rel = relationships[step]
            loader = _loader(loader, getattr(current, step), rel.uselist)
            current = rel.mapper.class_
        if loader is None:
            continue
        # A related row's label may itself name related rows (a unit is "centre·department").
        for extra in getattr(current, "label_loads", ()):
            rel = inspect(current).relationships[extra]
            options.append(_loader(loader, getattr(current, extra), rel.uselist))
        options.append(loader)
    return options


class LenientFilters(Filters):
    """URL filters that ignore an unknown filter number instead of failing with an error."""

    def add_filter_index(self, column_name, filter_instance_index, value):
        """Apply the filter the URL names, if there is one by that number."""
        available = self._all_filters.get(column_name, [])
        if 0 <= filter_instance_index < len(available):
            super().add_filter_index(column_name, filter_instance_index, value)


class CappedCount(int):
    """A row count that stopped at a cap: reads "10000+" on screen, counts as cap + 1 in paging."""

    def __new__(cls, cap):
        value = super().__new__(cls, cap + 1)
        value.cap = cap
        return value

    def __str__(self):
        return f"{self.cap}+"


class ZongzhiInterface(SQLAInterface):
    """SQLAInterface whose list queries load the related rows their columns show and whose
    counts stop at a cap (an exact count of a million rows on every page costs more than it
    tells)."""

    count_cap = 10000

    def __init__(self, obj, session=None):
        super().__init__(obj, session)
        self.eager = []

    def get_filters(self, search_columns=None, search_filters=None):
        """The filters of a view, lenient about malformed URL filters."""
        return LenientFilters(self.filter_converter_class, self, search_columns, search_filters)

    def _get_attr_value(self, item, col):
        """Personal columns are shown masked (or in full to those allowed), everywhere."""
        if col in getattr(self.obj, "personal_columns", {}):
            return personal.shown(item, col)
        return super()._get_attr_value(item, col)

    def query_count(self, query, filters=None, select_columns=None):
        """The exact count up to the cap, else a CappedCount."""
        inner = self._apply_inner_all(query, filters, select_columns=select_columns,
                                      aliases_mapping={})
        # Count keys only, and stop at the cap: SELECT count(*) FROM (SELECT id … LIMIT cap+1).
        keys = inner.with_entities(self.obj.id).order_by(None).limit(self.count_cap + 1).subquery()
        found = self.session.query(func.count()).select_from(keys).scalar()
        return CappedCount(self.count_cap) if found > self.count_cap else found

    def apply_all(self, query, *args, **kwargs):
        """Filters, order and paging as Flask-AppBuilder applies them, plus eager loading."""
        query = super().apply_all(query, *args, **kwargs)
        return query.options(*self.eager) if self.eager else query
