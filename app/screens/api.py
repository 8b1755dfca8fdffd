"""JSON access to cases and referrals and their workflow steps, with the screens' rights, scope
and masking: the steps offered are the workflow's, the same the pages render."""

import base64
import binascii
import datetime
import decimal

from flask import abort, current_app, jsonify, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access_api
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import joinedload, selectinload

from app import clock, models, openapi, outbox, personal, scope, transactions, workflow
from app.extensions import db
from app.openapi import Doc, key, query


def _iso(value):
    """A moment as ISO text, or None."""
    return clock.iso(value)


def _option(field, option):
    """One choice of a step's field as JSON: the value to send and what it is."""
    if field.kind in ("units", "expert"):
        item = option.item
        return {"value": item.id, "label": getattr(item, "name", None) or str(item),
                "score": option.score, "reasons": [str(r) for r in option.reasons]}
    if field.kind == "route":
        return {"value": option.id, "label": option.name}
    return {"value": option[0], "label": str(option[1])}


def offers_json(offers):
    """The steps offered, as the API lists them: each with its target and its fields."""
    return [{
        "step": offer.step.name, "label": str(offer.title),
        "target": {"kind": offer.step.subject, "id": offer.target.id},
        "fields": [{
            "name": field.name, "kind": field.kind, "label": str(field.label),
            "required": field.required,
            **({"default": field.default} if field.default is not None else {}),
            **({"options": [_option(field, o) for o in offer.options[field.name]]}
               if field.name in offer.options else {})} for field in offer.step.fields],
    } for offer in offers]


def _body():
    """The JSON object sent, or None."""
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def save(change, answer):
    """Make a change and commit it, answering with JSON made before the commit (nothing can
    fail after it): (answer, None), or (None, the refusal): 404 for no such step, 409 stale,
    422 refused, 503 not saved."""
    session = db.session
    try:
        with transactions.saving(session):
            change(session)
            session.flush()
            answered = answer()
            session.commit()
    except LookupError:
        session.rollback()
        return None, (jsonify(code="not_found", message=str(_l("No such step."))), 404)
    except workflow.VersionConflict as error:
        session.rollback()
        return None, (jsonify(code="stale_version", message=str(error)), 409)
    except workflow.WorkflowError as error:
        session.rollback()
        return None, (jsonify(code="refused", message=str(error)), 422)
    except transactions.SaveFailed as error:
        session.rollback()
        if error.conflict:
            return None, (jsonify(code="conflict", message=str(error)), 409)
        return None, (jsonify(code="not_saved", message=str(error)), 503)
    return answered, None


def take(subject, name, body, answer, version=None):
    """Take a step through the workflow and answer with the subject's JSON."""
    answered, refused = save(
        lambda session: workflow.perform(session, subject, current_user, name, body, version),
        lambda: answer(subject))
    return refused or jsonify(answered)


MAX_PAGE = 100


class BadArgument(ValueError):
    """A query argument that cannot be used; its message says which and why."""


def _bad(error):
    """The JSON answer to a bad query argument."""
    return jsonify(code="bad_request", message=str(error)), 400


def _limit(default=25):
    """The page size asked for (1 to MAX_PAGE)."""
    text = request.args.get("limit", str(default))
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE:
        raise BadArgument(_l("limit must be a whole number from 1 to %(most)s.", most=MAX_PAGE))
    return int(text)


LARGEST = 2**63 - 1  # the largest whole number a database column here holds


def _number(name, most=models.LARGEST_KEY):
    """A whole-number query argument (an id: no larger than a key column holds), or None."""
    text = request.args.get(name)
    if text is None or text == "":
        return None
    if not text.isdigit() or int(text) > most:
        raise BadArgument(_l("%(name)s must be a whole number from 0 to %(most)s.", name=name,
                             most=most))
    return int(text)


def _day(name):
    """A date query argument (YYYY-MM-DD), or None when not given."""
    text = request.args.get(name)
    if text is None:
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise BadArgument(_l("%(name)s must be a date written YYYY-MM-DD.", name=name)) from None


