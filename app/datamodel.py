"""The data interface of our views: Flask-AppBuilder's, with related rows loaded in the same query."""

import contextvars
import datetime
import hashlib
from functools import partial
from operator import attrgetter
from types import SimpleNamespace

from flask import has_request_context
from flask_appbuilder.models.filters import Filters
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.utils.base import get_column_root_relation, is_column_dotted
from flask_login import current_user
from sqlalchemy import asc, desc, func, inspect
from sqlalchemy.orm import aliased, joinedload, selectinload

from app import caches, fab_compat, personal
from app import filters as filters_module


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
        available = fab_compat.offered_filters(self).get(column_name, [])
        if 0 <= filter_instance_index < len(available):
            super().add_filter_index(column_name, filter_instance_index, value)

    def _blank(self):
        """A filter set offering the same filters with none active. Flask-AppBuilder builds a
        new one on every list request, converting every column of the model again (hundreds
        of filter objects); the offered filters never change, so they are shared."""
        return fab_compat.blank_like(self)

    def fresh(self):
        """A filter set like this one with none active, whose offered filters may be changed
        (a view narrows what some columns offer) without changing this one's."""
        fresh = self._blank()
        fab_compat.set_offered(fresh, dict(fab_compat.offered_filters(self)),
                               dict(fab_compat.searchable_filters(self)))
        return fresh

    def get_joined_filters(self, filters):
        """These active filters followed by the other set's."""
        joined = self._blank()
        joined.filters, joined.values = self.filters + filters.filters, self.values + filters.values
        return joined

    def copy(self):
        """A copy with the same active filters."""
        copied = self._blank()
        copied.filters, copied.values = list(self.filters), list(self.values)
        return copied


