"""Enumerated values of the domain: codes stored in the database, labels shown through the catalogue."""

from flask import has_request_context, request
from flask_babel import lazy_gettext as _l


class Choices:
    """An ordered set of codes with translatable labels."""

    def __init__(self, *pairs):
        self.pairs = tuple(pairs)
        self.labels = dict(pairs)

    @property
    def codes(self):
        """The codes in display order."""
        return tuple(code for code, _ in self.pairs)

    def label(self, code):
        """The label of a code, or the code itself when unknown, or blank for None."""
        if code is None:
            return ""
        return self.labels.get(code, code)

    def label_text(self, code):
        """The label as plain text, translated once per request rather than once per cell."""
        if code is None:
            return ""
        if not has_request_context():
            return str(self.label(code))
        cache = request.environ.setdefault("zongzhi.labels", {})
        key = (id(self), code)
        if key not in cache:
            cache[key] = str(self.label(code))
        return cache[key]

    def form_choices(self, blank=False):
        """Pairs for a WTForms select field."""
        pairs = [(code, label) for code, label in self.pairs]
        return ([("", "")] if blank else []) + pairs


REGION_LEVEL = Choices(
    ("region", _l("Autonomous region")),
    ("prefecture", _l("Prefecture")),
    ("county", _l("County")),
    ("township", _l("Township")),
    ("village", _l("Village")),
)

CENTRE_STANDARD = Choices(
    ("building", _l("Under construction")),
    ("standardised", _l("Standardised")),
)

CENTRE_ORIGIN = Choices(
    ("mediation_centre", _l("Former mediation centre")),
    ("legal_affairs_centre", _l("Former legal affairs centre")),
    ("petition_centre", _l("Former petition reception centre")),
    ("replaced_office", _l("Exchanged office premises")),
    ("new_build", _l("New building")),
)

UNIT_MODE = Choices(
    ("resident", _l("Resident")),
    ("rotating", _l("Rotating")),
    ("on_call", _l("On call")),
)

WEEKDAY = Choices(
    (1, _l("Monday")),
    (2, _l("Tuesday")),
    (3, _l("Wednesday")),
    (4, _l("Thursday")),
    (5, _l("Friday")),
    (6, _l("Saturday")),
    (7, _l("Sunday")),
)

DISPUTE_SOURCE = Choices(
    ("window", _l("Window walk-in")),
    ("grid", _l("Grid worker discovery")),
    ("hotline", _l("Hotline")),
    ("online", _l("Online")),
    ("township", _l("Referred up from township")),
)

HANDLING_LEVEL = Choices(
    ("village", _l("Village")),
    ("township", _l("Township")),
    ("county", _l("County")),
)

RISK_LEVEL = Choices(
    ("low", _l("Low")),
    ("medium", _l("Medium")),
    ("high", _l("High")),
)

DISPUTE_STATUS = Choices(
    ("registered", _l("Registered")),
    ("accepted", _l("Accepted")),
    ("declined", _l("Declined")),
    ("referred", _l("Referred")),
    ("concluded", _l("Concluded")),
    ("closed", _l("Feedback received")),
)

OUTCOME = Choices(
    ("resolved", _l("Resolved by mediation")),
    ("routed_on", _l("Not resolved, routed on")),
    ("withdrawn", _l("Withdrawn")),
)

PARTY_ROLE = Choices(
    ("applicant", _l("Applicant")),
    ("respondent", _l("Respondent")),
    ("third_party", _l("Third party")),
)

REFERRAL_STATUS = Choices(
    ("queued", _l("Queued")),
    ("sent", _l("Sent")),
    ("reported", _l("Reported in")),
    ("answered", _l("Answered")),
    ("returned", _l("Returned")),
    ("cancelled", _l("Cancelled")),
)

SESSION_MODE = Choices(
    ("in_person", _l("In person")),
    ("video", _l("Remote video")),
    ("online_court", _l("Online court")),
)

