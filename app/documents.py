"""The documents a centre issues from a case, as PDFs: 受理通知书, 不予受理告知书, 转办单 (one per
referral), 人民调解协议书 (from a session's agreement) and 送达回证. Each gets a number (文号)
from a per-centre, per-year, per-kind counter taken in the issuing transaction (so two clerks
never get the same one), is drawn by WeasyPrint with the shipped font, and is kept as printed
(a snapshot in the file storage): issuing again makes a new version under the same number.
"""

from dataclasses import dataclass

import os
import re

from flask import current_app, render_template
from flask_babel import gettext
from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup
from sqlalchemy import select, update

from app import choices, models, personal, reports, storage, workflow
from app.extensions import db


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
    return f"{centre.short_name}综治{kind.mark}〔{year}〕{sequence}号"


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


def _other_routes(case):
    """The legal routes a declined party may take instead (the route map, without mediation)."""
    return db.session.scalars(select(models.LegalRoute).where(
        models.LegalRoute.code != "mediation").order_by(models.LegalRoute.sort_order)).all()


def _day(value):
    """A date as documents print it: 2025年3月7日 (blank for none)."""
    if value is None:
        return ""
    return f"{value.year}年{value.month}月{value.day}日"


def _moment(value):
    """A time as documents print it: 2025年3月7日 10:00."""
    return f"{_day(value)} {value:%H:%M}" if value is not None else ""


def fields(case, kind, subject, number, when):
    """The fixed, documented set of fields a document's template reads: plain values only
    (text, numbers, lists of them), never the records themselves, so that an edited template
    can print what a document should say and nothing else (FIELDS documents them)."""
    text = reports.plain
    parties = sorted(case.parties, key=lambda p: (p.role != "applicant", p.id or 0))
    # ID numbers and phones are printed masked (6527**********1234): the paper is handed out
    # and downloaded by roles that see personal data masked; the parties check their own.
    people = [{"role": choices.PARTY_ROLE.label_text(p.role), "side": p.role,
               "name": text(p.name), "id_number": personal.mask("id", p.id_number or ""),
               "phone": personal.mask("phone", p.phone or ""),
               "address": text(p.address or "")} for p in parties]
    found = {
        "number": number, "issued_on": _day(when),
        "centre": {"name": case.centre.name, "short_name": case.centre.short_name,
                   "address": case.centre.address or "", "phone": case.centre.phone or ""},
        "case": {"case_no": case.case_no, "title": text(case.title),
                 "description": text(case.description),
                 "amount": f"{case.amount:,.2f}元" if case.amount is not None else "",
                 "category": case.category.name if case.category else "",
                 "route": case.route.name if case.route else "人民调解",
                 "registered_on": _day(case.registered_at), "accepted_on": _day(case.accepted_at),
                 "handle_due": _day(case.handle_due),
                 "decline_reason": text(case.decline_reason or "")},
        "parties": people,
        "applicants": [p for p in people if p["side"] == "applicant"],
        "respondents": [p for p in people if p["side"] == "respondent"],
        "referral": None, "session": None, "routes": [], "served": [],
    }
    if kind.subject == "referral":
        found["referral"] = {"unit": str(subject.unit), "instructions": text(
            subject.instructions or ""), "sent_at": _moment(subject.sent_at),
            "respond_due": _moment(subject.respond_due),
            "answer_due": _moment(subject.answer_due)}
    if kind.subject == "session":
        mediator = subject.expert.name if subject.expert else (
            subject.staff.name if subject.staff else "")
        found["session"] = {"held_on": _day(subject.scheduled_at), "mediator": text(mediator),
                            "agreement_text": text(subject.agreement_text or ""),
                            "performance_method": text(subject.performance_method or ""),
                            "performance_due": _day(subject.performance_due)}
    if kind.code == "decline_notice":
        found["routes"] = [{"name": r.name, "description": text(r.description or "")}
                           for r in _other_routes(case)]
    if kind.code == "service_receipt":
        found["served"] = [{"kind": choices.DOCUMENT_KIND.label_text(d.kind),
                            "number": d.number} for d in _issued(case)]
    return found


