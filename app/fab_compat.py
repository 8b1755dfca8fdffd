"""Every Flask-AppBuilder private name Zongzhi relies on (written against FAB 5.3), in one place.

Private attributes, helpers and session keys are read, called and written only through the
functions below. Our views also override a few of FAB's private view methods (the hooks FAB
offers no public name for); HOOKS lists each with the parameters we rely on.
tests/test_fab_compat.py checks every name here against the installed FAB, so an upgrade that
renames or reshapes one fails there, first and by name.
"""

from flask import session
from flask_appbuilder.baseviews import BaseCRUDView
from flask_appbuilder.models.base import BaseInterface
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.manager import BaseSecurityManager
from flask_appbuilder.urltools import Stack
from flask_appbuilder.widgets import RenderTemplateWidget

# FAB's private view methods our views override: (class, name) -> the parameters, in order.
HOOKS = {
    (BaseCRUDView, "_get_list_widget"): ("self", "filters", "actions", "order_column",
                                         "order_direction", "page", "page_size", "widgets",
                                         "kwargs"),
    (BaseCRUDView, "_get_show_widget"): ("self", "pk", "item", "widgets", "actions",
                                         "show_fieldsets"),
    (BaseCRUDView, "_get_related_view_widget"): ("self", "item", "related_view", "order_column",
                                                 "order_direction", "page", "page_size"),
    (BaseCRUDView, "_add"): ("self",),
    (BaseCRUDView, "_edit"): ("self", "pk"),
    (BaseCRUDView, "_delete"): ("self", "pk"),
    (BaseCRUDView, "_fill_form_exclude_cols"): ("self", "exclude_cols", "form"),
    (BaseInterface, "_get_attr_value"): ("item", "col"),
    (BaseSecurityManager, "_has_access_builtin_roles"): ("self", "role", "permission_name",
                                                         "view_name"),
}

# The session key FAB keeps the way back in (its Back button reads it).
PAGE_HISTORY = "page_history"


def view_filters(view):
    """The filters a view offers and those in force (FAB's view._filters)."""
    return view._filters


def base_filters(view):
    """The filters always applied to a view's rows (FAB's view._base_filters)."""
    return view._base_filters


def set_base_filters(view, filters):
    """Replace a view's base filters; returns the ones it had."""
    before, view._base_filters = view._base_filters, filters
    return before


def related_views(view):
    """The views of a view's related lists, as FAB made them (view._related_views)."""
    return view._related_views


def show_widgets(view, pk):
    """FAB's record page widgets for a key (view._show)."""
    return view._show(pk)


def related_views_widgets(view, item, **kwargs):
    """FAB's related lists of a record page (view._get_related_views_widgets)."""
    return view._get_related_views_widgets(item, **kwargs)


def offered_filters(filters):
    """Every filter a filter set offers, by column (Filters._all_filters)."""
    return filters._all_filters


def searchable_filters(filters):
    """The filters the search form offers, by column (Filters._search_filters)."""
    return filters._search_filters


def set_offered(filters, offered, searchable):
    """Give a filter set its own copies of what it offers."""
    filters._all_filters, filters._search_filters = offered, searchable


def blank_like(filters):
    """A filter set offering the same filters as this one with none in force, made without
    FAB's constructor (which converts every column of the model again)."""
    blank = object.__new__(type(filters))
    blank.__dict__.update(filters.__dict__)
    blank.clear_filters()
    return blank


def apply_inner_all(interface, query, filters, select_columns=None):
    """FAB's inner query of a list (its filters and joins, no order or paging)."""
    return SQLAInterface._apply_inner_all(interface, query, filters,
                                          select_columns=select_columns, aliases_mapping={})


def attr_value(item, column):
    """A row's value of a (dotted) column, as FAB reads it for lists and records."""
    return BaseInterface._get_attr_value(item, column)


def builtin_role_allows(manager, role, permission_name, view_name):
    """Whether a role declared in FAB_ROLES grants a permission (FAB's pattern match)."""
    return BaseSecurityManager._has_access_builtin_roles(manager, role, permission_name,
                                                         view_name)


def render_template_widget(widget, **kwargs):
    """A widget drawn by RenderTemplateWidget itself (past a subclass's own __call__, as the
    cached search form needs: it draws FAB's search template with its own parts)."""
    return RenderTemplateWidget.__call__(widget, **kwargs)


def mark_form_for_edit(form, pk):
    """Tell a form which record it edits (FAB's unique-value validators read form._id)."""
    form._id = pk


def push_page_history(url):
    """Remember a page for FAB's Back button."""
    history = Stack(session.get(PAGE_HISTORY) or [])
    history.push(url)
    session[PAGE_HISTORY] = history.to_json()


def page_history():
    """The pages FAB's Back button walks back through."""
    return session.get(PAGE_HISTORY) or []