def _cursor_text(moment, key):
    """An opaque cursor for the row after which the next page starts."""
    return base64.urlsafe_b64encode(f"{moment.isoformat()}|{key}".encode()).decode().rstrip("=")


def _cursor(text):
    """(moment, key) of a cursor this API gave, or None for the first page."""
    if not text:
        return None
    try:
        moment, key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode() \
            .split("|")
        return datetime.datetime.fromisoformat(moment), int(key)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadArgument(_l("after must be a cursor this API gave.")) from None


class Invalid(ValueError):
    """A body that cannot be saved: {field: reason} in words."""

    def __init__(self, problems):
        super().__init__(problems)
        self.problems = problems


def _invalid(error):
    """The JSON answer to a body that cannot be saved: every field's reason."""
    return jsonify(code="invalid", message=str(_l("Nothing was saved: see the fields.")),
                   fields={k: str(v) for k, v in error.problems.items()}), 422


def _text(body, name, problems, most, required=True):
    """A text field of a body, trimmed; notes a problem."""
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems[name] = _l("This field is required.")
        return None
    if not isinstance(value, str) or len(value.strip()) > most:
        problems[name] = _l("Text of at most %(most)s characters.", most=most)
        return None
    return value.strip()


def _code(body, name, options, problems, required=True):
    """A coded field (one of a Choices set's codes); notes a problem."""
    value = body.get(name)
    if value is None and not required:
        return None
    if value not in options.codes:
        problems[name] = _l("One of: %(codes)s.", codes=", ".join(map(str, options.codes)))
        return None
    return value


def _amount(body, problems):
    """The amount in dispute: a number of yuan, not negative, or nothing."""
    value = body.get("amount")
    if value is None or value == "":
        return None
    try:
        amount = decimal.Decimal(str(value))
    except decimal.InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount < 0 or amount >= 10 ** 12:
        problems["amount"] = _l("A number of yuan, not negative.")
        return None
    return amount.quantize(decimal.Decimal("0.01"))


def one_party(item, problems):
    """A party from a JSON object, its numbers checked as the forms check them."""
    role = _code(item, "role", models.choices.PARTY_ROLE, problems)
    name = _text(item, "name", problems, 50)
    for field in ("id_number", "phone", "address"):
        if item.get(field) is not None and not isinstance(item.get(field), str):
            problems[field] = _l("Text, or nothing.")
    number, phone = item.get("id_number"), item.get("phone")
    number = personal.normalise_number(number).upper() or None \
        if isinstance(number, str) else None
    if number and personal.id_number_problem(number):
        problems["id_number"] = personal.id_number_problem(number)
    phone = personal.normalise_number(phone) or None if isinstance(phone, str) else None
    if phone and personal.phone_problem(phone):
        problems["phone"] = personal.phone_problem(phone)
    address = _text(item, "address", problems, 200, required=False)
    return models.Party(role=role, name=name, id_number=number, phone=phone, address=address)


def _parties(body, problems):
    """The parties of a new case: [Party] (an applicant and a respondent at least)."""
    given = body.get("parties")
    if not isinstance(given, list) or not given:
        problems["parties"] = _l("Give the parties: an applicant and a respondent at least.")
        return []
    found = []
    for n, item in enumerate(given):
        if not isinstance(item, dict):
            problems[f"parties[{n}]"] = _l("Each party is an object.")
            continue
        inner = {}
        found.append(one_party(item, inner))
        problems.update({f"parties[{n}].{k}": v for k, v in inner.items()})
    roles = {p.role for p in found}
    if not problems and not {"applicant", "respondent"} <= roles:
        problems["parties"] = _l("Give the parties: an applicant and a respondent at least.")
    return found


def key_of(value):
    """A row's key sent in a JSON body (a whole number that fits a key column), or None."""
    if isinstance(value, int) and not isinstance(value, bool) and \
            0 < value <= models.LARGEST_KEY:
        return value
    return None


def _version(body):
    """The version the caller saw: the body's `version`, else the If-Match header's ETag."""
    if isinstance(body, dict) and body.get("version") is not None:
        return body["version"]
    match = request.headers.get("If-Match", "").strip()
    if match.startswith("W/"):
        match = match[2:]
    match = match.strip('"')
    return int(match) if match.isdigit() else None