# What a template may print: shown to the administrator beside the editor.
FIELDS = [
    ("number, issued_on", "文号、出具日期"),
    ("centre.name / short_name / address / phone", "综治中心名称、简称、地址、电话"),
    ("case.case_no / title / description / amount / category / route",
     "案件编号、标题、事实、金额、类别、途径"),
    ("case.registered_on / accepted_on / handle_due / decline_reason",
     "登记、受理日期、办结期限、不予受理理由"),
    ("parties, applicants, respondents: role / name / id_number / phone / address",
     "当事人（身份、姓名、身份证号、电话、住址）"),
    ("referral.unit / instructions / sent_at / respond_due / answer_due",
     "转办单位、说明、时间、报到和反馈期限"),
    ("session.held_on / mediator / agreement_text / performance_method / performance_due",
     "调解日期、调解员、协议内容、履行方式和期限"),
    ("routes: name / description", "其他法定途径"), ("served: kind / number", "送达的文书"),
]


def _issuer(case, kind):
    """Who issues the document, as printed above the seal."""
    if kind.code == "agreement":
        return f"{case.centre.name}人民调解委员会"
    return case.centre.name


class _Sandbox(SandboxedEnvironment):
    """Jinja's sandbox, without the power operator (10**10**10 would hang a worker)."""

    intercepted_binops = frozenset(["**"])

    def call_binop(self, context, operator, left, right):
        if operator == "**":
            raise SecurityError("**")
        return super().call_binop(context, operator, left, right)


SANDBOX = _Sandbox(autoescape=True, undefined=StrictUndefined)


class TemplateProblem(ValueError):
    """A document template that cannot be used; the message says why."""


def default_body(kind):
    """The shipped wording of a kind (app/templates/documents/<kind>.html)."""
    path = os.path.join(current_app.root_path, "templates", "documents", f"{kind.code}.html")
    with open(path, encoding="utf-8") as source:
        return source.read()


def body_for(centre, kind):
    """The wording in force for a centre: its own, else the region's, else the shipped one."""
    template = models.DocumentTemplate
    for owner in (centre.id, None):
        found = db.session.scalar(select(template.body).where(
            template.kind == kind.code, template.centre_id.is_(None) if owner is None
            else template.centre_id == owner))
        if found:
            return found
    return default_body(kind)


def render_body(body, values):
    """A template's body rendered in the sandbox with the documented fields; TemplateProblem
    (in plain words, never the template engine's own) for a syntax error, another template
    pulled in, a forbidden construct or an unknown field."""
    try:
        tree = SANDBOX.parse(body)
    except TemplateSyntaxError as error:
        raise TemplateProblem(gettext(
            "Line %(line)s of the template cannot be read: check that every {%% … %%} and "
            "{{ … }} is closed and every {%% for %%} and {%% if %%} has its end.",
            line=error.lineno)) from error
    if any(True for _node in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport,
                                             nodes.Extends))):
        raise TemplateProblem(gettext("A document's wording may not pull in another template."))
    try:
        return Markup(SANDBOX.from_string(body).render(**values))
    except SecurityError as error:
        raise TemplateProblem(gettext("The template uses something documents may not.")) \
            from error
    except Exception as error:  # noqa: BLE001 (an author's template: any failure is theirs)
        named = re.search(r"attribute '(\w+)'|'(\w+)' is undefined", str(error))
        name = next((g for g in named.groups() if g), None) if named else None
        raise TemplateProblem(gettext(
            "The template names %(name)s, which documents do not have: see the fields listed.",
            name=name or gettext("a field"))) from error


def render(case, kind, subject, number, when, body=None):
    """The document as PDF bytes (with the wording in force, or the one given)."""
    values = fields(case, kind, subject, number, when)
    content = render_body(body if body is not None else body_for(case.centre, kind), values)
    html = render_template("documents/page.html", asset=reports.ASSET_SCHEME,
                           title=DOCUMENT_TITLES[kind.code], number=number, body=content,
                           issuer=_issuer(case, kind), issued_on=values["issued_on"])
    return reports.render_pdf(html, current_app.static_folder,
                              current_app.config["REPORT_MAX_SECONDS"])


def issue(session, case, kind, actor, subject=None, now=None):
    """Issue a document: its number (the earlier one when issued again), the PDF stored as
    printed, the record of it; the caller holds the case's lock (taken first in its
    transaction, so two issues of one document take turns) and commits. Raises DocumentError
    when not possible."""
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

