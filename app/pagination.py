"""Page, page-size and order arguments in list URLs: clamp bad ones with a redirect instead of an
error, and build the links that change them."""

import re
from urllib.parse import urlencode

from flask import current_app, redirect, request

PAGE_ARG = re.compile(r"^(page|psize)_\w+$")
URL_SAFE = "!$'()*,/:;?@"  # what Werkzeug leaves unquoted in the URLs it builds


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


def this_url_with(name, value):
    """This request's URL with one query argument set: what Flask-AppBuilder's link filters
    build with url_for (a dozen times per list), from the request's own path."""
    query = {**request.args.to_dict(), name: value}
    return f"{request.script_root}{request.path}?{urlencode(query, safe=URL_SAFE)}"


def link_page(page, view_name):
    """The link to a page of a list."""
    return this_url_with(f"page_{view_name}", page)


def link_page_size(page_size, view_name):
    """The link to a list with another page size."""
    return this_url_with(f"psize_{view_name}", page_size)


def link_order(column, view_name):
    """The link ordering a list by a column: ascending first, the other way round when the list
    is in that order already (Flask-AppBuilder's turns a new column descending half the time)."""
    ordered = (request.args.get(f"_oc_{view_name}") == column
               and request.args.get(f"_od_{view_name}") == "asc")
    query = {**request.args.to_dict(), f"_oc_{view_name}": column,
             f"_od_{view_name}": "desc" if ordered else "asc"}
    return f"{request.script_root}{request.path}?{urlencode(query, safe=URL_SAFE)}"


def init_app(app):
    """Check page arguments before every request; the cheaper link filters for templates."""
    app.before_request(guard_page_arguments)
    app.jinja_env.filters.update(link_page=link_page, link_page_size=link_page_size,
                                 link_order=link_order)