def etag(answer, version):
    """An answer carrying the row's version as its ETag (send it back as If-Match)."""
    answer.headers["ETag"] = f'"{version}"'
    return answer


class CaseApi(BaseView):
    """Cases: the list with filters and keyset pages, a case, its documents and files, the
    steps offered on it, and taking one."""

    route_base = "/api/v1/cases"
    class_permission_name = "DisputeModelView"
    method_permission_name = {"index": "list", "get": "show", "documents": "show",
                              "attachments": "show", "steps": "show", "take_step": "step",
                              "create": "add", "update": "edit"}
    base_permissions = ["can_list", "can_show", "can_step", "can_add", "can_edit"]
    openapi = {
        "index": Doc("CasePage", [
            query("status", description="A status code",
                  enum=list(models.choices.DISPUTE_STATUS.codes)),
            key("centre", "A centre's id"),
            key("category", "A category's id"),
            query("registered_from", description="First day, YYYY-MM-DD", format="date"),
            query("registered_to", description="Last day, YYYY-MM-DD", format="date"),
            query("order", description="desc (default): newest registered first; asc: oldest",
                  enum=["asc", "desc"]),
            query("after", description="The `next` of the page before",
                  pattern="^[A-Za-z0-9_-]+$"),
            query("limit", "integer", "Cases a page", minimum=1, maximum=MAX_PAGE)],
            errors=(400, 401, 403)),
        "get": Doc("Case"), "documents": Doc("Files"), "attachments": Doc("Files"),
        "create": Doc("Case", body="NewCase", errors=(400, 401, 403, 422, 503), status=201),
        "update": Doc("Case", body="CaseChange", errors=(400, 401, 403, 404, 409, 422, 428,
                                                          503)),
        "steps": Doc("Steps"),
        "take_step": Doc("Case", body="StepBody",
                         errors=(400, 401, 403, 404, 409, 422, 428, 503)),
    }

    @expose("", methods=["GET"])
    @has_access_api
    def index(self):
        """Cases inside the caller's scope, newest registered first (order=asc: oldest first), a
        page at a time: filter by status, centre, category and registration dates; follow
        `next` for the next page."""
        case = models.Dispute
        try:
            limit = _limit()
            after = _cursor(request.args.get("after"))
            status = request.args.get("status") or None
            if status is not None and status not in models.choices.DISPUTE_STATUS.codes:
                raise BadArgument(_l("status must be one of %(codes)s.",
                                     codes=", ".join(models.choices.DISPUTE_STATUS.codes)))
            centre, category = _number("centre"), _number("category")
            since, until = _day("registered_from"), _day("registered_to")
            order = request.args.get("order", "desc")
            if order not in ("asc", "desc"):
                raise BadArgument(_l("order must be asc or desc."))
        except BadArgument as error:
            return _bad(error)
        query = select(case.id, case.case_no, case.title, case.status, case.version,
                       case.centre_id, case.category_id, case.source, case.level,
                       case.registered_at, case.concluded_at)
        conditions = [scope.condition(case)]
        if status is not None:
            conditions.append(case.status == status)
        if centre is not None:
            conditions.append(case.centre_id == centre)
        if category is not None:
            conditions.append(case.category_id == category)
        if since is not None:
            conditions.append(case.registered_at >= datetime.datetime.combine(
                since, datetime.time()))
        if until is not None:
            conditions.append(case.registered_at < datetime.datetime.combine(
                until + datetime.timedelta(days=1), datetime.time()))
        if after is not None:
            moment, key = after
            if order == "asc":
                conditions.append(or_(case.registered_at > moment,
                                      and_(case.registered_at == moment, case.id > key)))
            else:
                conditions.append(or_(case.registered_at < moment,
                                      and_(case.registered_at == moment, case.id < key)))
        conditions = [c for c in conditions if c is not None]
        sort = (case.registered_at.asc(), case.id.asc()) if order == "asc" else \
            (case.registered_at.desc(), case.id.desc())
        rows = db.session.execute(query.where(*conditions).order_by(*sort).limit(limit)).all()
        items = [{"id": r.id, "case_no": r.case_no, "title": r.title, "status": r.status,
                  "version": r.version, "centre": r.centre_id, "category": r.category_id,
                  "source": r.source, "level": r.level,
                  "registered_at": _iso(r.registered_at),
                  "concluded_at": _iso(r.concluded_at)} for r in rows]
        following = _cursor_text(rows[-1].registered_at, rows[-1].id) \
            if len(rows) == limit else None
        return jsonify(items=items, next=following)

    @staticmethod
    def _case(pk):
        """The case inside the caller's scope, or 404, with what its JSON shows and its steps
        read (its route), in one query for the case and one per list."""
        query = select(models.Dispute).where(models.Dispute.id == pk).options(
            joinedload(models.Dispute.centre), joinedload(models.Dispute.category),
            joinedload(models.Dispute.route), selectinload(models.Dispute.parties),
            selectinload(models.Dispute.events))
        where = scope.condition(models.Dispute)
        case = db.session.scalars(query if where is None else query.where(where)).first()
        if case is None:
            abort(404)
        scope.seen(models.Dispute, pk)  # the workflow's own check need not ask again
        return case

    @staticmethod
    def _json(case):
        """A case as JSON: personal data masked as on the screens."""
        return {
            "id": case.id, "case_no": case.case_no, "title": case.title, "status": case.status,
            "version": case.version, "centre": case.centre.name, "category": case.category.name,
            "registered_at": _iso(case.registered_at), "handle_due": _iso(case.handle_due),
            "parties": [{"role": p.role, "name": p.name,
                         "id_number": personal.mask("id", p.id_number),
                         "phone": personal.mask("phone", p.phone)} for p in case.parties],
            "events": [{"at": _iso(e.at), "action": e.action, "from": e.from_status,
                        "to": e.to_status} for e in case.events],
        }

    @expose("/<int:pk>", methods=["GET"])
    @has_access_api
    def get(self, pk):
        """One case; its ETag is its version (send it back as If-Match to change it)."""
        case = self._case(pk)
        return etag(jsonify(self._json(case)), case.version)

    @expose("", methods=["POST"])
    @has_access_api
    def create(self):
        """Register a case at a centre inside the caller's scope, with its parties (an
        applicant and a respondent at least): numbered, its clock started, on the feed."""
        body = _body()
        if body is None:
            return jsonify(code="bad_request", message=str(_l("Send a JSON object."))), 400
        problems = {}
        centre = key_of(body.get("centre"))
        if centre is None or not scope.visible(models.Centre, centre, write=True):
            problems["centre"] = _l("A centre's id inside your area.")
        category = key_of(body.get("category"))
        if category is None or db.session.get(models.Category, category) is None:
            problems["category"] = _l("A category's id.")
        case = models.Dispute(
            centre_id=centre if "centre" not in problems else None,
            category_id=category if "category" not in problems else None,
            title=_text(body, "title", problems, 200),
            description=_text(body, "description", problems, 5000),
            amount=_amount(body, problems),
            source=_code(body, "source", models.choices.DISPUTE_SOURCE, problems),
            level=_code(body, "level", models.choices.HANDLING_LEVEL, problems),
            risk=_code(body, "risk", models.choices.RISK_LEVEL, problems, required=False)
            or "low")
        parties = _parties(body, problems)
        if problems:
            return _invalid(Invalid(problems))
        def register(session):
            case.parties.extend(parties)
            session.add(case)
            workflow.register(session, case, current_user)

        answered, refused = save(register, lambda: self._json(case))
        if refused:
            return refused
        answer = etag(jsonify(answered), answered["version"])
        answer.status_code = 201
        answer.headers["Location"] = url_for("CaseApi.get", pk=answered["id"])
        return answer

    @expose("/<int:pk>", methods=["PATCH"])
    @has_access_api
    def update(self, pk):
        """Change a case's title, description, amount or risk; If-Match (or `version`) must
        name the version seen: 409 when someone changed it since, 428 when not sent."""
        case = self._case(pk)
        body = _body()
        if body is None:
            return jsonify(code="bad_request", message=str(_l("Send a JSON object."))), 400
        version = _version(body)
        if version is None:
            return jsonify(code="version_required",
                           message=str(_l("Send the version of the case you saw."))), 428
        if version != case.version:
            return jsonify(code="stale_version", message=str(_l(
                "Someone else changed this case after you opened it. Reload the page and try "
                "again."))), 409
        problems, changes = {}, {}
        for name, most in (("title", 200), ("description", 5000)):
            if name in body:
                changes[name] = _text(body, name, problems, most)
        if "amount" in body:
            changes["amount"] = _amount(body, problems)
        if "risk" in body:
            changes["risk"] = _code(body, "risk", models.choices.RISK_LEVEL, problems)
        try:
            workflow.check_editable(case)  # a concluded case changes only by reopening
        except workflow.WorkflowError as error:
            return jsonify(code="refused", message=str(error)), 422
        unknown = set(body) - {"title", "description", "amount", "risk", "version"}
        for name in unknown:
            problems[name] = _l("This field cannot be changed here.")
        if problems:
            return _invalid(Invalid(problems))
        def change(session):
            for name, value in changes.items():
                setattr(case, name, value)

        # Changed by someone else between the check and the write: 409 too (save).
        answered, refused = save(change, lambda: self._json(case))
        return refused or etag(jsonify(answered), answered["version"])

    @expose("/<int:pk>/documents", methods=["GET"])
    @has_access_api
    def documents(self, pk):
        """The documents issued for a case, each with its download address."""
        self._case(pk)
        rows = db.session.scalars(select(models.CaseDocument).where(
            models.CaseDocument.dispute_id == pk).order_by(models.CaseDocument.issued_at)).all()
        return jsonify([{
            "id": d.id, "kind": d.kind, "label": models.choices.DOCUMENT_KIND.label_text(d.kind),
            "number": d.number, "version": d.version, "issued_at": _iso(d.issued_at),
            "size": d.size, "sha256": d.sha256,
            "download": url_for("DocumentView.download", pk=d.id)} for d in rows])

    @expose("/<int:pk>/attachments", methods=["GET"])
    @has_access_api
    def attachments(self, pk):
        """The files a case holds; an ID copy has no download address for a masked role."""
        self._case(pk)
        rows = db.session.scalars(select(models.Attachment).where(
            models.Attachment.dispute_id == pk, models.Attachment.deleted_at.is_(None))
            .order_by(models.Attachment.uploaded_at)).all()
        unmasked = personal.can_view() or personal.can_reveal()
        return jsonify([{
            "id": a.id, "kind": a.kind, "file_name": a.file_name,
            "content_type": a.content_type, "size": a.size, "sha256": a.sha256,
            "uploaded_at": _iso(a.uploaded_at),
            "download": url_for("AttachmentView.download", pk=a.id)
            if a.kind != "id_copy" or unmasked else None} for a in rows])

    @expose("/<int:pk>/steps", methods=["GET"])
    @has_access_api
    def steps(self, pk):
        """The steps offered to the caller on the case now, with their fields: the case
        page's step forms, as data."""
        case = self._case(pk)
        return jsonify(version=case.version,
                       steps=offers_json(workflow.steps_for(db.session, case, current_user)))

    @expose("/<int:pk>/steps/<step>", methods=["POST"])
    @has_access_api
    def take_step(self, pk, step):
        """A workflow step; 409 when the version sent is out of date, 422 when refused."""
        if step not in workflow.CASE_STEPS:
            abort(404)
        case = self._case(pk)
        body = _body()
        if body is None:
            return jsonify(code="bad_request",
                           message=str(_l("Send a JSON object with the case's version."))), 400
        version = _version(body)
        if version is None:
            return jsonify(code="version_required",
                           message=str(_l("Send the version of the case you saw."))), 428
        answer = take(case, step, body, self._json, version)
        if isinstance(answer, tuple):
            return answer
        return etag(answer, answer.get_json()["version"])


