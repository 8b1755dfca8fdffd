"""Flask-AppBuilder's security, made to lock accounts, force password changes and read well."""

import functools
from types import SimpleNamespace

from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.security import views as fab_views
from flask_appbuilder.security.views import RoleModelView, UserDBModelView
from flask_appbuilder.validators import PasswordComplexityValidator
from werkzeug.security import check_password_hash
from flask import (abort, g, has_request_context, redirect, render_template, request, session,
                   url_for)
from flask_appbuilder import expose, has_access
from flask_login import current_user
from sqlalchemy import and_, select
from sqlalchemy.orm import joinedload

from flask_appbuilder.models.sqla.filters import FilterInFunction
from flask_appbuilder.security.sqla.models import Role, User
from flask_babel import gettext, lazy_gettext
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Optional, ValidationError

from app import (accounts, accounts_scope, clients, display, fab_compat, models, roles, scope,
                 workflow)
from app.saving import GuardedActions, SavingMixin


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
    """The 管辖范围 choice of the user form (its options, inside the writer's own scope, read
    when the form is drawn)."""
    return SelectField(lazy_gettext("Area of responsibility"),
                       choices=lambda: accounts_scope.choices(within=scope.current()),
                       validators=[Optional()],
                       description=lazy_gettext(
                           "What this login sees: the whole region, a prefecture or a county's "
                           "centre, or for a unit liaison one stationed unit."))


# The user list shows each login's scope (a read-only attribute of the login, in words).
User.scope_label = property(lambda user: accounts_scope.label(user.id))
# Roles read as their Chinese names wherever they are shown (pickers, lists, records).
Role.__str__ = lambda role: roles.label(role.name)
Role.label = property(lambda role: roles.label(role.name))
Role.purpose = property(lambda role: roles.description(role.name))


def _declared_roles():
    """The names of the roles declared in code."""
    return list(roles.ROLES)


def _manages_every_login():
    """True for the administrator over the whole tree; anyone else (a centre administrator)
    gives only the roles of a centre's people, inside their own scope."""
    return scope.current().whole and \
        any(role.name == "admin" for role in getattr(current_user, "roles", []) or [])


def _offered_roles():
    """The roles the signed-in user may give: all declared ones for the administrator, those of
    the people working in a centre for a centre administrator."""
    return _declared_roles() if _manages_every_login() else list(scope.MANAGED_ROLES)


def _some_role(form, field):
    """A login needs a role."""
    if not field.data:
        raise ValidationError(str(lazy_gettext("Choose at least one role.")))


PASSWORD_RULE = lazy_gettext(
    "At least 10 characters, with three of: capital letters, small letters, digits and other "
    "signs.")


def _new_password_field():
    """A new password, its rule stated before the first try (and checked)."""
    return PasswordField(lazy_gettext("Password"), description=PASSWORD_RULE,
                         validators=[DataRequired(), PasswordComplexityValidator()],
                         widget=BS3PasswordFieldWidget())


def _confirmation_field():
    """The new password typed again."""
    return PasswordField(lazy_gettext("Confirm Password"),
                         description=lazy_gettext("Please rewrite the password to confirm"),
                         validators=[EqualTo("password",
                                             message=lazy_gettext("Passwords must match"))],
                         widget=BS3PasswordFieldWidget())


class NewPasswordForm(DynamicForm):
    """A password set by an administrator for another login."""

    password = _new_password_field()
    conf_password = _confirmation_field()


class OwnPasswordForm(DynamicForm):
    """One's own new password, after the current one."""

    current_password = PasswordField(lazy_gettext("Current password"),
                                     validators=[DataRequired()], widget=BS3PasswordFieldWidget())
    password = _new_password_field()
    conf_password = _confirmation_field()

    def validate_current_password(self, field):
        """The current password must be the signed-in user's."""
        if not check_password_hash(g.user.password or "", field.data or ""):
            raise ValidationError(str(lazy_gettext("The current password is not right.")))


# The three views below keep Flask-AppBuilder's class names: their names are the endpoints and
# permission names that Flask-AppBuilder's links, decorators and the roles use.
class ResetMyPasswordView(fab_views.ResetMyPasswordView):
    """Changing one's own password: the current one first; the other sessions then end."""

    form = OwnPasswordForm
    form_title = lazy_gettext("Change my password")


