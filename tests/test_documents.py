"""Case documents: each kind issued from its step, numbered per centre, year and kind, kept as
printed (a new version on re-issue), its text read back, downloaded only within scope."""

import datetime
import html
import io
import re

from pypdf import PdfReader
from sqlalchemy import select

from app import documents, models, workflow
from app.extensions import db
from tests.conftest import PASSWORD
from tests.test_workflow import new_case, people, unit  # noqa: F401 (fixture)

T = datetime.datetime(2025, 3, 7, 10, 0)


def _text(content):
    """A PDF's text, pages joined."""
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    return re.sub(r"\s+", "", text)  # titles are letter-spaced, lines wrap anywhere


def _signed_in(client, name):
    client.post("/logout/")
    assert client.post("/login/", data={"username": name, "password": PASSWORD}).status_code == 302
    return client


def _issue(client, case, kind, subject=None):
    data = {"subject": subject.id} if subject is not None else {}
    response = client.post(f"/documents/issue/{case.id}/{kind}", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    db.session.expire_all()
    return db.session.scalars(select(models.CaseDocument).where(
        models.CaseDocument.dispute_id == case.id, models.CaseDocument.kind == kind)
        .order_by(models.CaseDocument.version)).all()


def _download(client, document):
    response = client.get(f"/documents/download/{document.id}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    return _text(response.data)


def test_each_document_is_issued_numbered_and_read_back(app, client, people):
    """受理通知书, 转办单, 人民调解协议书 (every item art. 29 asks for), 送达回证: numbers per kind,
    the case's facts and parties in the text; a re-issue is version 2 of the same number."""
    staff = people["bole"]
    case = new_case(staff, at=T)
    case.parties.extend([models.Party(role="applicant", name="刘某英", address="博乐市青得里镇"),
                         models.Party(role="respondent", name="张某")])
    workflow.accept(db.session, case, staff, at=T + datetime.timedelta(hours=1))
    workflow.refer(db.session, case, staff, [unit("court")], instructions="请协助调解",
                   at=T + datetime.timedelta(hours=2))
    booking = workflow.book_session(db.session, case, staff, T + datetime.timedelta(days=2),
                                    "in_person", place="调解室")
    db.session.flush()
    workflow.record_session_result(db.session, booking, staff, "agreed",
                                   "张某于2025年4月30日前归还借款七万八千元。",
                                   performance_method="银行转账", performance_due=datetime.date(
                                       2025, 4, 30))
    db.session.commit()
    client = _signed_in(client, "bole")
    page = client.get(f"/disputemodelview/show/{case.id}").get_data(as_text=True)
    assert 'data-kind="accept_notice"' in page and 'data-kind="agreement"' in page
    assert 'data-kind="service_receipt"' not in page  # nothing to serve yet
    notice = _issue(client, case, "accept_notice")[0]
    year = models.now().year
    assert notice.number == f"博乐市综治受〔{year}〕1号"
    text = _download(client, notice)
    assert "受理通知书" in text and notice.number in text and case.case_no in text
    assert "刘某英" in text and case.centre.name in text
    slip = _issue(client, case, "referral_slip", case.referrals[0])[0]
    assert slip.number == f"博乐市综治转〔{year}〕1号"
    text = _download(client, slip)
    for expected in ("转办单", "法院", "请协助调解", "报到期限", "反馈期限"):
        assert expected in text, expected
    agreement = _issue(client, case, "agreement", booking)[0]
    text = _download(client, agreement)
    for expected in ("人民调解协议书", "刘某英", "博乐市青得里镇", "张某", "纠纷主要事实", "争议事项",
                     "责任", "张某于2025年4月30日前归还借款七万八千元", "履行方式", "银行转账",
                     "履行期限", "2025年4月30日", "签名", "人民调解委员会（印章）"):
        assert expected in text, expected
    receipt = _issue(client, case, "service_receipt")[0]
    text = _download(client, receipt)
    assert notice.number in text and agreement.number in text
    again = _issue(client, case, "accept_notice")
    assert [(d.number, d.version) for d in again] == [(notice.number, 1), (notice.number, 2)]
    assert again[0].storage_key != again[1].storage_key
    second = new_case(staff, at=T)
    workflow.accept(db.session, second, staff)
    db.session.commit()
    assert _issue(client, second, "accept_notice")[0].number == f"博乐市综治受〔{year}〕2号"


def test_a_declined_case_gets_its_notice_with_the_other_routes(app, client, people):
    """不予受理告知书: the reason and the legal routes the party may take instead."""
    staff = people["bole"]
    case = new_case(staff, at=T)
    workflow.decline(db.session, case, staff, "属于法院正在审理的案件")
    db.session.commit()
    client = _signed_in(client, "bole")
    document = _issue(client, case, "decline_notice")[0]
    text = _download(client, document)
    assert "不予受理告知书" in text and "属于法院正在审理的案件" in text
    route = db.session.scalar(select(models.LegalRoute).where(
        models.LegalRoute.code != "mediation").order_by(models.LegalRoute.sort_order))
    assert route.name in text


def test_documents_keep_to_scope_and_to_their_steps(app, client, people):
    """Not accepted: no notice of acceptance; Korla staff can neither issue nor download."""
    staff = people["bole"]
    case = new_case(staff, at=T)
    db.session.commit()
    client = _signed_in(client, "bole")
    response = client.post(f"/documents/issue/{case.id}/accept_notice")
    assert response.status_code == 302
    assert "尚未受理" in client.get(response.headers["Location"]).get_data(as_text=True) or \
        not db.session.scalars(select(models.CaseDocument)).all()
    workflow.accept(db.session, case, staff)
    db.session.commit()
    document = _issue(client, case, "accept_notice")[0]
    korla = _signed_in(client, "korla")
    assert korla.get(f"/documents/download/{document.id}").status_code == 404
    assert korla.post(f"/documents/issue/{case.id}/accept_notice").status_code == 404
    liaison = _signed_in(client, "court")
    assert liaison.post(f"/documents/issue/{case.id}/accept_notice").status_code in (403, 302)
    assert len(db.session.scalars(select(models.CaseDocument)).all()) == 1


def test_a_document_pdf_is_quick(app, people):
    """One document in well under half a second (the budget)."""
    import time

    staff = people["bole"]
    case = new_case(staff, at=T)
    workflow.accept(db.session, case, staff)
    db.session.commit()
    with app.test_request_context():
        documents.render(case, documents.KINDS["accept_notice"], None, "测试〔2025〕1号",
                         models.now())  # fonts loaded once
        started = time.perf_counter()
        content = documents.render(case, documents.KINDS["accept_notice"], None,
                                   "测试〔2025〕1号", models.now())
        assert time.perf_counter() - started < 2.0  # measured in bench; here: not pathological
    assert re.search(rb"%PDF", content[:10])


def test_wording_is_edited_sandboxed_previewed_and_overridden_by_a_centre(app, client, people):
    """The administrator's wording for the region: forbidden constructs and unknown fields are
    refused with the typed text kept; a preview is a PDF; saved wording is what documents
    print; a Bole centre administrator's own wording wins for Bole; reset goes back."""
    from flask_appbuilder.security.sqla.models import User

    from seeds import demo

    sm = app.appbuilder.sm
    sm.add_user("region_admin", "区", "管理员", "ra@example.org", sm.find_role("admin"),
                password=PASSWORD)
    bole_admin = sm.add_user("bole_admin", "博", "管理员", "ba@example.org",
                             sm.find_role("centre_admin"), password=PASSWORD)
    demo.set_scope(db.session, bole_admin, "652701", None)
    db.session.commit()
    admin = _signed_in(client, "region_admin")
    for hostile, words in (("{{ ''.__class__.__mro__ }}", "不允许"),
                           ("{{ ''.format.__globals__ }}", "不允许"),
                           ("{% include 'documents/page.html' %}", "不得"),
                           ("{{ case.password }}", "没有"),
                           ("{% for p in parties %}", "第")):
        page = admin.post("/document-templates/save/accept_notice",
                          data={"body": hostile}).get_data(as_text=True)
        assert words in page, (hostile, page[-1500:])
        assert hostile in html.unescape(page)  # the typed text is kept in the editor
    assert not db.session.scalars(select(models.DocumentTemplate)).all()
    wording = "<p>{{ applicants[0].name }}：本中心已受理，文号{{ number }}。区级统一措辞。</p>"
    preview = admin.post("/document-templates/preview/accept_notice", data={"body": wording})
    assert preview.mimetype == "application/pdf" and "区级统一措辞" in _text(preview.data)
    assert admin.post("/document-templates/save/accept_notice",
                      data={"body": wording}).status_code == 302
    staff = people["bole"]
    case = new_case(staff, at=T)
    case.parties.append(models.Party(role="applicant", name="刘某英"))
    workflow.accept(db.session, case, staff)
    db.session.commit()
    clerk = _signed_in(client, "bole")
    assert "区级统一措辞" in _download(clerk, _issue(clerk, case, "accept_notice")[0])
    centre_admin = _signed_in(client, "bole_admin")
    assert centre_admin.post("/document-templates/save/accept_notice", data={
        "body": "<p>博乐本地措辞 {{ case.case_no }}</p>"}).status_code == 302
    clerk = _signed_in(client, "bole")
    text = _download(clerk, _issue(clerk, case, "accept_notice")[-1])
    assert "博乐本地措辞" in text and "区级统一措辞" not in text
    centre_admin = _signed_in(client, "bole_admin")
    centre_admin.post("/document-templates/reset/accept_notice")
    admin = _signed_in(client, "region_admin")
    admin.post("/document-templates/reset/accept_notice")
    clerk = _signed_in(client, "bole")
    assert "符合受理条件" in _download(clerk, _issue(clerk, case, "accept_notice")[-1])
    assert db.session.scalar(select(User).filter_by(username="bole")) is not None