class ReferralApi(BaseView):
    """A referral, the unit's steps offered on it, and taking one."""

    route_base = "/api/v1/referrals"
    class_permission_name = "ReferralModelView"
    method_permission_name = {"get": "show", "steps": "show", "take_step": "step"}
    base_permissions = ["can_show", "can_step"]
    openapi = {"get": Doc("Referral"), "steps": Doc("Steps"),
               "take_step": Doc("Referral", body="StepBody",
                                errors=(400, 401, 403, 404, 422, 503))}

    @staticmethod
    def _referral(pk):
        """The referral inside the caller's scope, or 404."""
        if not scope.visible(models.Referral, pk):
            abort(404)
        return db.session.get(models.Referral, pk)

    @staticmethod
    def _json(referral):
        """A referral as JSON."""
        return {
            "id": referral.id, "case": referral.dispute_id,
            "case_no": referral.dispute.case_no, "unit": str(referral.unit),
            "status": referral.status, "position": referral.position,
            "instructions": referral.instructions, "sent_at": _iso(referral.sent_at),
            "respond_due": _iso(referral.respond_due), "answer_due": _iso(referral.answer_due),
            "reported_at": _iso(referral.reported_at), "answered_at": _iso(referral.answered_at),
            "result": referral.result, "returned_at": _iso(referral.returned_at),
            "return_reason": referral.return_reason,
        }

    @expose("/<int:pk>", methods=["GET"])
    @has_access_api
    def get(self, pk):
        """One referral."""
        return jsonify(self._json(self._referral(pk)))

    @expose("/<int:pk>/steps", methods=["GET"])
    @has_access_api
    def steps(self, pk):
        """The unit's steps offered to the caller on the referral now."""
        referral = self._referral(pk)
        return jsonify(steps=offers_json(workflow.steps_for(db.session, referral,
                                                            current_user)))

    @expose("/<int:pk>/steps/<step>", methods=["POST"])
    @has_access_api
    def take_step(self, pk, step):
        """A unit's step on the referral; 422 when refused."""
        if step not in workflow.REFERRAL_STEPS:
            abort(404)
        referral = self._referral(pk)
        body = _body()
        if body is None:
            return jsonify(code="bad_request", message=str(_l("Send a JSON object."))), 400
        return take(referral, step, body, self._json)


