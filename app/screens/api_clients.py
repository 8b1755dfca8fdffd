"""接口客户端: the administrator gives another system (an upper-level platform, a hotline) an API
client — its role, its area, its rate and expiry — and sees its token once; rotates or revokes
it; and gives it webhook subscriptions, whose signing secret is shown once too."""

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.forms import DynamicForm
from flask_babel import gettext, lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload
from wtforms import IntegerField, SelectField, SelectMultipleField, StringField
from wtforms.validators import InputRequired, NumberRange, Optional

from app import accounts_scope, choices, clients, models, roles, webhooks
from app.extensions import db


class ClientForm(DynamicForm):
    """A new client."""

    name = StringField(_l("Client name"), validators=[InputRequired()])
    role = SelectField(_l("Role (its rights)"), validators=[InputRequired()])
    scope = SelectField(_l("Area of responsibility"))
    rate = IntegerField(_l("Requests a minute"), default=120,
                        validators=[InputRequired(), NumberRange(min=1, max=10000)])
    days = IntegerField(_l("Valid for (days, 0: no expiry)"), default=365,
                        validators=[Optional(), NumberRange(min=0, max=3650)])


class SubscriptionForm(DynamicForm):
    """A new webhook subscription."""

    url = StringField(_l("Receiver address"), validators=[InputRequired()])
    actions = SelectMultipleField(_l("Events (none chosen: all)"), validators=[Optional()])


def _client_form():
    form = ClientForm()
    form.role.choices = [(name, roles.label(name)) for name in roles.ROLES if name != "admin"]
    form.scope.choices = accounts_scope.choices()
    return form


def _subscription_form():
    form = SubscriptionForm()
    form.actions.choices = choices.EVENT_ACTION.form_choices()
    return form


class ApiClientView(BaseView):
    """API clients and their webhook subscriptions."""

    route_base = "/api-clients"
    default_view = "index"
    base_permissions = ["can_list", "can_add", "can_edit"]
    method_permission_name = {"index": "list", "add": "add", "rotate": "edit", "revoke": "edit",
                              "subscribe": "edit", "switch": "edit"}

    def _client(self, pk):
        client = db.session.get(models.ApiClient, pk)
        if client is None:
            abort(404)
        return client

    @expose("/")
    @has_access
    def index(self):
        """Every client: its rights, area, state, calls today and subscriptions."""
        rows = db.session.scalars(select(models.ApiClient).options(
            joinedload(models.ApiClient.user)).order_by(models.ApiClient.name)).all()
        today = models.now().replace(hour=0, minute=0, second=0)
        calls = dict(db.session.execute(
            select(models.ApiCall.client_id, func.count()).where(models.ApiCall.at >= today)
            .group_by(models.ApiCall.client_id)).all())
        subscriptions = {}
        for sub in db.session.scalars(select(models.WebhookSubscription)
                                      .order_by(models.WebhookSubscription.id)):
            subscriptions.setdefault(sub.client_id, []).append(sub)
        rights = {c.id: "、".join(roles.label(r.name) for r in c.user.roles) for c in rows}
        events = {s.id: "、".join(str(choices.EVENT_ACTION.label(a)) for a in s.actions.split(","))
                  for subs in subscriptions.values() for s in subs if s.actions}
        return self.render_template(
            "zongzhi/api_clients.html", rows=rows, calls=calls, subscriptions=subscriptions,
            status=clients.status, scope_label=accounts_scope.label, rights=rights,
            events=events)

    def _shown_once(self, title, what, value, client):
        return self.render_template("zongzhi/api_secret.html", title=title, what=what,
                                    value=value, client=client)

    @expose("/add", methods=["GET", "POST"])
    @has_access
    def add(self):
        """A new client; its token on the next page, once. A refused form keeps every value."""
        form = _client_form()
        if request.method == "POST" and form.validate():
            try:
                client, token = clients.create(
                    db.session, self.appbuilder.sm, form.name.data, [form.role.data],
                    form.scope.data, form.days.data or 0, form.rate.data)
            except clients.Refused as problem:
                db.session.rollback()
                form.name.errors = [str(problem)]
            else:
                return self._shown_once(gettext("API client created"), gettext("Token"), token,
                                        client)
        if request.method == "POST":
            flash(gettext("The client was not created: see the marked fields."), "danger")
        return self.render_template("zongzhi/api_client_form.html", form=form,
                                    title=gettext("New API client"))

    @expose("/<int:pk>/rotate", methods=["POST"])
    @has_access
    def rotate(self, pk):
        """A new token; the old one stops working at once."""
        client = self._client(pk)
        token = clients.issue(client)
        db.session.commit()
        return self._shown_once(gettext("New token issued"), gettext("Token"), token, client)

    @expose("/<int:pk>/revoke", methods=["POST"])
    @has_access
    def revoke(self, pk):
        """Refuse the client from its next request on."""
        client = self._client(pk)
        if client.revoked_at is None:
            client.revoked_at = models.now()
            db.session.commit()
        flash(gettext("%(name)s is revoked: its next request is refused.", name=client.name),
              "info")
        return redirect(url_for("ApiClientView.index"))

    @expose("/<int:pk>/subscribe", methods=["GET", "POST"])
    @has_access
    def subscribe(self, pk):
        """A webhook for the client; its signing secret on the next page, once."""
        client = self._client(pk)
        form = _subscription_form()
        if request.method == "POST" and form.validate():
            try:
                sub, secret = webhooks.subscribe(db.session, client, form.url.data,
                                                 form.actions.data or ())
            except ValueError as problem:
                db.session.rollback()
                form.url.errors = [str(problem)]
            else:
                return self._shown_once(gettext("Webhook subscribed"),
                                        gettext("Signing secret"), secret, client)
        if request.method == "POST":
            flash(gettext("The subscription was not made: see the marked fields."), "danger")
        return self.render_template(
            "zongzhi/api_client_form.html", form=form,
            title=gettext("Webhook for %(name)s", name=client.name))

    @expose("/webhooks/<int:pk>/switch", methods=["POST"])
    @has_access
    def switch(self, pk):
        """Pause or resume a subscription (resumed, it gets what it missed, in order)."""
        sub = db.session.get(models.WebhookSubscription, pk)
        if sub is None:
            abort(404)
        sub.active = not sub.active
        sub.failures, sub.retry_at = 0, None
        db.session.commit()
        flash(gettext("The webhook is resumed.") if sub.active else
              gettext("The webhook is paused."), "info")
        return redirect(url_for("ApiClientView.index"))