SESSION_RESULT = Choices(
    ("pending", _l("Pending")),
    ("agreed", _l("Agreement reached")),
    ("not_agreed", _l("No agreement")),
)

SATISFACTION = Choices(
    (3, _l("Satisfied")),
    (2, _l("Basically satisfied")),
    (1, _l("Dissatisfied")),
)

FEEDBACK_CHANNEL = Choices(
    ("phone", _l("Phone call")),
    ("in_person", _l("In person")),
    ("sms", _l("Text message")),
    ("online", _l("Online")),
    ("visit", _l("Home visit")),
)

SERVICE_KIND = Choices(
    ("visitor", _l("Visitors received")),
    ("notarisation", _l("Notarisation")),
    ("legal_aid", _l("Legal aid cases")),
    ("legal_help", _l("Legal help")),
    ("judicial_appraisal", _l("Judicial appraisal")),
    ("petition", _l("Petitions received")),
    ("dispute_resolved", _l("Disputes resolved")),
)

EVENT_ACTION = Choices(
    ("register", _l("Register")),
    ("accept", _l("Accept")),
    ("decline", _l("Decline")),
    ("refer", _l("Refer")),
    ("report_in", _l("Report in")),
    ("answer", _l("Answer referral")),
    ("return", _l("Return referral")),
    ("mediate", _l("Mediation session")),
    ("conclude", _l("Conclude")),
    ("feedback", _l("Feedback")),
    ("reopen", _l("Reopen")),
    ("note", _l("Note")),
    ("extend", _l("Extend deadline")),
    ("book", _l("Book a session")),
    ("follow_up", _l("Fulfilment follow-up")),
    ("import", _l("Imported")),
)

AUDIT_ACTION = Choices(
    ("login", _l("Login")),
    ("logout", _l("Logout")),
    ("login_failed", _l("Failed login")),
    ("lockout", _l("Account locked")),
    ("create", _l("Create")),
    ("update", _l("Update")),
    ("delete", _l("Delete")),
    ("reveal", _l("Reveal personal data")),
    ("export", _l("Export")),
    ("role_change", _l("Role change")),
    ("permission_change", _l("Permission change")),
    ("access_denied", _l("Access denied")),
    ("password_change", _l("Password change")),
)

AUDIT_OUTCOME = Choices(
    ("success", _l("Success")),
    ("failure", _l("Failure")),
    ("denied", _l("Denied")),
)

DOCUMENT_KIND = Choices(
    ("accept_notice", _l("Notice of acceptance")),
    ("decline_notice", _l("Notice of non-acceptance")),
    ("referral_slip", _l("Referral slip")),
    ("agreement", _l("People's mediation agreement")),
    ("service_receipt", _l("Proof of service")),
)

ATTACHMENT_KIND = Choices(
    ("application", _l("Application")),
    ("id_copy", _l("ID document copy")),
    ("evidence", _l("Evidence (IOU, contract, receipt)")),
    ("signed_agreement", _l("Signed agreement")),
    ("photo", _l("Photo")),
    ("other", _l("Other material")),
)

NOTICE_KIND = Choices(
    ("report_in_due", _l("Report-in deadline")),
    ("answer_due", _l("Answer deadline")),
    ("accept_due", _l("Acceptance deadline")),
    ("handle_due", _l("Handling deadline")),
    ("returned", _l("Referral returned")),
    ("poor_rating", _l("Poor rating")),
    ("export_ready", _l("Export ready")),
    ("export_failed", _l("Export failed")),
)

NOTICE_CHANNEL = Choices(
    ("sms", _l("Text message")),
    ("email", _l("E-mail")),
)

DELIVERY_STATUS = Choices(
    ("pending", _l("Waiting")),
    ("sending", _l("Sending")),
    ("sent", _l("Sent")),
    ("failed", _l("Failed")),
)

JOB_STATUS = Choices(
    ("running", _l("Running")),
    ("done", _l("Done")),
    ("retrying", _l("Failed, will retry")),
    ("failed", _l("Failed")),
    ("interrupted", _l("Cut short")),
)
