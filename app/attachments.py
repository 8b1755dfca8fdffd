"""Evidence files a case receives: the type is read from the content (never the name), only
PDF, JPEG, PNG and Office documents are taken, an Office file that would unpack to far more
than it weighs is refused, names are made safe, the bytes go to the file storage as they are
read, images get a small JPEG thumbnail; deleting marks the record and keeps the file."""

import io
import re
import unicodedata
import zipfile

import filetype
from flask_babel import gettext
from PIL import Image

from app import models, storage

ALLOWED = {
    "application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png",
    "application/msword": "doc", "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}
ZIPPED = {"docx", "xlsx"}
UNPACKED_LIMIT = 100 * 1024 * 1024  # what an Office file may unpack to
RATIO_LIMIT = 100                   # and how much larger than it is
THUMBNAIL = (240, 240)
PIXEL_LIMIT = 40_000_000  # a 40-megapixel photo; more would take hundreds of MB to decode


class Refused(ValueError):
    """A file that is not taken; the message says why."""


def safe_name(name, extension):
    """A file name that is only a name: no folders, no control or bidi characters, at most
    100 characters, ending in the extension its content has."""
    name = unicodedata.normalize("NFC", str(name or "")).replace("\\", "/").rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0] if "." in name else name
    stem = "".join(c for c in stem if unicodedata.category(c)[0] not in ("C",))
    stem = re.sub(r"[^\w\u4e00-\u9fff（）() .\-]", "_", stem).strip(" .") or "file"
    return f"{stem[:90]}.{extension}"


def _check_zip(stream):
    """Refuse an Office file that is not a sound zip or would unpack to too much."""
    try:
        with zipfile.ZipFile(stream) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile as error:
        raise Refused(gettext("The file is damaged.")) from error
    unpacked = sum(member.file_size for member in members)
    packed = sum(member.compress_size for member in members) or 1
    if unpacked > UNPACKED_LIMIT or unpacked / packed > RATIO_LIMIT:
        raise Refused(gettext("The file would unpack to far more than its size: it is refused."))


def examine(stream):
    """The content type of an uploaded file, read from its bytes; Refused when not allowed."""
    stream.seek(0)
    head = stream.read(8192)
    stream.seek(0)
    found = filetype.guess(head)
    kind = found.mime if found is not None else None
    if kind not in ALLOWED:
        raise Refused(gettext("Only PDF, JPEG, PNG and Office documents can be kept; this "
                              "file's content is none of them."))
    if ALLOWED[kind] in ZIPPED:
        _check_zip(stream)
        stream.seek(0)
    if kind.startswith("image/"):
        try:
            with Image.open(stream) as image:
                if image.size[0] * image.size[1] > PIXEL_LIMIT:
                    raise Refused(gettext("The image is damaged or too large to open."))
                image.verify()
        except (Image.DecompressionBombError, OSError, SyntaxError) as error:
            raise Refused(gettext("The image is damaged or too large to open.")) from error
        stream.seek(0)
    return kind


def _thumbnail(stream):
    """A small JPEG of an image, or None."""
    try:
        with Image.open(stream) as image:
            image.draft("RGB", THUMBNAIL)
            image = image.convert("RGB")
            image.thumbnail(THUMBNAIL)
            out = io.BytesIO()
            image.save(out, "JPEG", quality=80)
            return out.getvalue()
    except (OSError, Image.DecompressionBombError):
        return None
    finally:
        stream.seek(0)


def belongs_to(case, target):
    """{party_id | referral_id | session_id: id} for a target "party:3", "referral:5" or
    "session:7" of this case ({} for the case itself); Refused for anything else."""
    if not target:
        return {}
    what, _colon, key = str(target).partition(":")
    rows = {"party": case.parties, "referral": case.referrals, "session": case.sessions}
    if what in rows and key.isdigit() and any(row.id == int(key) for row in rows[what]):
        return {f"{what}_id": int(key)}
    raise Refused(gettext("Choose what in this case the file belongs to."))


def keep(session, case, stream, name, kind, actor, limit, most, target=None):
    """Check and store an upload for a case (and a party, referral or session of it); the
    record (the caller commits)."""
    owner = belongs_to(case, target)
    if kind not in models.choices.ATTACHMENT_KIND.codes:
        raise Refused(gettext("Choose what the file is."))
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    if size == 0:
        raise Refused(gettext("The file is empty."))
    if size > limit:
        raise Refused(gettext("The file is larger than %(mb)d MB.", mb=limit // (1024 * 1024)))
    held = session.query(models.Attachment).filter(
        models.Attachment.dispute_id == case.id, models.Attachment.deleted_at.is_(None)).count()
    if held >= most:
        raise Refused(gettext("A case may hold at most %(n)d files.", n=most))
    content_type = examine(stream)
    files = storage.storage()
    thumbnail = None
    if content_type.startswith("image/"):
        small = _thumbnail(stream)
        thumbnail = files.put(small)[0] if small else None
    key, stored, digest = files.put_stream(stream)
    attachment = models.Attachment(
        dispute_id=case.id, kind=kind, file_name=safe_name(name, ALLOWED[content_type]),
        content_type=content_type, size=stored, sha256=digest, storage_key=key,
        thumbnail_key=thumbnail, uploaded_by_id=getattr(actor, "id", None), **owner)
    session.add(attachment)
    session.flush()
    return attachment


def remove(attachment, actor):
    """Mark an attachment deleted (the file and the record stay, for the audit trail)."""
    attachment.deleted_at = models.now()
    attachment.deleted_by_id = getattr(actor, "id", None)
