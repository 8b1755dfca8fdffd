"""Flask-AppBuilder's security screens, made to show values the way the rest of the app does."""

from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.views import UserDBModelView

from app import display


class ZongzhiUserDBModelView(UserDBModelView):
    """The user screens, with blanks instead of 'None' and Chinese dates."""

    def __init__(self, **kwargs):
        columns = {c for _title, spec in self.show_fieldsets for c in spec["fields"]}
        columns |= {c for _title, spec in self.user_show_fieldsets for c in spec["fields"]}
        columns |= set(self.list_columns or [])
        self.formatters_columns = {
            **{column: display.display_value for column in columns},
            **(self.formatters_columns or {}),
        }
        super().__init__(**kwargs)


class ZongzhiSecurityManager(SecurityManager):
    """The security manager with our user screens."""

    userdbmodelview = ZongzhiUserDBModelView
