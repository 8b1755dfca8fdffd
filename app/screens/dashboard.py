"""The leaders' dashboard: figures and charts of an area and period, their drill-down links
to the lists they count, and the statistics PDF."""

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext, lazy_gettext as _l
from flask_login import current_user

from app import audit, caches, fab_compat, models, reports, scope, stats


class DashboardView(BaseView):
    """Leaders' dashboard: KPI tiles and charts for an area and period, drill-down, PDF."""

    route_base = "/dashboard"
    default_view = "index"
    base_permissions = ["can_show", "can_download"]
    method_permission_name = {"index": "show", "chart": "show", "definitions": "show",
                              "pdf": "download", "batch": "download"}
    CHARTS = {
        "trend": _l("Monthly trend"), "category": _l("By category"), "source": _l("By source"),
        "level": _l("By level resolved at (cases resolved in the period)"),
        "centre": _l("By centre"), "funnel": _l("Status funnel, as of now"),
        "overdue": _l("Overdue referrals by unit, now"),
    }

    def _choice(self):
        """The area and period asked for, within the user's scope; flashes a bad period."""
        session = self.appbuilder.session
        areas = caches.areas(session, scope.current())
        area = stats.area_for(session, scope.current(), request.args.get("area"), areas)
        if area is None:
            abort(404)
        text = request.args.get("period")
        # The last complete month: figures that no longer move, a whole month to compare
        # (this month is one click away among the quick choices).
        period = stats.Period.month_of(models.today()).previous()
        request.environ["zongzhi.bad_period"] = False
        if text:
            try:
                period = stats.Period.parse(text)
            except stats.BadPeriod as error:
                flash(str(error), "danger")
                request.environ["zongzhi.bad_period"] = True
        return session, area, period, areas

    def _page(self, only=None):
        """The dashboard, or one of its charts: the body is rendered once per data generation
        and values of the clock's figures, and cached; only the page around it (menu, user,
        tokens) is rendered per request."""
        session, area, period, areas = self._choice()
        clock = stats.clock_figures(session, area, period)
        body = caches.stats_value(
            "dashboard-body", lambda: self._body(session, area, period, areas, only, clock),
            area.region_id, period.code, models.today(), only,
            ",".join(str(a.region_id) for a in areas), caches.digest(clock))
        return self.render_template("zongzhi/dashboard.html", body=body, only=only)

    def _body(self, session, area, period, areas, only, clock):
        """The dashboard's content: pickers, tiles, charts' data, tables."""
        data = caches.report(session, area, period, clock=clock)
        payload = {**data, "links": drill_links(data, area, period), "only": only,
                   "titles": {**{k: str(v) for k, v in self.CHARTS.items()},
                              "registered": str(stats.FIGURE_BY_CODE["registered"].name),
                              "concluded": str(stats.FIGURE_BY_CODE["concluded"].name)}}
        return render_template(
            "zongzhi/dashboard_body.html", data=data, payload=payload, area=area,
            period=period, areas=areas, only=only, chart_title=self.CHARTS.get(only),
            figures=stats.FIGURE_BY_CODE, presets=period_presets(models.today()))

    @expose("/")
    @has_access
    def index(self):
        """KPI tiles with their change, and every chart."""
        return self._page()

    @expose("/chart/<name>")
    @has_access
    def chart(self, name):
        """One chart on its own page (the chart entries of the menu)."""
        if name not in self.CHARTS:
            abort(404)
        return self._page(only=name)

    @expose("/definitions")
    @has_access
    def definitions(self):
        """指标说明: every figure defined in plain words, from the definitions the code uses."""
        return self.render_template("zongzhi/definitions.html", figures=stats.FIGURES)

    @expose("/pdf-batch", methods=["GET", "POST"])
    @has_access
    def batch(self):
        """The statistics PDF of the area and of every county below it, made by the job
        queue into one ZIP offered in the message centre (asked for on a page, then posted)."""
        from app import jobs  # not at the top: importing it opens the queue's file or Redis

        session, area, period, areas = self._choice()
        if request.environ["zongzhi.bad_period"]:
            return redirect(url_for("DashboardView.index", area=area.region_id))
        chosen = reports.batch_areas(areas, area)
        if request.method == "POST":
            asked = (current_user.id, area.region_id, period.code)
            session.commit()  # this request's bookkeeping first: the job starts from it
            try:
                jobs.statistics_batch(*asked)
            except Exception:  # noqa: BLE001 — the queue's store is down: say so
                flash(gettext("The PDFs could not be started now; try again in a moment."),
                      "danger")
            else:
                flash(gettext("%(count)s PDFs are being made in the background; the message "
                              "centre will offer them as one ZIP file.", count=len(chosen)),
                      "success")
            return redirect(url_for("DashboardView.index", area=area.region_id,
                                    period=period.code))
        return self.render_template("zongzhi/pdf_batch.html", area=area, period=period,
                                    chosen=chosen)

    @expose("/pdf")
    @has_access
    def pdf(self):
        """The statistics of the area and period as a PDF download."""
        session, area, period, _areas = self._choice()
        if request.environ["zongzhi.bad_period"]:  # never a PDF of another period than asked
            return redirect(url_for("DashboardView.index", area=area.region_id))
        try:
            content = reports.statistics_pdf(session, area, period, user=current_user,
                                             register=request.args.get("register") == "1",
                                             data=caches.report(session, area, period))
        except reports.ReportTooLarge as error:
            flash(str(error), "danger")
            return redirect(url_for("DashboardView.index", area=area.region_id,
                                    period=period.code))
        audit.record("export", "report", detail={"area": area.name, "period": period.code})
        name = f"statistics-{area.region_id}-{period.code}.pdf"
        return Response(content, mimetype="application/pdf",
                        headers={"Content-Disposition": f"attachment; filename={name}"})


