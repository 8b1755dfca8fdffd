"""The landing page: the dashboard for leaders, the inbox and shortcuts for everyone else."""

from flask import redirect, request, url_for
from flask_appbuilder import IndexView, expose
from flask_login import current_user

from app import caches, inbox, scope


class HomeView(IndexView):
    """The landing page: where each role starts its day."""

    index_template = "zongzhi/index.html"
    menu = ()  # (view, name, label, icon, category): the screens offered as shortcuts

    @expose("/")
    def index(self):
        """Leaders and centre administrators land on the dashboard; others on their inbox."""
        if current_user.is_authenticated and request.args.get("inbox") is None and \
                {r.name for r in current_user.roles} & {"leader", "centre_admin"} and \
                self.appbuilder.sm.has_access("can_show", "DashboardView"):
            # Only with an area to show: a login without a scope keeps the plain home page.
            if caches.areas(self.appbuilder.session, scope.current()):
                return redirect(url_for("DashboardView.index"))
        shortcuts = []
        if current_user.is_authenticated:
            sm = self.appbuilder.sm
            for view, name, label, icon, category in self.menu:
                # Only what the role's menu shows (a list may be open for lookups alone).
                if sm.has_access("can_list", view.__name__) and \
                        sm.has_access("menu_access", name) and \
                        sm.has_access("menu_access", category):
                    shortcuts.append({"url": url_for(f"{view.__name__}.list"), "label": label,
                                      "icon": icon})
        boxes = inbox.for_user(self.appbuilder.session, current_user) \
            if current_user.is_authenticated else []
        return self.render_template(self.index_template, appbuilder=self.appbuilder,
                                    shortcuts=shortcuts, boxes=boxes)
