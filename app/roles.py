"""The six roles, declared in code: which screens each may open and what it may do there."""

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

# Every signed-in user may see and edit their own account and password.
SELF = [
    ["UserInfoEditView", "can_this_form_(get|post)"],
    ["ResetMyPasswordView", "can_this_form_(get|post)"],
    ["UserDBModelView", "(can_userinfo|resetmypassword|userinfoedit)"],
]

PERSONAL = "PersonalData"

ROLES = {
    # The system administrator runs everything but the audit trail (separation of duties) and
    # sees personal data masked; revealing a value is possible and audited.
    "admin": [["^(?!Audit|PersonalData).*", ".*"], [PERSONAL, "can_reveal"]],
    "centre_admin": SELF + [
        [SETUP, ALL],
        ["ServiceRecordModelView", ALL],
        [CASES, READ],
        ["CaseEventModelView", READ],
        [REFERENCE, READ],
        [f"^{MENU_CASES}$", "menu_access"],
        [f"^{MENU_SETUP}$", "menu_access"],
        [f"^{MENU_OTHER}$", "menu_access"],
        [PERSONAL, "can_reveal"],
    ],
    "staff": SELF + [
        ["DisputeModelView", WRITE],
        ["(Party|Referral|MediationSession|Feedback)ModelView", ALL],
        ["CaseEventModelView", READ],
        ["ServiceRecordModelView", WRITE],
        [SETUP, READ],
        [REFERENCE, READ],
        [f"^{MENU_CASES}$", "menu_access"],
        [f"^{MENU_OTHER}$", "menu_access"],
        [PERSONAL, "can_reveal"],
    ],
    "unit_liaison": SELF + [
        ["ReferralModelView", "can_(list|show|edit)"],
        ["(Dispute|Party|MediationSession|CaseEvent)ModelView", READ],
        [REFERENCE, READ],
        ["^(CaseWork|Referrals|Disputes|Timeline)$", "menu_access"],
        [PERSONAL, "can_reveal"],
    ],
    "leader": SELF + [
        [CASES, READ],
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
