"""Separation of duties, enforced on every write (forms, commands, scripts), not by convention.

- No role may hold the unmasked-data permission (PersonalData.can_view): personal data is
  revealed one value at a time, audited, through can_reveal.
- No login may hold the administrator's role together with the auditor's: who changes the
  system is not who reads its audit trail.
"""

from flask_appbuilder.security.sqla.models import Role, User
from flask_babel import gettext

from app import personal

APART = ({"admin", "auditor"},)


class DutiesBreached(ValueError):
    """A change that would join duties kept apart; the message says which."""


def _check(session, flush_context, instances):
    """Refuse, before anything is written, a role given unmasked data or a login holding
    duties kept apart."""
    for item in (*session.new, *session.dirty):
        if isinstance(item, Role):
            for grant in item.permissions or []:
                if grant.view_menu is not None and grant.permission is not None and \
                        grant.view_menu.name == personal.VIEW_NAME and \
                        grant.permission.name == personal.CAN_VIEW:
                    raise DutiesBreached(gettext(
                        "No role may see personal data unmasked: numbers are revealed one at "
                        "a time, and each reveal is recorded."))
        elif isinstance(item, User):
            names = {role.name for role in item.roles or []}
            for pair in APART:
                if pair <= names:
                    raise DutiesBreached(gettext(
                        "One login cannot be both system administrator and auditor."))
