"""Run by test_timezone.py under a given TZ: register and accept a case at 00:30 China time on
1 December 2026 (16:30 UTC the day before) and print what the app stores, counts and shows."""

import json
import sys

from freezegun import freeze_time
from flask_migrate import upgrade
from sqlalchemy import select


def main(url):
    """Print the probe's findings as JSON."""
    from app import create_app, models, stats, workflow
    from app.cli import sync_roles
    from app.extensions import db
    from seeds import demo

    app = create_app("config.TestConfig", SQLALCHEMY_DATABASE_URI=url)
    with app.app_context(), app.test_request_context():
        upgrade()
        sync_roles()
        demo.load_world(db.session)
        db.session.commit()
        centre = db.session.scalar(select(models.Centre).join(models.Region)
                                   .where(models.Region.code == "652701"))
        with freeze_time("2026-11-30 16:30:00"):  # UTC
            case = models.Dispute(
                centre=centre, title="零点三十分登记", description="跨日登记", source="window",
                level="county", risk="low",
                category=db.session.scalar(select(models.Category).filter_by(
                    code="private_lending")))
            db.session.add(case)
            workflow.register(db.session, case, None)
            db.session.commit()
            area = stats.area_by_code(db.session, "652701")
            december, november = stats.Period.parse("2026-12"), stats.Period.parse("2026-11")
            first_day = stats.Period.parse("2026-12-01")
            found = {
                "registered_at": case.registered_at.isoformat(),
                "case_no": case.case_no,
                "accept_due": case.accept_due.isoformat(),
                "today": models.today().isoformat(),
                "default_period": stats.Period.month_of(models.today()).code,
                "december": stats.summary(db.session, area, december)["registered"],
                "november": stats.summary(db.session, area, november)["registered"],
                "first_day": stats.summary(db.session, area, first_day)["registered"],
                "days_elapsed": december.days_elapsed(models.today()),
                "report_time": f"{models.now():%Y-%m-%d %H:%M}",
            }
    print(json.dumps(found, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1])
