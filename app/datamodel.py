"""The data interface of our views: Flask-AppBuilder's, with related rows loaded in the same query."""

from flask_appbuilder.models.filters import Filters
from flask_appbuilder.models.sqla.interface import SQLAInterface
from sqlalchemy import inspect
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


class ZongzhiInterface(SQLAInterface):
    """SQLAInterface whose list queries load the related rows their columns show."""

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

    def apply_all(self, query, *args, **kwargs):
        """Filters, order and paging as Flask-AppBuilder applies them, plus eager loading."""
        query = super().apply_all(query, *args, **kwargs)
        return query.options(*self.eager) if self.eager else query