class ResetPasswordView(fab_views.ResetPasswordView):
    """An administrator setting another login's password, the rule stated; only for a login
    the writer manages."""

    form = NewPasswordForm

    def _managed_or_404(self):
        """The login named by ?pk= must be one the signed-in user manages."""
        if not scope.visible(User, request.args.get("pk", type=int), write=True):
            abort(404)

    def form_get(self, form):
        """Refuse a login outside the writer's reach before drawing the form."""
        self._managed_or_404()

    def form_post(self, form):
        """Set the password of a managed login."""
        self._managed_or_404()
        return super().form_post(form)


class OwnInfoForm(DynamicForm):
    """One's own name and e-mail address."""

    first_name = StringField(lazy_gettext("Full name"), validators=[DataRequired()],
                             widget=BS3TextFieldWidget())
    email = StringField(lazy_gettext("Email"), validators=[DataRequired()],
                        widget=BS3TextFieldWidget())


class UserInfoEditView(fab_views.UserInfoEditView):
    """Editing one's own account: one name field, as the user form has."""

    form = OwnInfoForm


class AuthDBView(fab_views.AuthDBView):
    """Sign-in by name and password; signing out is a form (POST with its CSRF token), so a
    link or an image elsewhere cannot sign anyone out."""

    @expose("/logout/", methods=["GET", "POST"])
    def logout(self):
        """GET asks to confirm; POST signs out."""
        if request.method == "GET":
            if not getattr(current_user, "is_authenticated", False):
                return redirect(self.appbuilder.get_url_for_index)
            return render_template("zongzhi/logout.html", appbuilder=self.appbuilder,
                                   base_template=self.appbuilder.base_template)
        return super().logout()


class ZongzhiUserDBModelView(GuardedActions, SavingMixin, UserDBModelView):
    """The user screens: a login's roles and its scope in one form, blanks instead of 'None',
    Chinese dates, and a refused save that keeps what was typed. A centre administrator sees
    and manages only the logins of the people working in their area (app/scope.py)."""

    class_permission_name = "UserDBModelView"  # the name the roles' patterns use
    # No file columns: Flask-AppBuilder's download endpoint is left without a permission.
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete",
                        "can_userinfo", "resetmypassword", "resetpasswords", "userinfoedit"]
    base_filters = [["id", scope.ScopeFilter, None]]
    # One name field (姓名): Chinese names are not split into first and last.
    list_columns = ["first_name", "username", "email", "active", "roles",
                    "scope_label"]
    order_columns = ["first_name", "username", "email", "active"]
    search_columns = ["first_name", "username", "email", "active", "roles"]
    # Roles offered: the declared ones (not Flask-AppBuilder's anonymous "Public").
    # At least one role (Flask-AppBuilder's check reads a groups field this form does not have).
    validators_columns = {"roles": [_some_role]}
    add_form_query_rel_fields = edit_form_query_rel_fields = {
        "roles": [["name", FilterInFunction, _offered_roles]]}
    add_columns = ["first_name", "username", "active", "email", "roles", "scope",
                   "password", "conf_password"]
    edit_columns = ["first_name", "username", "active", "email", "roles", "scope"]
    show_fieldsets = [
        (lazy_gettext("User info"), {"fields": ["first_name", "username", "active", "roles",
                                                "scope_label", "email"]}),
        (lazy_gettext("Audit Info"), {"fields": ["last_login", "login_count",
                                                 "fail_login_count", "created_on", "created_by",
                                                 "changed_on", "changed_by"],
                                      "expanded": False}),
    ]
    user_show_fieldsets = [
        (lazy_gettext("User info"), {"fields": ["first_name", "username", "roles",
                                                "scope_label", "email"]}),
    ]
    label_columns = {**UserDBModelView.label_columns,
                     "first_name": lazy_gettext("Full name"),
                     "scope": lazy_gettext("Area of responsibility"),
                     "scope_label": lazy_gettext("Area of responsibility")}
    description_columns = {
        "active": lazy_gettext("A login that is not active cannot sign in. Deactivate a login "
                               "rather than delete it: its records keep their author."),
        "roles": lazy_gettext("What the login may do; its area of responsibility says where."),
    }

    def __init__(self, **kwargs):
        self.add_form_extra_fields = {**self.add_form_extra_fields, "scope": _scope_field(),
                                      "password": _new_password_field(),
                                      "conf_password": _confirmation_field()}
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
        """The form's scope, written in the same transaction as the login; a writer with part
        of the tree gives only the roles and the places inside it (checked here, whatever the
        form sent)."""
        session = self.datamodel.session
        value = getattr(item, "scope", "") or ""
        names = {role.name for role in item.roles}
        if not _manages_every_login():
            if not names or not names <= set(scope.MANAGED_ROLES):
                raise workflow.WorkflowError(gettext(
                    "A centre administrator gives only the roles of window staff and unit "
                    "liaisons."))
            with session.no_autoflush:  # the half-built login is not written yet
                offered = {key for key, _label in
                           accounts_scope.choices(within=scope.current())}
            if not value or value not in offered:
                raise workflow.WorkflowError(gettext(
                    "Choose an area of responsibility inside your own."))
        session.add(item)
        session.flush()  # the login's key
        try:
            accounts_scope.assign(session, item, value, names)
        except ValueError as error:
            raise workflow.WorkflowError(str(error)) from None

    @expose("/userinfo/")
    @has_access
    def userinfo(self):
        """One's own account, whatever the list shows (it is not filtered by scope)."""
        saved = fab_compat.set_base_filters(self, self.datamodel.get_filters([]))
        try:
            return super().userinfo()
        finally:
            fab_compat.set_base_filters(self, saved)

    def pre_add(self, item):
        """Hash the password (Flask-AppBuilder), then give the login its scope."""
        item.last_name = item.last_name or ""  # the one name is in first_name
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


