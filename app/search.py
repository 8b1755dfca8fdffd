"""Chinese text search over case titles and descriptions, one interface over three engines.

Chinese has no spaces between words, so word tokenizers do not work; trigrams do: SQLite's FTS5
trigram index and PostgreSQL's pg_trgm index both find any run of three or more characters.
Shorter terms (two-character words are common) and MariaDB fall back to a plain LIKE scan.
"""

from flask_appbuilder.models.filters import BaseFilter
from flask_babel import lazy_gettext as _l
from sqlalchemy import literal, or_, text

from app import models
from app.extensions import db

MIN_TRIGRAM = 3


def _like(term):
    """A substring match on title or description (no index can help)."""
    pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return or_(models.Dispute.title.like(pattern, escape="\\"),
               models.Dispute.description.like(pattern, escape="\\"))


def condition(term, dialect=None):
    """The WHERE condition for disputes whose title or description contains the term."""
    term = (term or "").strip()
    if not term:
        return None
    dialect = dialect or db.engine.dialect.name
    if len(term) < MIN_TRIGRAM:
        return _like(term)
    if dialect == "sqlite":
        phrase = '"' + term.replace('"', '""') + '"'
        matches = text("SELECT rowid FROM dispute_fts WHERE dispute_fts MATCH :phrase")
        return models.Dispute.id.in_(matches.bindparams(phrase=phrase))
    if dialect == "postgresql":
        # The same expression as the trigram index of the migration, so the index is used.
        document = models.Dispute.title + literal(" ") + models.Dispute.description
        return document.ilike("%" + term.replace("%", "\\%").replace("_", "\\_") + "%")
    return _like(term)


class TextSearchFilter(BaseFilter):
    """The list filter 包含关键字: text search over title and description."""

    name = _l("Contains the words")
    arg_name = "fts"

    def apply(self, query, value):
        """Keep the cases whose text contains the words."""
        where = condition(value)
        return query if where is None else query.filter(where)
