"""消息中心: a person's messages (deadlines coming and reached, returned referrals, poor
ratings), each opening its case, and how they want them besides (text message, e-mail, quiet
hours)."""

import re

from flask import Response, abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.forms import DynamicForm
from flask_babel import gettext, lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload
from wtforms import BooleanField, StringField, TimeField
from wtforms.validators import Length, Optional, ValidationError

from app import caches, choices, models, notices, storage
from app.extensions import db

PAGE_SIZE = 30
PHONE = re.compile(r"^1\d{10}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class PreferenceForm(DynamicForm):
    """Text message and e-mail copies, and quiet hours."""

    by_sms = BooleanField(_l("Also by text message"))
    phone = StringField(_l("Mobile number"), validators=[Optional(), Length(max=20)])
    by_email = BooleanField(_l("Also by e-mail"))
    email = StringField(_l("E-mail address"), validators=[Optional(), Length(max=120)])
    quiet_from = TimeField(_l("Quiet from"), validators=[Optional()])
    quiet_to = TimeField(_l("Quiet until"), validators=[Optional()])

    def validate_phone(self, field):
        """A mainland mobile number, needed for text messages."""
        if field.data and not PHONE.match(field.data.strip()):
            raise ValidationError(gettext("Enter an 11-digit mobile number."))
        if self.by_sms.data and not (field.data or "").strip():
            raise ValidationError(gettext("Text messages need a mobile number."))

    def validate_email(self, field):
        """An address, needed for e-mail unless the account has one."""
        if field.data and not EMAIL.match(field.data.strip()):
            raise ValidationError(gettext("Enter an e-mail address such as name@example.org."))

    def validate_quiet_to(self, field):
        """Quiet hours need both ends."""
        if (self.quiet_from.data is None) != (field.data is None):
            raise ValidationError(gettext("Give both ends of the quiet hours, or neither."))


class NoticeView(BaseView):
    """The signed-in person's messages and their delivery preferences."""

    route_base = "/messages"
    default_view = "index"
    base_permissions = ["can_list", "can_edit"]
    method_permission_name = {"index": "list", "open": "list", "read_all": "list",
                              "file": "list", "settings": "edit"}

    @expose("/")
    @has_access
    def index(self):
        """Newest first, the unread ones marked; ?unread=1 shows only those."""
        only_unread = request.args.get("unread") == "1"
        try:
            page = max(0, int(request.args.get("page", 0)))
        except ValueError:
            page = 0
        notice = models.Notice
        where = [notice.user_id == current_user.id]
        if only_unread:
            where.append(notice.read_at.is_(None))
        total = db.session.scalar(select(func.count()).select_from(notice).where(*where))
        rows = db.session.scalars(
            select(notice).where(*where).options(joinedload(notice.dispute))
            .order_by(notice.created_at.desc(), notice.id.desc())
            .offset(page * PAGE_SIZE).limit(PAGE_SIZE)).all()
        return self.render_template(
            "zongzhi/messages.html", rows=rows, total=total, page=page,
            pages=max(1, -(-total // PAGE_SIZE)), only_unread=only_unread, text=notices.text,
            kinds=choices.NOTICE_KIND, unread=notices.unread(db.session, current_user.id))

    @expose("/open/<int:pk>")
    @has_access
    def open(self, pk):
        """Mark the message read and go to what it is about."""
        notice = db.session.get(models.Notice, pk)
        if notice is None or notice.user_id != current_user.id:
            abort(404)
        if notice.read_at is None:
            notice.read_at = models.now()
            db.session.commit()
        if notice.file_key is not None:
            return redirect(url_for("NoticeView.file", pk=notice.id))
        if notice.dispute_id is None:
            return redirect(url_for("NoticeView.index"))
        if notice.referral_id is not None and \
                self.appbuilder.sm.has_access("can_show", "ReferralModelView") and \
                notice.kind in ("report_in_due", "answer_due"):
            return redirect(url_for("ReferralModelView.show", pk=notice.referral_id))
        return redirect(url_for("DisputeModelView.show", pk=notice.dispute_id))

    @expose("/file/<int:pk>")
    @has_access
    def file(self, pk):
        """The file a background job made for the person (their export)."""
        notice = db.session.get(models.Notice, pk)
        if notice is None or notice.user_id != current_user.id or notice.file_key is None:
            abort(404)
        try:
            content = storage.storage().get(notice.file_key)
        except storage.Missing:
            abort(404)
        kind = {"csv": "text/csv; charset=utf-8", "zip": "application/zip"}.get(
            notice.file_name.rsplit(".", 1)[-1],
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        return Response(content, mimetype=kind, headers={
            "Content-Disposition": f"attachment; filename={notice.file_name}",
            "X-Content-Type-Options": "nosniff"})

    @expose("/read-all", methods=["POST"])
    @has_access
    def read_all(self):
        """Mark every message read."""
        db.session.execute(update(models.Notice).where(
            models.Notice.user_id == current_user.id, models.Notice.read_at.is_(None))
            .values(read_at=models.now()))
        db.session.commit()
        caches.messages.invalidate(current_user.id)  # an UPDATE the session's hooks do not see
        flash(gettext("Every message is marked read."), "info")
        return redirect(url_for("NoticeView.index"))

    @expose("/settings", methods=["GET", "POST"])
    @has_access
    def settings(self):
        """Text message and e-mail copies and quiet hours: kept as typed when refused."""
        preference = db.session.get(models.NoticePreference, current_user.id)
        form = PreferenceForm(obj=preference) if request.method == "GET" else PreferenceForm()
        if request.method == "GET" and preference is None:
            staff = db.session.scalar(select(models.Staff).filter_by(user_id=current_user.id))
            form.phone.data = staff.phone if staff is not None else None
        if request.method == "POST" and form.validate():
            preference = preference or models.NoticePreference(user_id=current_user.id)
            preference.by_sms, preference.by_email = form.by_sms.data, form.by_email.data
            preference.phone = (form.phone.data or "").strip() or None
            preference.email = (form.email.data or "").strip() or None
            preference.quiet_from, preference.quiet_to = form.quiet_from.data, form.quiet_to.data
            if preference.by_email and not (preference.email or current_user.email):
                form.email.errors = [gettext("E-mail needs an address.")]
            else:
                db.session.add(preference)
                db.session.commit()
                flash(gettext("Your message settings are saved."), "success")
                return redirect(url_for("NoticeView.settings"))
            db.session.rollback()
        elif request.method == "POST":
            flash(gettext("The settings were not saved: see the marked fields."), "danger")
        return self.render_template("zongzhi/message_settings.html", form=form,
                                    account_email=current_user.email)