COUNT_KEY_VALUES = (str, int, float, datetime.date, type(None))
# The interface whose list is being drawn: its query may answer with plain rows.
PLAIN_ROWS = contextvars.ContextVar("plain_rows", default=None)


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
    search_count_cap = 1000

    def is_nullable(self, col_name):
        """For forms: a yes/no column is never "required" (an unticked box is the answer no;
        Flask-AppBuilder's required check refused it, so nothing could be switched off)."""
        if self.is_boolean(col_name):
            return True
        return super().is_nullable(col_name)

    def __init__(self, obj, session=None):
        super().__init__(obj, session)
        self.eager = []
        self._offered = {}
        self._readers = {}
        self._plain = None

    def get_filters(self, search_columns=None, search_filters=None):
        """The filters of a view, lenient about malformed URL filters. The filters each column
        offers are worked out once per set of columns (Flask-AppBuilder converts every column
        of the model again on each call, and calls it for every related list of a page)."""
        if search_filters:
            return LenientFilters(self.filter_converter_class, self, search_columns, search_filters)
        key = tuple(search_columns or ())
        if key not in self._offered:
            self._offered[key] = LenientFilters(self.filter_converter_class, self, search_columns)
        return self._offered[key].fresh()

    def _get_attr_value(self, item, col):
        """Personal columns are shown masked (or in full to those allowed), everywhere."""
        if col in getattr(self.obj, "personal_columns", {}):
            return personal.shown(item, col)
        return fab_compat.attr_value(item, col)

    def get_values(self, lst, list_columns):
        """Flask-AppBuilder's values of the list's cells, each column's way of reading worked
        out once per model instead of asked of every cell (hasattr, callable, split)."""
        readers = [(column, self._reader(column)) for column in list_columns]
        for item in lst:
            yield {column: read(item) for column, read in readers}

    def _reader(self, column):
        """How a list reads a column: a mapped attribute or relationship directly, anything else
        (a method, a property, a dotted path, a personal column) as Flask-AppBuilder does."""
        if column not in self._readers:
            mapped = inspect(self.obj).all_orm_descriptors
            plain = (column in mapped and "." not in column
                     and column not in getattr(self.obj, "personal_columns", {})
                     and hasattr(mapped[column], "property"))
            self._readers[column] = (attrgetter(column) if plain
                                     else partial(self._get_attr_value, col=column))
        return self._readers[column]

    def get_inner_filters(self, filters):
        """The filters of the inner (counting) query: those on the model's own columns and its
        single related rows, as Flask-AppBuilder keeps them, on a filter set from get_filters
        (Flask-AppBuilder's converts every column of the model again, on every count)."""
        inner = self.get_filters()
        if filters:
            inner.add_filter_list([
                (flt.column_name, type(flt), value)
                for flt, value in zip(filters.filters, filters.values)
                if not is_column_dotted(flt.column_name)
                or self.is_relation_many_to_one(get_column_root_relation(flt.column_name))
                or self.is_relation_one_to_one(get_column_root_relation(flt.column_name))])
        return inner

    def query_count(self, query, filters=None, select_columns=None):
        """The exact count up to the cap, else a CappedCount. A text search counts to a lower
        cap: its cases are found by testing rows, and a thousand matches say enough. Counts
        are cached until the next committed write to the domain's rows (or to who sees what)."""
        cap = self.count_cap
        if filters is not None and any(isinstance(f, filters_module.TextSearchFilter)
                                       for f in filters.filters):
            cap = self.search_count_cap

        def count():
            inner = fab_compat.apply_inner_all(self, query, filters, select_columns)
            # Keys only, stopping at the cap: SELECT count(*) FROM (SELECT id … LIMIT cap+1).
            keys = inner.with_entities(self.obj.id).order_by(None).limit(cap + 1).subquery()
            return self.session.query(func.count()).select_from(keys).scalar()

        key = self._count_key(filters, cap)
        found = count() if key is None else caches.count(key, count)
        return CappedCount(cap) if found > cap else found

    def _count_key(self, filters, cap):
        """The cache key of a count: the tokens of the rows counted (of the login's centre, when
        its scope is one centre's) and of who sees what, the user and the filters; None (not
        cached) when a filter reads the clock or holds an unusual value."""
        if not has_request_context():
            return None
        parts = []
        for flt, value in zip(filters.filters, filters.values) if filters is not None else ():
            values = value if isinstance(value, (list, tuple)) else [value]
            if getattr(flt, "reads_clock", False) or \
                    not all(isinstance(one, COUNT_KEY_VALUES) for one in values):
                return None
            parts.append("\x1f".join([flt.column_name, type(flt).__name__, *map(repr, values)]))
        digest = hashlib.sha1("\x1e".join(parts).encode()).hexdigest()
        return (f"count:{caches.count_token(self.obj)}:"
                f"{getattr(current_user, 'id', None)}:{self.obj.__name__}:{cap}:{digest}")

    def plain_rows_for(self, columns):
        """Let list pages read plain rows of these columns (no ORM objects to build) when each is
        a column of the model, or of a single related row ("centre.short_name"), and none is
        personal; the widget then reads them as it reads objects."""
        entities, joins = [self.obj.id.label("id")], {}
        for column in columns:
            *path, name = column.split(".")
            if len(path) > 1:
                return
            owner = self.obj
            if path:
                rel = inspect(self.obj).relationships.get(path[0])
                if rel is None or rel.uselist:
                    return
                owner = rel.mapper.class_
                if path[0] not in joins:  # its key tells a missing related row from blanks
                    joins[path[0]] = aliased(owner)
                    entities.append(joins[path[0]].id.label(f"{path[0]}.id"))
            if name not in inspect(owner).column_attrs or \
                    name in getattr(owner, "personal_columns", {}):
                return
            entities.append(getattr(joins[path[0]] if path else owner, name).label(column))
        self._plain = (entities, joins)

    def _plain_rows(self, query_rows):
        """Plain rows as objects a list reads like the model's: attributes, and the related
        row's as an attribute of its own (None when there is none)."""
        for row in query_rows:
            item, related = SimpleNamespace(), {relation: {} for relation in self._plain[1]}
            for key, value in row._mapping.items():
                relation, _, name = key.rpartition(".")
                if relation:
                    related[relation][name] = value
                else:
                    setattr(item, name, value)
            for relation, values in related.items():
                setattr(item, relation,
                        None if values["id"] is None else SimpleNamespace(**values))
            yield item

    def _plain_query(self):
        """A query of the plain columns, joined to the related rows they read."""
        entities, joins = self._plain
        query = self.session.query(*entities).select_from(self.obj)
        for relation, alias in joins.items():
            query = query.outerjoin(alias, getattr(self.obj, relation))
        return query

    def query(self, filters=None, order_column="", order_direction="", page=None, page_size=None,
              select_columns=None, outer_default_load=False):
        """Flask-AppBuilder's (count, rows), the rows read first: when the first page is not
        full it holds every row, and no count is needed (a case's parties, its referrals…)."""
        base = self.session.query(self.obj)
        if PLAIN_ROWS.get() is self and self._plain and not select_columns:
            rows = self._plain_page(filters, order_column, order_direction, page, page_size)
        elif page and page_size and not select_columns:
            rows = self._page_by_keys(filters, order_column, order_direction, page, page_size)
        else:
            rows = self.apply_all(base, filters, order_column, order_direction, page, page_size,
                                  select_columns, outer_default_load).all()
            rows = [getattr(row, self.obj.__name__, row) for row in rows]
        if not page_size or (not page and len(rows) < page_size):
            return len(rows), rows
        return self.query_count(base, filters, select_columns), rows

    def apply_order_by(self, query, order_column, order_direction, aliases_mapping=None,
                       bypass_many_to_many=False, add_pk=False):
        """Flask-AppBuilder's order, with the model's tie-breaker (order_tiebreak) before the
        key: the indexes (column, tie-breaker) then hold the rows in the order shown, and no
        page sorts the whole table."""
        tiebreak = getattr(self.obj, "order_tiebreak", None)
        if not (add_pk and tiebreak and order_column and order_column != tiebreak
                and "." not in order_column):
            return super().apply_order_by(query, order_column, order_direction, aliases_mapping,
                                          bypass_many_to_many, add_pk)
        query = super().apply_order_by(query, order_column, order_direction, aliases_mapping,
                                       bypass_many_to_many, add_pk=False)
        direction = asc if order_direction == "asc" else desc
        return query.order_by(direction(getattr(self.obj, tiebreak)), direction(self.get_pk()))

    def _page_by_keys(self, filters, order_column, order_direction, page, page_size):
        """A later page in two steps: its keys (the skipped rows are read from the index
        alone), then its rows with their related rows; an OFFSET over the joined query would
        join every skipped row."""
        return self._rows_of_keys(
            lambda keys: self.session.query(self.obj).options(*self.eager)
            .filter(self.obj.id.in_(keys)),
            filters, order_column, order_direction, page, page_size)

    def _plain_page(self, filters, order_column, order_direction, page, page_size):
        """A list page as plain rows: the first in one query, later ones by their keys."""
        if not page:
            rows = SQLAInterface.apply_all(self, self._plain_query(), filters, order_column,
                                           order_direction, page, page_size)
            return list(self._plain_rows(rows))
        return self._rows_of_keys(
            lambda keys: self._plain_rows(self._plain_query().filter(self.obj.id.in_(keys))),
            filters, order_column, order_direction, page, page_size)

    def _rows_of_keys(self, read, filters, order_column, order_direction, page, page_size):
        """The page's keys read from the index, then its rows (read(keys)) in the keys' order."""
        keys = [key for (key,) in SQLAInterface.apply_all(
            self, self.session.query(self.obj.id), filters, order_column, order_direction,
            page, page_size)]
        if not keys:
            return []
        position = {key: index for index, key in enumerate(keys)}
        return sorted(read(keys), key=lambda row: position[row.id])

    def apply_all(self, query, *args, **kwargs):
        """Filters, order and paging as Flask-AppBuilder applies them, plus eager loading."""
        query = super().apply_all(query, *args, **kwargs)
        return query.options(*self.eager) if self.eager else query
