"""Screens about people and their rights: revealing a masked value, what each role may do."""

from flask import abort, jsonify
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, has_access_api
from flask_babel import lazy_gettext as _l

from app import audit, models, personal, scope
from app.roles import readable_permissions


class PersonalDataView(BaseView):
    """Reveals one masked personal value to a user allowed to, and records that it did."""

    route_base = "/personal"
    class_permission_name = personal.VIEW_NAME
    method_permission_name = {"reveal": "reveal"}
    base_permissions = [personal.CAN_REVEAL, personal.CAN_VIEW]
    MODELS = {model.__tablename__: model for model in (models.Party, models.Staff, models.Expert)}

    @expose("/reveal/<model>/<int:pk>/<column>", methods=["POST"])
    @has_access_api
    def reveal(self, model, pk, column):
        """The full value, for a row inside the scope; audited."""
        model_class = self.MODELS.get(model)
        if model_class is None or column not in model_class.personal_columns:
            abort(404)
        if not scope.visible(model_class, pk):
            audit.record("access_denied", model, pk, outcome="denied", detail={"reveal": column})
            abort(404)
        row = self.appbuilder.session.get(model_class, pk)
        audit.record("reveal", model, pk, detail={"column": column})
        return jsonify(value=getattr(row, column) or "")


class RolePermissionsView(BaseView):
    """What each declared role may do, screen by screen, in plain Chinese."""

    route_base = "/rolepermissions"
    default_view = "overview"
    base_permissions = ["can_overview"]
    menu = ()  # (view, name, label, icon, category): the screens the roles are described by
    SECURITY_LABELS = {
        "UserDBModelView": _l("Users"), "RoleModelView": _l("Roles"),
        "UserGroupModelView": _l("User groups"), "PermissionModelView": _l("Permissions"),
        "ViewMenuModelView": _l("Views and menus"),
        "PermissionViewModelView": _l("Permissions on views and menus"),
        "UserInfoEditView": _l("Own account"), "ResetMyPasswordView": _l("Own password"),
        "ResetPasswordView": _l("Reset a password"), "MenuApi": _l("Menu"),
        "PersonalData": _l("Personal data"), "RolePermissionsView": _l("Role permissions"),
        "DashboardView": _l("Dashboard"),
        "ImportView": _l("Data import"),
        "DocumentView": _l("Documents"),
        "AttachmentView": _l("Case files"),
        "DocumentTemplateView": _l("Document templates"),
        "NoticeView": _l("Message centre"), "JobView": _l("Background jobs"),
        "ApiClientView": _l("API clients"),
    }

    @expose("/")
    @has_access
    def overview(self):
        """Each role with the screens it may open and what it may do there."""
        labels = {view.__name__: label for view, _name, label, _icon, _cat in self.menu}
        labels.update(self.SECURITY_LABELS)
        return self.render_template("zongzhi/role_permissions.html",
                                    roles=readable_permissions(self.appbuilder, labels))
