"""Page parts that are the same on every request of a user or a screen, rendered once and cached.

The menu bar costs a third of a list page (a permission check, a URL and a translation per menu
entry) and changes only when permissions, roles or users do (scope.access); the search form of
a list screen changes only with the language.
"""

from flask import current_app, render_template, session
from flask_appbuilder.widgets import SearchWidget
from flask_babel import get_locale
from flask_login import current_user
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup

from app.generations import remember
from app.http import csp_nonce
from app.scope import access
from app.widgets import RemoteSelectField


def navbar():
    """The menu bar for the signed-in user, from the cache while permissions are unchanged."""
    user = "anonymous" if current_user.is_anonymous else current_user.id
    key = f"navbar:{access.current()}:{get_locale()}:{session.get('locale')}:{user}"
    return Markup(remember(key, lambda: render_template("appbuilder/navbar.html",
                                                        appbuilder=current_app.appbuilder)))


class CachedSearchWidget(SearchWidget):
    """Flask-AppBuilder's search form, rendered once per screen and language; the filters in
    force are put in per request. A filter on a related row (a centre) draws the chosen row
    in its field, so that form is rendered afresh."""

    ACTIVE = "zz-active-filters"  # stands for the filters in force in the cached form

    def __call__(self, **kwargs):
        """The search form from the cache, with this response's filters and script nonce."""
        form = self.template_args["form"]
        if any(isinstance(getattr(form, flt.column_name, None), RemoteSelectField)
               for flt in self.filters.filters):
            return super().__call__(**kwargs)
        nonce = csp_nonce()

        def render():
            html = super(SearchWidget, self).__call__(**kwargs, **self._parts(),
                                                      active_filters=self.ACTIVE)
            return str(html), nonce

        html, rendered_with = remember(
            f"search-form:{self.template_args['route_base']}:{get_locale()}", render)
        active = htmlsafe_json_dumps(self.filters.get_filters_values_tojson(),
                                     dumps=current_app.json.dumps)
        return Markup(html.replace(rendered_with, nonce)
                      .replace(htmlsafe_json_dumps(self.ACTIVE), active))

    def _parts(self):
        """Column labels, rendered empty fields and the filter names of each searchable column."""
        form, offered = self.template_args["form"], self.filters.get_search_filters()
        columns = self.template_args["include_cols"]
        return {
            "label_columns": {col: str(form[col].label.text) for col in columns},
            "form_fields": {col: str(form[col]()) for col in columns},
            "search_filters": {col: [str(flt.name) for flt in offered[col]] for col in columns},
        }


def init_app(app):
    """Offer the cached menu bar to templates."""
    app.jinja_env.globals["cached_navbar"] = navbar
