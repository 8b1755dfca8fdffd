"""Flask-AppBuilder's own screen texts that its zh catalogue lacks.

Listed here only so that `flask translate extract` keeps them, with their Chinese, in our
catalogue (FAB reads our catalogue after its own). Nothing imports this module.
"""

from flask_babel import lazy_gettext as _l

MESSAGES = [
    _l("Database Error"),
    _l("Contains (insensitive)"),
    _l("In"),
    _l("Not In"),
    _l("Either select a role or a group"),
    _l("List Groups"),
    _l("Edit User Information"),
    _l("User information changed"),
    _l("Groups"),
    _l("The user's password for authentication"),
    _l("User(s) exists in the role, cannot delete"),
    _l("Show Group"),
    _l("Add Group"),
    _l("Edit Group"),
    _l("User(s) exists in the group, cannot delete"),
    _l("Sign In with "),
    _l("OpenID"),
    _l("Security"),
    _l("It's not a good policy to remove a user, just make it inactive"),
    _l("Cancel"),
    _l("OK"),
]