class EventFeedApi(BaseView):
    """The feed of case events for other systems: everything committed, in order, read by
    cursor, so a subscriber that was down reads on from where it stopped and misses nothing."""

    route_base = "/api/v1/events"
    class_permission_name = "CaseEventModelView"
    method_permission_name = {"index": "list"}
    base_permissions = ["can_list"]
    openapi = {"index": Doc("EventPage", [
        query("after", "integer", "The `next` of the page before (0: the start)", minimum=0,
              maximum=LARGEST),
        query("limit", "integer", "Events a page", minimum=1, maximum=MAX_PAGE)],
        errors=(400, 401, 403))}

    @expose("", methods=["GET"])
    @has_access_api
    def index(self):
        """Events after `after` (a `seq`, 0 for the start), oldest first, within the caller's
        scope; `next` is the `after` of the following page."""
        try:
            after = _number("after", LARGEST) or 0
            limit = _limit(100)
        except BadArgument as error:
            return _bad(error)
        outbox.publish(db.session)
        rows, following = outbox.feed(db.session, after, limit, scope.condition(models.Dispute))
        return jsonify(events=rows, next=following)


class ApiDocsView(BaseView):
    """The API's OpenAPI document and Swagger UI (from our own static files), for any signed-in
    login or API client."""

    route_base = "/api/v1"
    base_permissions = []

    @expose("/openapi.json", methods=["GET"])
    @login_required
    def document(self):
        """The OpenAPI 3.1 document."""
        return jsonify(openapi.document(current_app))  # built once per app (app.openapi)

    @expose("/docs", methods=["GET"])
    @login_required
    def docs(self):
        """Swagger UI over the document."""
        return self.render_template("zongzhi/swagger.html",
                                    openapi_uri=url_for("ApiDocsView.document"))
