"""Page, page-size and order arguments in list URLs: clamp bad ones with a redirect instead of an
error, and build the links that change them."""

import re
from urllib.parse import urlencode

from flask import current_app, get_template_attribute, redirect, request, url_for
from markupsafe import Markup

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


def this_url_with(**changes):
    """This request's URL with some query arguments set: what Flask-AppBuilder's link filters
    build with url_for (a dozen times per list), from the request's own path."""
    query = {**request.args.to_dict(), **changes}
    return f"{request.script_root}{request.path}?{urlencode(query, safe=URL_SAFE)}"


def link_page(page, view_name):
    """The link to a page of a list."""
    return this_url_with(**{f"page_{view_name}": page})


def link_page_size(page_size, view_name):
    """The link to a list with another page size."""
    return this_url_with(**{f"psize_{view_name}": page_size})


def link_order(column, view_name):
    """The link ordering a list by a column: ascending first, the other way round when the list
    is in that order already (Flask-AppBuilder's turns a new column descending half the time)."""
    ordered = (request.args.get(f"_oc_{view_name}") == column
               and request.args.get(f"_od_{view_name}") == "asc")
    return this_url_with(**{f"_oc_{view_name}": column,
                            f"_od_{view_name}": "desc" if ordered else "asc"})


def list_bar(view_name, page, page_size, count, add_url, actions, exports=None):
    """What the bar above a list shows (pages, page size, add, actions, exports, back, count),
    for the template zongzhi/widgets/list_bar.html: every link worked out once."""
    page = page or 0
    pages = -(-int(count) // page_size)
    several = pages > 1  # one page: no pager and no page sizes to offer
    return {
        "pages": _pager(view_name, page, pages) if several else [],
        "sizes": [(link_page_size(size, view_name), size, size == page_size)
                  for size in range(25, 125, 25) if several and page * size <= count],
        "add": add_url, "actions": list((actions or {}).values()), "exports": exports or [],
        "back": url_for("UtilView.back"), "count": count,
    }


def list_header(view_name, page, page_size, count, add_url, actions, exports=None):
    """The bar above a list, rendered (as Flask-AppBuilder's render_list_header draws it)."""
    macro = get_template_attribute("zongzhi/widgets/list_bar.html", "list_bar")
    return macro(list_bar(view_name, page, page_size, count, add_url, actions, exports))


def _pager(view_name, page, pages):
    """Links to the first, previous, nearby, next and last pages, as (href, text, state)."""
    low, high = page - 3, page + 4
    if low < 0:
        high -= low
    if high >= pages:
        low = low - high + pages
    low, high = max(low, 0), min(high, pages)

    def item(target, text, enabled=True, active=False):
        state = "active" if active else None if enabled else "disabled"
        return (link_page(target, view_name) if state is None else None, text, state)

    items = [item(0, Markup("&laquo;"), low > 0), item(page - 1, Markup("&lt;"), page > 0)]
    items += [item(p, p + 1, active=p == page) for p in range(low, high)]
    items += [item(page + 1, Markup("&gt;"), page + 1 < pages),
              item(pages - 1, Markup("&raquo;"), high < pages)]
    return items


def init_app(app):
    """Check page arguments before every request."""
    app.before_request(guard_page_arguments)
