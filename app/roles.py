"""The six roles, declared in code: which screens each may open and what it may do there."""

import re

from flask_babel import lazy_gettext as _l

CASES = "(Dispute|Party|Referral|MediationSession|Feedback)ModelView"
SETUP = "(Centre|StationedUnit|RotaSlot|Staff|Expert)ModelView"
REFERENCE = "(Region|Department|DepartmentFunction|Category|LegalRoute|Language)ModelView"
READ = "can_(list|show)"
WRITE = "can_(list|show|add|edit)"
ALL = "can_(list|show|add|edit|delete)"

MENU_CASES = "(CaseWork|Disputes|Parties|Referrals|Sessions|Feedback|Timeline)"
MENU_SETUP = ("(CentreSetup|Centres|StationedUnits|Rota|Staff|Departments|Functions|Categories"
              "|Routes|Languages|Regions)")
MENU_OTHER = "(Experts|Statistics|ServiceRecords)"
MENU_STATS = "(Dashboard|Chart[A-Z][a-z]+|FigureDefinitions)"

# Every signed-in user may see and edit their own account and password.
SELF = [
    ["UserInfoEditView", "can_this_form_(get|post)"],
    ["ResetMyPasswordView", "can_this_form_(get|post)"],
    ["UserDBModelView", "(can_userinfo|resetmypassword|userinfoedit)"],
    # Their own messages, and how they want them.
    ["NoticeView", "can_(list|edit)"],
]

PERSONAL = "PersonalData"

ROLES = {
    # The system administrator runs everything but the audit trail (separation of duties) and
    # sees personal data masked; revealing a value is possible and audited.
    # User groups are not used: their screens are closed to every role.
    "admin": [["^(?!Audit|PersonalData|UserGroup|List Groups).*", ".*"],
              [PERSONAL, "can_reveal"]],
    "centre_admin": SELF + [
        [SETUP, ALL],
        # The logins of the people working in the centre (app/scope.py says which).
        ["UserDBModelView", "^(can_(list|show|add|edit)|resetpasswords)$"],
        ["ResetPasswordView", "can_this_form_(get|post)"],
        ["^(Security|List Users)$", "menu_access"],
        ["ServiceRecordModelView", ALL],
        ["ImportView", "can_import"],
        ["^(DataExchange|Import)$", "menu_access"],
        ["DocumentTemplateView", "can_edit"],
        ["^DocumentTemplates$", "menu_access"],
        ["DashboardView", "can_(show|download)"],
        [f"^{MENU_STATS}$", "menu_access"],
        [CASES, READ],
        ["(Document|Attachment)View", "can_download"],
        ["CaseEventModelView", READ],
        [REFERENCE, READ],
        [f"^{MENU_CASES}$", "menu_access"],
        [f"^{MENU_SETUP}$", "menu_access"],
        [f"^{MENU_OTHER}$", "menu_access"],
        [PERSONAL, "can_reveal"],
    ],
    "staff": SELF + [
        ["DisputeModelView", "can_(list|show|add|edit|step)"],
        # Historic cases from a spreadsheet (the import screen offers what the role may add).
        ["ImportView", "can_import"],
        ["DocumentView", "can_(issue|download)"],
        ["AttachmentView", "can_(upload|download|delete)"],
        ["^(DataExchange|Import)$", "menu_access"],
        ["PartyModelView", ALL],
        ["(Referral|MediationSession|Feedback|CaseEvent)ModelView", READ],
        ["ServiceRecordModelView", WRITE],
        [SETUP, READ],
        [REFERENCE, READ],
        [f"^{MENU_CASES}$", "menu_access"],
        [f"^{MENU_OTHER}$", "menu_access"],
        [PERSONAL, "can_reveal"],
    ],
    "unit_liaison": SELF + [
        ["ReferralModelView", "can_(list|show|step)"],
        ["(Document|Attachment)View", "can_download"],
        ["(Dispute|Party|MediationSession|CaseEvent)ModelView", READ],
        [REFERENCE, READ],
        ["^(CaseWork|Referrals|Disputes|Timeline)$", "menu_access"],
        [PERSONAL, "can_reveal"],
    ],
    "leader": SELF + [
        ["DashboardView", "can_(show|download)"],
        [f"^{MENU_STATS}$", "menu_access"],
        [CASES, READ],
        ["(Document|Attachment)View", "can_download"],
        [SETUP, READ],
        [REFERENCE, READ],
        ["(CaseEvent|ServiceRecord)ModelView", READ],
        [f"^{MENU_CASES}$", "menu_access"],
        [f"^{MENU_SETUP}$", "menu_access"],
        [f"^{MENU_OTHER}$", "menu_access"],
    ],
    # The auditor reads and exports the audit trail and nothing else.
    "auditor": SELF + [
        ["AuditLogModelView", "can_(list|show|export)"],
        ["^(Audit|AuditLog)$", "menu_access"],
    ],
}