def period_presets(today):
    """Quick choices for the period picker: this and last month, quarter and year."""
    month = stats.Period.month_of(today)
    quarter = stats.Period.parse(f"{today.year}-Q{(today.month + 2) // 3}")
    year = stats.Period.parse(str(today.year))
    return [(_l("This month"), month.code), (_l("Last month"), month.previous().code),
            (_l("This quarter"), quarter.code), (_l("Last quarter"), quarter.previous().code),
            (_l("This year"), year.code), (_l("Last year"), year.previous().code)]


def _filter_url(view, args, **base):
    """A list URL of a view with filters, each given as (column, filter class name, value)."""
    filters = fab_compat.offered_filters(fab_compat.view_filters(view))
    query = dict(base)
    for column, kind, value in args:
        index = next(i for i, f in enumerate(filters[column]) if type(f).__name__ == kind)
        query[f"_flt_{index}_{column}"] = value
    return url_for(f"{type(view).__name__}.list", **query)


def drill_links(data, area, period):
    """For each chart item, the list of the cases (or referrals) it counts."""
    cases = _view("DisputeModelView")
    referrals = _view("ReferralModelView")
    common = [("centre", "FilterInArea", area.region_id),
              ("registered_at", "FilterInPeriod", period.code)]

    def cases_with(*extra, base=common):
        return _filter_url(cases, [*base, *extra])

    links = {
        "category": {str(i["code"]): cases_with(("category", "FilterRelationOneToManyEqual",
                                                 i["code"])) for i in data["by_category"]},
        "source": {str(i["code"]): cases_with(("source", "FilterEqual", i["code"]))
                   for i in data["by_source"]},
        # Resolved cases by the level they were resolved at, concluded in the period.
        "level": {str(i["code"]): _filter_url(cases, [
            common[0], ("concluded_at", "FilterConcludedIn", f"{period.code}|{i['code']}")])
            for i in data["by_level"] if i["code"]},
        "centre": {str(i["code"]): cases_with(("centre", "FilterRelationOneToManyEqual",
                                               i["code"]), base=common[1:])
                   for i in data["by_centre"]},
        "funnel": {i["code"]: cases_with(("status", "FilterReached", i["code"]))
                   for i in data["funnel"]},
        "overdue": {str(i["code"]): _filter_url(referrals, [
            ("unit", "FilterRelationOneToManyEqual", i["code"]),
            ("status", "FilterOverdue", "1")]) for i in data["overdue"]["by_unit"]},
        "trend": {},
    }
    for point in data["trend"]:
        links["trend"][point["month"]] = {
            "registered": _filter_url(cases, [common[0], ("registered_at", "FilterInPeriod",
                                                          point["month"])]),
            "concluded": _filter_url(cases, [common[0], ("concluded_at", "FilterConcludedIn",
                                                         point["month"])]),
        }
    return links


def _view(name):
    """A registered view by class name."""
    return next(v for v in current_app.appbuilder.baseviews if type(v).__name__ == name)
