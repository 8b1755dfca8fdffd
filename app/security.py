"""Flask-AppBuilder's security, made to lock accounts, force password changes and read well."""

import functools
from types import SimpleNamespace

from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.views import RoleModelView, UserDBModelView
from flask import has_request_context, request, session
from flask_login import current_user
from sqlalchemy import and_, select
from sqlalchemy.orm import joinedload

from flask_appbuilder.security.sqla.models import User
from flask_babel import lazy_gettext
from wtforms import SelectField
from wtforms.validators import Optional

from app import accounts, accounts_scope, display, models, workflow
from app.saving import SavingMixin


def once_per_request(check):
    """A permission check answered once per request for the signed-in user and arguments."""

    @functools.wraps(check)
    def remembered(*args):
        if not has_request_context():
            return check(*args)
        known = request.environ.setdefault("zongzhi.checks", {})
        key = (check.__name__, getattr(current_user, "id", None), *args)
        if key not in known:
            known[key] = check(*args)
        return known[key]

    return remembered


def _scope_field():
    """The 管辖范围 choice of the user form (its options read when the form is drawn)."""
    return SelectField(lazy_gettext("Area of responsibility"),
                       choices=lambda: accounts_scope.choices(), validators=[Optional()],
                       description=lazy_gettext(
                           "What this login sees: the whole region, a prefecture or a county's "
                           "centre, or for a unit liaison one stationed unit."))


# The user list shows each login's scope (a read-only attribute of the login, in words).
User.scope_label = property(lambda user: accounts_scope.label(user.id))


class ZongzhiUserDBModelView(SavingMixin, UserDBModelView):
    """The user screens: a login's roles and its scope in one form, blanks instead of 'None',
    Chinese dates, and a refused save that keeps what was typed."""

    class_permission_name = "UserDBModelView"  # the name the roles' patterns use
    list_columns = ["first_name", "last_name", "username", "email", "active", "roles",
                    "scope_label"]
    order_columns = ["first_name", "last_name", "username", "email", "active"]
    add_columns = ["first_name", "last_name", "username", "active", "email", "roles", "scope",
                   "password", "conf_password"]
    edit_columns = ["first_name", "last_name", "username", "active", "email", "roles", "scope"]
    label_columns = {**UserDBModelView.label_columns,
                     "scope": lazy_gettext("Area of responsibility"),
                     "scope_label": lazy_gettext("Area of responsibility")}

    def __init__(self, **kwargs):
        self.add_form_extra_fields = {**self.add_form_extra_fields, "scope": _scope_field()}
        self.edit_form_extra_fields = {"scope": _scope_field()}
        columns = {c for _title, spec in self.show_fieldsets for c in spec["fields"]}
        columns |= {c for _title, spec in self.user_show_fieldsets for c in spec["fields"]}
        columns |= set(self.list_columns or [])
        self.formatters_columns = {
            **{column: display.display_value for column in columns},
            **(self.formatters_columns or {}),
        }
        super().__init__(**kwargs)

    def _assign_scope(self, item):
        """The form's scope, written in the same transaction as the login."""
        session = self.datamodel.session
        session.add(item)
        session.flush()  # the login's key
        try:
            accounts_scope.assign(session, item, getattr(item, "scope", ""),
                                  {role.name for role in item.roles})
        except ValueError as error:
            raise workflow.WorkflowError(str(error)) from None

    def pre_add(self, item):
        """Hash the password (Flask-AppBuilder), then give the login its scope."""
        super().pre_add(item)
        self._assign_scope(item)

    def pre_update(self, item):
        """Roles and scope change together."""
        super().pre_update(item)
        self._assign_scope(item)

    def prefill_form(self, form, pk):
        """The edit form shows the login's scope now."""
        super().prefill_form(form, pk)
        form.scope.data = accounts_scope.current_value(pk)

    def post_add(self, item):
        """A new account starts with a password the user must replace."""
        accounts.require_password_change(item.username)


class ZongzhiRoleModelView(SavingMixin, RoleModelView):
    """The role screens, whose refused saves (duties kept apart) say why and keep the form."""

    class_permission_name = "RoleModelView"


class ZongzhiSecurityManager(SecurityManager):
    """The security manager with lockout, forced password change and our user screens."""

    userdbmodelview = ZongzhiUserDBModelView
    rolemodelview = ZongzhiRoleModelView
    # Flask-AppBuilder's user chart loads Google's chart library from the internet: not here.
    userstatschartview = None

    def get_user_by_id(self, pk):
        """The user with roles and groups in one query (every permission check reads the
        roles)."""
        model = self.user_model
        return self.session.get(model, pk, options=[joinedload(model.roles),
                                                    joinedload(model.groups)])

    @once_per_request
    def has_access(self, permission_name, view_name):
        """Flask-AppBuilder's check, worked out once per request for each user, permission and
        view (a list asks the same four for every table it draws, the case page for six)."""
        return super().has_access(permission_name, view_name)

    def _has_access_builtin_roles(self, role, permission_name, view_name):
        """Flask-AppBuilder's match of a declared role's patterns, remembered: the roles are
        declared in code (app/roles.py), so the answer for a name never changes."""
        return _builtin_role_allows(self, role.name, permission_name, view_name)

    def load_user(self, pk):
        """The signed-in user, and in the same query the login session its cookie names, which
        the session check then finds loaded (every request needs both)."""
        sid = session.get(accounts.SESSION_KEY)
        if not sid:
            return super().load_user(pk)
        model, login = self.user_model, models.LoginSession
        query = (select(model, login)
                 .outerjoin(login, and_(login.user_id == model.id, login.id == sid))
                 .where(model.id == int(pk))
                 .options(joinedload(model.roles), joinedload(model.groups)))
        user, row = self.session.execute(query).unique().first() or (None, None)
        request.environ[accounts.LOADED_SESSION] = (sid, row)
        return user if user is not None and user.is_active else None

    def auth_user_db(self, username, password):
        """Database sign-in, refused while the name is locked; failures counted in the database."""
        return accounts.authenticate(self, username, password, super().auth_user_db)

    def reset_password(self, userid, password):
        """Set a new password; the user's own change clears the forced-change flag."""
        super().reset_password(userid, password)
        user = self.get_user_by_id(userid)
        if getattr(current_user, "id", None) == userid:
            accounts.password_changed(user)
        else:  # an administrator set it: the user must choose their own
            accounts.require_password_change(user.username)


def init_app(app):
    """Templates' visibility checks once per request (Flask-AppBuilder's looks the view up
    among all of them on every call)."""
    filters = app.jinja_env.filters
    filters["is_item_visible"] = once_per_request(filters["is_item_visible"])


@functools.lru_cache(maxsize=8192)
def _builtin_role_allows(manager, role_name, permission_name, view_name):
    """Whether a declared role's patterns allow a permission on a view (Flask-AppBuilder's
    match, which reads only the role's name)."""
    return SecurityManager._has_access_builtin_roles(manager, SimpleNamespace(name=role_name),
                                                     permission_name, view_name)
