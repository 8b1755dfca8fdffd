"""A crawl of every screen as each role: no English framework words and no raw identifiers in
what a person reads (text, titles, placeholders, button labels)."""

import html.parser
import re

import pytest
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import select

from app import models
from app.extensions import db
from app.roles import ROLES
from seeds import demo
from tests.test_views import screen_urls

# Words that are Chinese practice on these screens (file formats, the ID card, our product).
ALLOWED = {"PDF", "CSV", "Excel", "Office", "ID", "API", "JSON", "Zongzhi", "IP", "Unicode", "OK"}
WORD = re.compile(r"[A-Za-z][A-Za-z_]{2,}")
# Raw identifiers: permission names, class names, snake_case codes.
IDENTIFIER = re.compile(r"\bcan_[a-z_]+|\b[A-Z][a-z]+(?:[A-Z][a-z]+)+\b|\b[a-z]+_[a-z_]+\b")
SKIP_TAGS = {"script", "style", "noscript"}
SHOWN_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")


class _Text(html.parser.HTMLParser):
    """The text of a page a person reads, attribute texts included."""

    def __init__(self):
        super().__init__()
        self.parts, self._skipping = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in SKIP_TAGS:
            self._skipping += 1
        values = dict(attrs)
        for name in SHOWN_ATTRIBUTES:
            if values.get(name):
                self.parts.append(values[name])
        if tag == "input" and values.get("type") in ("submit", "button") and values.get("value"):
            self.parts.append(values["value"])
        if tag == "option":
            pass

    def handle_endtag(self, tag):
        if tag in SKIP_TAGS and self._skipping:
            self._skipping -= 1

    def handle_data(self, data):
        if not self._skipping and data.strip():
            self.parts.append(data.strip())


def readable_text(page):
    """Every piece of text the page shows."""
    parser = _Text()
    parser.feed(page)
    return parser.parts


EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def english_in(page, names=()):
    """The English words and raw identifiers a page shows (login names and e-mail addresses
    are data, not words)."""
    found = set()
    for part in readable_text(page):
        part = EMAIL.sub(" ", part)
        part = " ".join(word for word in part.split() if word not in names)
        for word in WORD.findall(part):
            if word not in ALLOWED and not word.isupper():
                found.add(word)
        found.update(IDENTIFIER.findall(part))
    return found


@pytest.fixture
def crawl_world(app):
    """The demo world with a few cases, every role's demo login with its scope."""
    demo.load(db.session, app.appbuilder.sm, cases=12)


@pytest.mark.parametrize("role", sorted(ROLES))
def test_no_screen_shows_english_or_raw_identifiers(app, crawl_world, client, role):
    """Every page the role may open reads in Chinese."""
    login = {"admin": "admin", "centre_admin": "centre_admin", "staff": "staff",
             "unit_liaison": "liaison", "leader": "leader", "auditor": "auditor"}[role]
    assert client.post("/login/", data={"username": login, "password": demo.DEMO_PASSWORD}
                       ).status_code == 302
    # Login names are data, also those typed at failed sign-ins that the audit trail shows.
    names = set(db.session.scalars(select(User.username)))
    names |= set(db.session.scalars(select(models.AuditLog.username).distinct()))
    problems = {}
    for url in screen_urls(app, role) + ["/"]:
        response = client.get(url)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue  # downloads and the machines' health check are not screens
        words = english_in(response.get_data(as_text=True), names)
        if words:
            problems[url] = sorted(words)
    assert problems == {}, "\n".join(f"{url}: {words}" for url, words in problems.items())
