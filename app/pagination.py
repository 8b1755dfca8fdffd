"""Page and page-size arguments in list URLs: clamp bad ones with a redirect instead of an error."""

import re
from urllib.parse import urlencode

from flask import current_app, redirect, request

PAGE_ARG = re.compile(r"^(page|psize)_\w+$")


def clamp(name, raw, max_page_size):
    """A valid value for a page (from 0) or page-size (1 to the cap) argument."""
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = None
    if name.startswith("psize_"):
        if value is None or value < 1:
            return current_app.config["PAGE_SIZE"]
        return min(value, max_page_size)
    if value is None or value < 0:
        return 0
    return min(value, 10**6)


def guard_page_arguments():
    """Redirect to the same URL with page arguments made valid, when any is not."""
    if request.method != "GET":
        return None
    args = request.args.to_dict(flat=False)
    changed = False
    cap = current_app.config["MAX_PAGE_SIZE"]
    for name, values in args.items():
        if not PAGE_ARG.match(name):
            continue
        fixed = [str(clamp(name, value, cap)) for value in values[:1]]
        if fixed != values:
            args[name] = fixed
            changed = True
    if not changed:
        return None
    return redirect(f"{request.base_url}?{urlencode(args, doseq=True)}")


def init_app(app):
    """Check page arguments before every request."""
    app.before_request(guard_page_arguments)
