"""Case files: the type read from the content, hostile uploads refused, downloads only as
downloads and only within scope, ID copies only for roles that see personal data unmasked,
thumbnails, soft deletion by the case's own centre."""

import io
import zipfile

from PIL import Image
from sqlalchemy import select

from app import models, personal
from app.extensions import db
from tests.test_documents import T, _signed_in
from tests.test_workflow import new_case, people  # noqa: F401 (fixture)

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _png():
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def _upload(client, case, name, content, kind="evidence"):
    response = client.post(f"/attachments/upload/{case.id}", data={
        "kind": kind, "file": (io.BytesIO(content), name)}, content_type="multipart/form-data")
    assert response.status_code == 302
    return client.get(response.headers["Location"]).get_data(as_text=True)


def _files(case):
    db.session.expire_all()
    return db.session.scalars(select(models.Attachment).where(
        models.Attachment.dispute_id == case.id)).all()


def _bomb():
    """A .docx-looking zip whose one member unpacks to 200 MB."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"0" * (200 * 1024 * 1024))
    return out.getvalue()


def test_good_files_are_kept_and_hostile_ones_refused(app, client, people):
    """A PDF and a PNG are kept (the PNG with a thumbnail, the name made safe); a renamed HTML
    page, an SVG with a script, an empty file, an oversized one and a zip bomb are refused."""
    case = new_case(people["bole"], at=T)
    client = _signed_in(client, "bole")
    _upload(client, case, "借条.pdf", PDF)
    _upload(client, case, "../../现场照片<script>.png", _png(), "photo")
    kept = _files(case)
    assert [(f.file_name, f.content_type) for f in kept] == [
        ("借条.pdf", "application/pdf"), ("现场照片_script_.png", "image/png")]
    assert kept[1].thumbnail_key and kept[0].thumbnail_key is None
    thumb = client.get(f"/attachments/thumbnail/{kept[1].id}")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(thumb.data)).size[0] <= 240
    for name, content, words in (
            ("借条.pdf", b"<html><script>alert(1)</script></html>", "内容"),
            ("图.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
             "内容"),
            ("空.pdf", b"", "空"),
            ("合同.docx", _bomb(), "解压")):
        page = _upload(client, case, name, content)
        assert words in page, (name, page[-1500:])
    app.config["ATTACHMENT_MAX_BYTES"] = 1000
    try:
        assert "大于" in _upload(client, case, "大.pdf", PDF + b"0" * 2000) or \
            "超过" in _upload(client, case, "大.pdf", PDF + b"0" * 2000)
    finally:
        app.config["ATTACHMENT_MAX_BYTES"] = 10 * 1024 * 1024
    assert len(_files(case)) == 2


def test_downloads_are_downloads_within_scope_and_id_copies_need_the_right(app, client,
                                                                           people, monkeypatch):
    """Bole staff download as an attachment with nosniff; Korla staff get 404; the leader
    (masked) may download the IOU but not the ID copy; unmasked, the ID copy comes."""
    case = new_case(people["bole"], at=T)
    client = _signed_in(client, "bole")
    _upload(client, case, "借条.pdf", PDF)
    _upload(client, case, "身份证.png", _png(), "id_copy")
    iou, identity = _files(case)
    response = client.get(f"/attachments/download/{iou.id}")
    assert response.status_code == 200 and response.data == PDF
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    korla = _signed_in(client, "korla")
    assert korla.get(f"/attachments/download/{iou.id}").status_code == 404
    assert korla.post(f"/attachments/upload/{case.id}").status_code == 404
    leader = _signed_in(client, "leader")
    assert leader.get(f"/attachments/download/{iou.id}").status_code == 200
    refused = leader.get(f"/attachments/download/{identity.id}")
    assert refused.status_code == 303
    assert leader.get(f"/attachments/thumbnail/{identity.id}").status_code == 404
    monkeypatch.setattr(personal, "can_view", lambda: True)
    assert leader.get(f"/attachments/download/{identity.id}").status_code == 200


def test_deleting_is_soft_and_only_by_the_cases_centre(app, client, people):
    """Korla cannot delete a Bole file; Bole can, the record stays marked, downloads stop."""
    case = new_case(people["bole"], at=T)
    client = _signed_in(client, "bole")
    _upload(client, case, "借条.pdf", PDF)
    (iou,) = _files(case)
    korla = _signed_in(client, "korla")
    assert korla.post(f"/attachments/delete/{iou.id}").status_code == 404
    bole = _signed_in(client, "bole")
    assert bole.post(f"/attachments/delete/{iou.id}").status_code == 302
    (iou,) = _files(case)
    assert iou.deleted_at is not None and iou.deleted_by_id == people["bole"].id
    assert bole.get(f"/attachments/download/{iou.id}").status_code == 404
    audit = db.session.scalars(select(models.AuditLog).where(
        models.AuditLog.object_type == "attachment", models.AuditLog.action == "delete")).all()
    assert audit


def test_the_api_lists_a_cases_files_and_documents_within_scope(app, client, people):
    """GET /api/v1/cases/<id>/attachments and /documents: the same scope as the screens; a
    masked role gets no download address for an ID copy."""
    staff = people["bole"]
    case = new_case(staff, at=T)
    from app import workflow

    workflow.accept(db.session, case, staff)
    db.session.commit()
    client = _signed_in(client, "bole")
    _upload(client, case, "借条.pdf", PDF)
    _upload(client, case, "身份证.png", _png(), "id_copy")
    client.post(f"/documents/issue/{case.id}/accept_notice")
    files = client.get(f"/api/v1/cases/{case.id}/attachments").get_json()
    assert [f["file_name"] for f in files] == ["借条.pdf", "身份证.png"]
    assert client.get(files[0]["download"]).data == PDF
    issued = client.get(f"/api/v1/cases/{case.id}/documents").get_json()
    assert [d["kind"] for d in issued] == ["accept_notice"]
    assert client.get(issued[0]["download"]).mimetype == "application/pdf"
    leader = _signed_in(client, "leader")
    files = leader.get(f"/api/v1/cases/{case.id}/attachments").get_json()
    assert files[0]["download"] and files[1]["download"] is None
    korla = _signed_in(client, "korla")
    response = korla.get(f"/api/v1/cases/{case.id}/attachments")
    assert response.status_code == 404 and response.is_json


def test_a_file_can_belong_to_a_party_of_the_case_only(app, client, people):
    """A file for the applicant is kept with the applicant; a party of another case is
    refused."""
    case = new_case(people["bole"], at=T)
    other = new_case(people["bole"], at=T)
    case.parties.append(models.Party(role="applicant", name="刘某英"))
    other.parties.append(models.Party(role="applicant", name="别人"))
    db.session.commit()
    client = _signed_in(client, "bole")
    response = client.post(f"/attachments/upload/{case.id}", data={
        "kind": "id_copy", "target": f"party:{case.parties[0].id}",
        "file": (io.BytesIO(_png()), "身份证.png")}, content_type="multipart/form-data")
    assert response.status_code == 302
    (kept,) = _files(case)
    assert kept.party_id == case.parties[0].id
    page = client.post(f"/attachments/upload/{case.id}", data={
        "kind": "id_copy", "target": f"party:{other.parties[0].id}",
        "file": (io.BytesIO(_png()), "身份证.png")}, content_type="multipart/form-data")
    assert len(_files(case)) == 1
    assert "请选择" in client.get(page.headers["Location"]).get_data(as_text=True)


def test_files_and_documents_can_live_in_an_object_store(app, client, people):
    """With S3_BUCKET set, uploads and issued documents go to the object store (an S3 API
    served in-process by moto) and come back from it; nothing is written to the disk store."""
    moto = __import__("pytest").importorskip("moto")
    import boto3

    from app import storage, workflow

    with moto.mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="zongzhi-files")
        app.config.update(S3_BUCKET="zongzhi-files", S3_ACCESS_KEY="test", S3_SECRET_KEY="test")
        try:
            case = new_case(people["bole"], at=T)
            workflow.accept(db.session, case, people["bole"])
            db.session.commit()
            client = _signed_in(client, "bole")
            _upload(client, case, "借条.pdf", PDF)
            (kept,) = _files(case)
            assert client.get(f"/attachments/download/{kept.id}").data == PDF
            client.post(f"/documents/issue/{case.id}/accept_notice")
            document = db.session.scalar(select(models.CaseDocument))
            assert client.get(f"/documents/download/{document.id}").mimetype == \
                "application/pdf"
            listed = boto3.client("s3", region_name="us-east-1").list_objects_v2(
                Bucket="zongzhi-files")["Contents"]
            assert {kept.storage_key, document.storage_key} <= {o["Key"] for o in listed}
            with app.app_context():
                assert isinstance(storage.storage(), storage.S3Storage)
        finally:
            app.config["S3_BUCKET"] = None