class ZongzhiRoleModelView(GuardedActions, SavingMixin, RoleModelView):
    """The declared roles, read-only: their names and purposes; what each may do is on the role
    overview (roles are code, so no screen can change them or join duties kept apart)."""

    class_permission_name = "RoleModelView"
    base_permissions = ["can_list", "can_show"]
    list_columns = ["label", "purpose"]
    show_columns = ["label", "purpose"]
    order_columns = []
    search_columns = ["name"]  # not offered: the list has no search panel
    list_template = "zongzhi/list_without_search.html"
    base_filters = [["name", FilterInFunction, _declared_roles]]
    label_columns = {"label": lazy_gettext("Role"), "purpose": lazy_gettext("Purpose")}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # Read-only: Flask-AppBuilder's "copy role" action is withdrawn with its permission.
        self.actions.pop("copyrole", None)
        self.base_permissions = [p for p in self.base_permissions if p != "copyrole"]

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        """A role's page is its part of the role overview."""
        item = self.datamodel.get(pk, fab_compat.base_filters(self))
        if item is None:
            abort(404)
        return redirect(url_for("RolePermissionsView.overview", _anchor=f"role-{item.name}"))


class ZongzhiSecurityManager(SecurityManager):
    """The security manager with lockout, forced password change and our user screens."""

    userdbmodelview = ZongzhiUserDBModelView
    rolemodelview = ZongzhiRoleModelView
    authdbview = AuthDBView
    userinfoeditview = UserInfoEditView
    resetmypasswordview = ResetMyPasswordView
    resetpasswordview = ResetPasswordView
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
        the session check then finds loaded (every request needs both); a request with an API
        token is its client's, whatever cookie it also carries."""
        if clients.current() is not None:
            return clients.user_of_request()
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
        """Set a new password; the user's own change clears the forced-change flag and ends
        their other sessions; one set by an administrator ends all of them."""
        super().reset_password(userid, password)
        user = self.get_user_by_id(userid)
        if str(getattr(current_user, "id", None)) == str(userid):
            accounts.password_changed(user, keep=session.get(accounts.SESSION_KEY))
        else:  # an administrator set it: the user must choose their own
            accounts.require_password_change(user.username)
            accounts.end_sessions(user)


def init_app(app):
    """Templates' visibility checks once per request (Flask-AppBuilder's looks the view up
    among all of them on every call)."""
    filters = app.jinja_env.filters
    filters["is_item_visible"] = once_per_request(filters["is_item_visible"])


@functools.lru_cache(maxsize=8192)
def _builtin_role_allows(manager, role_name, permission_name, view_name):
    """Whether a declared role's patterns allow a permission on a view (Flask-AppBuilder's
    match, which reads only the role's name)."""
    return fab_compat.builtin_role_allows(manager, SimpleNamespace(name=role_name),
                                          permission_name, view_name)