def _labels():
    """Chinese (catalogue) names of the roles and of the rights a view may grant."""
    roles = {
        "admin": (_l("System administrator"),
                  _l("Users, roles, settings and all data; not the audit trail.")),
        "centre_admin": (_l("Centre administrator"),
                         _l("Configures a centre: stationed units, rota, staff, experts.")),
        "staff": (_l("Window staff / mediator"),
                  _l("Registers disputes, refers, mediates, concludes, collects feedback.")),
        "unit_liaison": (_l("Unit liaison"),
                         _l("Answers the referrals sent to their stationed unit.")),
        "leader": (_l("Leader"), _l("Reads cases, figures and statistics for a scope.")),
        "auditor": (_l("Auditor"), _l("Reads and exports the audit trail, nothing else.")),
    }
    rights = {
        "can_list": _l("See the list"), "can_show": _l("See a record"), "can_add": _l("Add"),
        "can_edit": _l("Edit"), "can_delete": _l("Delete"), "can_export": _l("Export"),
        "can_reveal": _l("Reveal one personal value (audited)"),
        "can_view": _l("See personal data unmasked"),
        "can_this_form_get": _l("Open the form"), "can_this_form_post": _l("Submit the form"),
        "can_userinfo": _l("See own account"), "resetmypassword": _l("Change own password"),
        "resetpasswords": _l("Reset passwords"), "userinfoedit": _l("Edit own account"),
        "copyrole": _l("Copy a role"), "can_get": _l("Read the menu"),
        "can_download": _l("Download files"),
        "can_step": _l("Take the case's next step"), "can_overview": _l("Read the overview"),
        "can_import": _l("Import spreadsheets (what the role may add)"),
        "can_issue": _l("Issue documents"), "can_upload": _l("Upload files"),
        "can_run": _l("Start a job now"),
    }
    return roles, rights


def label(name):
    """A role's name in words (the code itself for a role not declared here)."""
    roles, _rights = _labels()
    return str(roles[name][0]) if name in roles else name


def description(name):
    """What a declared role is for, in words."""
    roles, _rights = _labels()
    return str(roles[name][1]) if name in roles else ""


def grants(role, permission, view):
    """True when the role's declared patterns give the permission on the view."""
    return any(re.match(v, view) and re.match(p, permission) for v, p in ROLES.get(role, []))


def readable_permissions(appbuilder, view_labels):
    """[(role label, description, [(screen, [rights])])] for the role overview screen."""
    roles, rights = _labels()
    table = []
    for role, (label, description) in roles.items():
        screens = []
        for view in appbuilder.baseviews:
            name = view.class_permission_name
            granted = [str(rights.get(p, p)) for p in (view.base_permissions or [])
                       if grants(role, p, name)]
            if granted:
                screens.append((str(view_labels.get(name, name)), granted))
        table.append((role, label, description, sorted(screens)))
    return table
