"""Chinese text search over case titles and descriptions, one interface over three engines.

Chinese has no spaces between words, so word tokenizers do not work; trigrams do: SQLite's FTS5
trigram index and PostgreSQL's pg_trgm index both find any run of three or more characters.
Shorter terms (two-character words are common) and MariaDB fall back to a plain LIKE scan.

An index pays for rare terms and costs for common ones: the list shows the newest 25 matches, and
a term in one case out of eight has 125,000 matches at a million cases, each fetched and sorted
(a third of a second). Walking the cases newest first and testing each finds those 25 within two
hundred rows. So a term is first tried on the newest cases (PROBE_ROWS of them); when it is
common there (COMMON_SHARE or more), the list walks the cases, else it asks the index. Both
plans select the same cases.
"""

from sqlalchemy import func, literal, or_, select, text

from app import models
from app.extensions import db

MIN_TRIGRAM = 3
PROBE_ROWS = 2000
COMMON_SHARE = 0.01


def _pattern(term):
    """A LIKE pattern for a substring, with the wildcards in the term escaped."""
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def contains(column, term, ignore_case=False):
    """A column holds the term as typed: LIKE (or ILIKE) with the term's wildcards escaped."""
    match = column.ilike if ignore_case else column.like
    return match(_pattern(term), escape="\\")


def _like(term, dialect, columns=None):
    """A substring match on title or description, tested row by row (ignoring case, as the
    trigram indexes do)."""
    dispute = models.Dispute
    columns = columns or (dispute.title, dispute.description)
    return or_(*(contains(column, term, ignore_case=dialect == "postgresql")
                 for column in columns))


def is_common(term, dialect):
    """Whether the term is in COMMON_SHARE or more of the newest cases."""
    newest = (select(models.Dispute.title, models.Dispute.description)
              .order_by(models.Dispute.id.desc()).limit(PROBE_ROWS).subquery())
    matches = db.session.scalar(select(func.count()).select_from(newest).where(
        _like(term, dialect, (newest.c.title, newest.c.description))))
    return matches >= PROBE_ROWS * COMMON_SHARE


def condition(term, dialect=None, common=is_common):
    """The WHERE condition for disputes whose title or description contains the term
    (`common(term, dialect)` tells whether the term is common: the caller may cache it)."""
    term = (term or "").strip()
    if not term:
        return None
    dialect = dialect or db.engine.dialect.name
    if (len(term) < MIN_TRIGRAM or dialect not in ("sqlite", "postgresql")
            or common(term, dialect)):
        return _like(term, dialect)
    if dialect == "sqlite":
        phrase = '"' + term.replace('"', '""') + '"'
        matches = text("SELECT rowid FROM dispute_fts WHERE dispute_fts MATCH :phrase")
        return models.Dispute.id.in_(matches.bindparams(phrase=phrase))
    # The same expression as the trigram index of the migration, so the index is used.
    document = models.Dispute.title + literal(" ") + models.Dispute.description
    return document.ilike(_pattern(term))  # backslash is PostgreSQL's default escape
