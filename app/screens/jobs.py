"""后台任务: what waits in the job queue, and each recent run with how it ended (the error of a
failed one), for the administrator; a job can be started now."""

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext
from sqlalchemy import select

from app import choices, jobs, models
from app.extensions import db

LIMIT = 100


class JobView(BaseView):
    """The job queue and the latest runs."""

    route_base = "/jobs"
    default_view = "index"
    base_permissions = ["can_list", "can_run"]
    method_permission_name = {"index": "list", "run": "run"}

    @expose("/")
    @has_access
    def index(self):
        """Queued and scheduled jobs, then runs newest first (?status=failed for failures)."""
        status = request.args.get("status")
        run = models.JobRun
        query = select(run).order_by(run.started_at.desc(), run.id.desc()).limit(LIMIT)
        if status in choices.JOB_STATUS.codes:
            query = query.where(run.status == status)
        try:
            waiting, problem = jobs.queued(), None
        except Exception:  # noqa: BLE001 — the queue's store is down: say so, show the runs
            waiting, problem = [], gettext("The job queue cannot be read now.")
        return self.render_template(
            "zongzhi/jobs.html", waiting=waiting, problem=problem,
            runs=db.session.scalars(query).all(), status=status, statuses=choices.JOB_STATUS,
            runnable=sorted(jobs.RUNNABLE))

    @expose("/run/<name>", methods=["POST"])
    @has_access
    def run(self, name):
        """Queue a job now (they are idempotent: an extra run does no harm)."""
        task = jobs.RUNNABLE.get(name)
        if task is None:
            abort(404)
        try:
            task()
        except Exception:  # noqa: BLE001
            flash(gettext("The job could not be queued: the job queue cannot be reached."),
                  "danger")
        else:
            flash(gettext("The job is queued."), "success")
        return redirect(url_for("JobView.index"))
