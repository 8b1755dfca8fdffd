"""The documents a centre issues from a case, as PDFs: 受理通知书, 不予受理告知书, 转办单 (one per
referral), 人民调解协议书 (from a session's agreement) and 送达回证. Each gets a number (文号)
from a per-centre, per-year, per-kind counter taken in the issuing transaction (so two clerks
never get the same one), is drawn by WeasyPrint with the shipped font, and is kept as printed
(a snapshot in the file storage): issuing again makes a new version under the same number.
"""

from dataclasses import dataclass

from flask import current_app, render_template
from flask_babel import gettext
from sqlalchemy import select, update

from app import choices, models, reports, storage, workflow


class DocumentError(ValueError):
    """A document that cannot be issued now; the message says why."""


@dataclass(frozen=True)
class Kind:
    """One kind of document: its code, its number's mark, what it is issued for, and when."""

    code: str
    mark: str       # the number's kind mark: 博乐综治受〔2025〕12号
    subject: str    # "case", "referral" or "session"

    @property
    def label(self):
        return choices.DOCUMENT_KIND.label(self.code)


# The titles printed on the documents (official Chinese, whatever the reader's language).
DOCUMENT_TITLES = {"accept_notice": "受理通知书", "decline_notice": "不予受理告知书",
                   "referral_slip": "转办单", "agreement": "人民调解协议书",
                   "service_receipt": "送达回证"}

KINDS = {kind.code: kind for kind in (
    Kind("accept_notice", "受", "case"),
    Kind("decline_notice", "不受", "case"),
    Kind("referral_slip", "转", "referral"),
    Kind("agreement", "调协", "session"),
    Kind("service_receipt", "送", "case"),
)}


def available(case, kind, subject=None):
    """None when the document may be issued now for this case (and referral or session), else
    why not, in words."""
    if kind.code == "accept_notice" and case.accepted_at is None:
        return gettext("The case has not been accepted.")
    if kind.code == "decline_notice" and case.declined_at is None:
        return gettext("The case has not been declined.")
    if kind.code == "referral_slip" and (subject is None or subject.dispute_id != case.id):
        return gettext("Choose the referral the slip is for.")
    if kind.code == "agreement" and (subject is None or subject.dispute_id != case.id
                                     or subject.result != "agreed"):
        return gettext("Only a session that reached an agreement has an agreement to print.")
    if kind.code == "service_receipt" and not _issued(case):
        return gettext("Issue the document to be served first.")
    return None


def _issued(case):
    """The documents already issued for a case (newest version of each number)."""
    from app.extensions import db

    rows = db.session.scalars(select(models.CaseDocument).where(
        models.CaseDocument.dispute_id == case.id).order_by(models.CaseDocument.issued_at)).all()
    latest = {}
    for row in rows:
        latest[row.number] = row
    return [row for row in latest.values() if row.kind != "service_receipt"]


def offered(case):
    """[(kind, subject, label)] the case page offers to issue now."""
    found = []
    for kind in KINDS.values():
        if kind.subject == "referral":
            subjects = list(case.referrals)
        elif kind.subject == "session":
            subjects = [s for s in case.sessions if s.result == "agreed"]
        else:
            subjects = [None]
        for subject in subjects:
            if available(case, kind, subject) is None:
                label = str(kind.label)
                if kind.subject == "referral":
                    label += f"（{subject.unit}）"
                elif kind.subject == "session":
                    label += f"（{subject.scheduled_at:%Y-%m-%d}）"
                found.append((kind, subject, label))
    return found


def _next_number(session, centre, year, kind):
    """The next number of a kind for a centre and year, taken with one atomic UPDATE."""
    counter = models.DocumentCounter.__table__
    connection = session.connection()
    mine = (counter.c.centre_id == centre.id, counter.c.year == year, counter.c.kind == kind.code)
    bump = update(counter).where(*mine).values(last=counter.c.last + 1)
    if not connection.execute(bump).rowcount:
        connection.execute(workflow._insert_ignoring_duplicate(
            connection, counter, {"centre_id": centre.id, "year": year, "kind": kind.code,
                                  "last": 0}))
        connection.execute(bump)
    sequence = connection.execute(select(counter.c.last).where(*mine)).scalar_one()
    short = centre.short_name.removesuffix("市").removesuffix("县").removesuffix("区") or \
        centre.short_name
    return f"{short}综治{kind.mark}〔{year}〕{sequence}号"


def _previous(session, case, kind, subject):
    """The latest issue of the same document (same kind and subject), or None."""
    document = models.CaseDocument
    where = [document.dispute_id == case.id, document.kind == kind.code]
    if kind.subject == "referral":
        where.append(document.referral_id == subject.id)
    elif kind.subject == "session":
        where.append(document.session_id == subject.id)
    return session.scalar(select(document).where(*where)
                          .order_by(document.version.desc()).limit(1))


def fields(case, kind, subject, number, when):
    """The fixed, documented set of fields a document's template reads."""
    parties = sorted(case.parties, key=lambda p: (p.role != "applicant", p.id or 0))
    return {
        "number": number, "issued_on": when.date(), "centre": case.centre,
        "case": case, "parties": parties,
        "applicants": [p for p in parties if p.role == "applicant"],
        "respondents": [p for p in parties if p.role == "respondent"],
        "referral": subject if kind.subject == "referral" else None,
        "session": subject if kind.subject == "session" else None,
        "routes": _other_routes(case) if kind.code == "decline_notice" else [],
        "served": _issued(case) if kind.code == "service_receipt" else [],
    }


def _other_routes(case):
    """The legal routes a declined party may take instead (the route map, without mediation)."""
    from app.extensions import db

    return db.session.scalars(select(models.LegalRoute).where(
        models.LegalRoute.code != "mediation").order_by(models.LegalRoute.sort_order)).all()


def render(case, kind, subject, number, when):
    """The document as PDF bytes."""
    html = render_template(f"documents/{kind.code}.html", asset=reports.ASSET_SCHEME,
                           font=reports.FONT, title=DOCUMENT_TITLES[kind.code],
                           plain=reports.plain, choices_label=choices.PARTY_ROLE.label_text,
                           kind_label=choices.DOCUMENT_KIND.label_text,
                           **fields(case, kind, subject, number, when))
    return reports.render_pdf(html, current_app.static_folder,
                              current_app.config["REPORT_MAX_SECONDS"])


def issue(session, case, kind, actor, subject=None, now=None):
    """Issue a document: its number (the earlier one when issued again), the PDF stored as
    printed, the record of it; the caller commits. Raises DocumentError when not possible."""
    problem = available(case, kind, subject)
    if problem:
        raise DocumentError(problem)
    when = now or models.now()
    previous = _previous(session, case, kind, subject)
    if previous is not None:
        number, version = previous.number, previous.version + 1
    else:
        number, version = _next_number(session, case.centre, when.year, kind), 1
    content = render(case, kind, subject, number, when)
    key, size, digest = storage.storage().put(content)
    document = models.CaseDocument(
        dispute_id=case.id, kind=kind.code, number=number, version=version, issued_at=when,
        issued_by_id=getattr(actor, "id", None), storage_key=key, size=size, sha256=digest,
        referral_id=subject.id if kind.subject == "referral" else None,
        session_id=subject.id if kind.subject == "session" else None)
    session.add(document)
    session.flush()
    return document

