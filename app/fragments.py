"""Page parts that are the same on every request of a set of roles or a screen, rendered once and
cached (app.caches says for how long and what empties them).

The menu bar costs a third of a list page (a permission check, a URL and a translation per menu
entry) and changes only when permissions or roles do: it is rendered per set of roles and
language, with marks where the login's name and the logout form's CSRF token go, filled in per
request. The search form of a list screen changes only with the language.
"""

from flask import current_app, render_template
from flask_appbuilder.widgets import SearchWidget
from flask_babel import get_locale
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup, escape

from app import caches, fab_compat, notices
from app.generations import remember
from app.http import csp_nonce
from app.widgets import RemoteSelectField

# Stand-ins in the cached menu bar for what differs between logins and sessions.
MARKS = {"name": "\x1ezz-user-name\x1e", "csrf": "\x1ezz-csrf\x1e",
         "unread": "\x1ezz-unread\x1e"}


def unread_badge():
    """The count of the signed-in person's unread messages, as a badge (nothing when none)."""
    count = caches.unread(current_user.id)
    if not count:
        return ""
    shown = f"{notices.UNREAD_SHOWN}+" if count > notices.UNREAD_SHOWN else str(count)
    return Markup(f' <span class="badge zz-unread-count">{shown}</span>')


def navbar():
    """The menu bar for the signed-in user: the one of their set of roles, from the cache
    while permissions are unchanged, with their name and this session's CSRF token."""
    if current_user.is_anonymous:
        roles, name = "anonymous", ""
    else:
        roles, name = ",".join(sorted(str(r.id) for r in current_user.roles)), \
            current_user.get_full_name()
    html = caches.menu(roles, lambda: render_template(
        "appbuilder/navbar.html", appbuilder=current_app.appbuilder, zz_marks=MARKS))
    html = html.replace(MARKS["name"], str(escape(name))).replace(MARKS["csrf"], generate_csrf())
    if MARKS["unread"] in html:
        html = html.replace(MARKS["unread"], str(unread_badge()))
    return Markup(html)


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
            html = fab_compat.render_template_widget(self, **kwargs, **self._parts(),
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
    app.jinja_env.globals["cached_unread"] = unread_badge
