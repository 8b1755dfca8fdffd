"""Page, page-size and order arguments in list URLs: clamp bad ones with a redirect instead of an
error, and build the links that change them."""

import re
from urllib.parse import urlencode

from flask import current_app, redirect, request, url_for
from flask_babel import gettext
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup, escape

from app.http import csp_nonce

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


def list_header(view_name, page, page_size, count, add_url, actions, exports=None):
    """The bar above a list (pages, page size, add, actions, back, count) as Flask-AppBuilder's
    render_list_header draws it, written in Python: a related list on the case page draws five
    of them, and the template macros cost more than the table."""
    page = page or 0
    pages = -(-int(count) // page_size)
    html = []
    if pages > 1:
        html.append(_pager(view_name, page, pages))
        active = ' class="active"'
        sizes = "".join(
            f'<li{active if size == page_size else ""}>'
            f'<a href="{escape(link_page_size(size, view_name))}">{size}</a></li>'
            for size in range(25, 125, 25) if page * size <= count)
        label = escape(gettext("Page size"))
        html.append('<div class="btn-group"><button type="button" class="btn btn-default btn-sm '
                    f'dropdown-toggle" data-toggle="dropdown">{label}'
                    '<span class="caret"></span></button><ul class="dropdown-menu" role="menu">'
                    f"{sizes}</ul></div>")
    if add_url:
        title, label = escape(gettext("Add a new record")), escape(gettext("Add"))
        html.append(f'<a href="{escape(add_url)}" class="btn btn-sm btn-primary" '
                    f'data-toggle="tooltip" rel="tooltip" title="{title}">'
                    f'<span class="sr-only">{label}</span><i class="fa fa-plus"></i></a>')
    if actions:
        html.append(_actions_menu(actions))
    if exports:
        label = escape(gettext("Export"))
        items = "".join(f'<li><a href="{escape(url)}" class="zz-export">'
                        f'<i class="fa fa-download"></i> {escape(text)}</a></li>'
                        for text, url in exports)
        html.append('<div class="btn-group"><button type="button" class="btn btn-default btn-sm '
                    f'dropdown-toggle" data-toggle="dropdown">{label} <span class="caret">'
                    f'</span></button><ul class="dropdown-menu" role="menu">{items}</ul></div>')
    back = escape(gettext("Back"))
    html.append(f'<a href="{escape(url_for("UtilView.back"))}" class="btn btn-sm btn-default" '
                f'data-toggle="tooltip" rel="tooltip" title="{back}">'
                f'<span class="sr-only">{back}</span><i class="fa fa-arrow-left"></i></a>')
    label = escape(gettext("Record Count"))
    html.append(f'<div class="pull-right"><strong>{label}:</strong> {escape(count)}</div>')
    return Markup("\n".join(html))


def _pager(view_name, page, pages):
    """Links to the first, previous, nearby, next and last pages."""
    low, high = page - 3, page + 4
    if low < 0:
        high -= low
    if high >= pages:
        low = low - high + pages
    low, high = max(low, 0), min(high, pages)

    def item(target, text, enabled=True, active=False):
        if active:
            return f'<li class="active"><a href="#">{text}</a></li>'
        if not enabled:
            return f'<li class="disabled"><a href="#">{text}</a></li>'
        return f'<li><a href="{escape(link_page(target, view_name))}">{text}</a></li>'

    items = [item(0, "&laquo;", low > 0), item(page - 1, "&lt;", page > 0)]
    items += [item(p, p + 1, active=p == page) for p in range(low, high)]
    items += [item(page + 1, "&gt;", page + 1 < pages), item(pages - 1, "&raquo;", high < pages)]
    return f'<ul class="pagination pagination-sm" style="display:inherit;">{"".join(items)}</ul>'


def _actions_menu(actions):
    """The menu of actions on the ticked rows, with the script that runs them."""
    entries, handlers = [], []
    for action in actions.values():
        name = escape(action.name)
        entries.append(f'<li><a href="#" class="{name}_menu_item"><i class="fa '
                       f'{escape(action.icon)}"></i> {escape(gettext(action.text))}</a></li>')
        confirmation = htmlsafe_json_dumps(str(action.confirmation)) \
            if action.confirmation else "false"
        handlers.append(f"$('.{name}_menu_item').on('click', function(){{ return "
                        f"modelActions.execute_multiple({htmlsafe_json_dumps(action.name)}, "
                        f"{confirmation}); }});")
    label = escape(gettext("Actions"))
    return (f'<div class="btn-group"><button type="button" class="btn btn-default btn-sm '
            f'dropdown-toggle" data-toggle="dropdown">{label}'
            f'<span class="caret"></span></button><ul class="dropdown-menu" role="menu">'
            f'{"".join(entries)}</ul><script nonce="{csp_nonce()}">$(document).ready(function() '
            f'{{ {" ".join(handlers)} }});</script></div>')


def init_app(app):
    """Check page arguments before every request; the cheaper link filters for templates."""
    app.before_request(guard_page_arguments)
    app.jinja_env.filters.update(link_page=link_page, link_page_size=link_page_size,
                                 link_order=link_order)
