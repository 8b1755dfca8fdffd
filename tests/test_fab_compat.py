"""Each Flask-AppBuilder private name app/fab_compat.py relies on, checked against the installed
FAB: an upgrade that renames or reshapes one fails here, by name, before a screen breaks."""

import inspect
import os

import flask_appbuilder
import pytest
from flask_appbuilder.baseviews import BaseCRUDView
from flask_appbuilder.models.filters import Filters
from flask_appbuilder.widgets import SearchWidget

from app import fab_compat, models
from app.extensions import db
from seeds import demo


def _source(*parts):
    """A file of the installed Flask-AppBuilder."""
    with open(os.path.join(os.path.dirname(flask_appbuilder.__file__), *parts),
              encoding="utf-8") as found:
        return found.read()


@pytest.mark.parametrize("owner,name", list(fab_compat.HOOKS),
                         ids=lambda v: getattr(v, "__name__", v))
def test_each_overridden_hook_keeps_its_name_and_parameters(owner, name):
    """The private view methods our views override exist with the parameters we call."""
    hook = inspect.getattr_static(owner, name)
    function = hook.__func__ if isinstance(hook, (staticmethod, classmethod)) else hook
    assert tuple(inspect.signature(function).parameters) == fab_compat.HOOKS[(owner, name)]


def test_our_overrides_are_of_listed_hooks_only(app):
    """Every FAB private method a registered view of ours defines is one of the listed hooks
    (and so is the security manager's)."""
    listed = {name for _owner, name in fab_compat.HOOKS}
    fab_private = {name for base in (BaseCRUDView, type(app.appbuilder.sm).__mro__[1])
                   for name in dir(base) if name.startswith("_") and not name.startswith("__")}
    checked = [type(app.appbuilder.sm)]
    checked += [type(v) for v in app.appbuilder.baseviews if isinstance(v, BaseCRUDView)]
    assert len(checked) > 20
    for view in checked:
        for klass in view.__mro__:
            if klass.__module__.startswith("app."):
                assert not (set(vars(klass)) & fab_private) - listed, klass


def test_the_view_attributes_are_what_we_read(app):
    """A view's filters, base filters and related views, and a filter set's offered filters."""
    from app.screens.dashboard import _view

    view = _view("DisputeModelView")
    filters = fab_compat.view_filters(view)
    assert isinstance(filters, Filters) and isinstance(fab_compat.base_filters(view), Filters)
    assert "status" in fab_compat.offered_filters(filters)
    assert "status" in fab_compat.searchable_filters(filters)
    assert {v.datamodel.obj for v in fab_compat.related_views(view)} >= {models.Party,
                                                                          models.Referral}
    blank = fab_compat.blank_like(filters)
    assert blank.filters == [] and fab_compat.offered_filters(blank) is \
        fab_compat.offered_filters(filters)
    saved = fab_compat.set_base_filters(view, saved_marker := object())
    assert fab_compat.set_base_filters(view, saved) is saved_marker


def test_the_query_and_value_helpers_answer(app, world):
    """FAB's inner list query, its dotted-value reader and its declared-role match."""
    from types import SimpleNamespace

    from app.screens.dashboard import _view

    view = _view("CentreModelView")
    query = fab_compat.apply_inner_all(view.datamodel, db.session.query(models.Centre),
                                       fab_compat.view_filters(view))
    centre = query.first()
    assert centre is not None
    assert fab_compat.attr_value(centre, "region.name") == centre.region.name
    manager = app.appbuilder.sm
    assert fab_compat.builtin_role_allows(manager, SimpleNamespace(name="leader"), "can_show",
                                          "DashboardView")
    assert not fab_compat.builtin_role_allows(manager, SimpleNamespace(name="leader"),
                                              "can_delete", "DisputeModelView")


def test_the_search_form_renders_through_the_template_widget(app, login_as):
    """Our cached search form draws FAB's search template past SearchWidget's own __call__,
    which still exists and still differs from the template widget's."""
    assert SearchWidget.__call__ is not fab_compat.RenderTemplateWidget.__call__
    demo.load(db.session, app.appbuilder.sm, cases=0)
    html = login_as("admin").get("/disputemodelview/list/").get_data(as_text=True)
    assert html.count('<form id="filter_form" class="form-search" method="get">') == 1


def test_the_form_mark_and_the_page_history_are_what_fab_reads():
    """FAB's unique-value validator reads form._id; its Back button reads the page history
    under the key we write."""
    assert "form._id" in _source("validators.py") and "form._id = pk" in _source("baseviews.py")
    assert f'session.get("{fab_compat.PAGE_HISTORY}"' in _source("baseviews.py")


def test_the_page_history_round_trips(app):
    """What we push is what FAB's Back button pops first."""
    with app.test_request_context("/"):
        fab_compat.push_page_history("/disputemodelview/list/")
        fab_compat.push_page_history("/disputemodelview/show/1")
        assert fab_compat.page_history()[-1] == "/disputemodelview/show/1"
