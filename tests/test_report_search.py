"""Report text search: the same answers on SQLite (LIKE) and PostgreSQL (the bigram GIN index, then LIKE), the
index kept by the database for any writer, and a page whose query count does not grow with its rows."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text, update

from models.report import ActivityReport
from service.core import clock
from service.reporting.query import ReportFilter, list_reports, ordered
from tests.factories import make_report, make_staff, make_unit
from tests.query_count import app_engine, counting

NOW = datetime(2026, 4, 10, 9, 30, tzinfo=clock.TZ)


@pytest.fixture
def reports(session):
    clock.set_now(lambda: NOW)
    staff = make_staff(session, make_unit(session, "石榴籽社区"), name="马强")
    made = {
        "lecture": make_report(session, staff, title="民族团结知识讲座", place="社区活动室",
                               content="邀请宣讲员讲解民族政策。", date="2026-04-01"),
        "sports": make_report(session, staff, title="邻里运动会", place="文化广场",
                              content="各族居民同场竞技，100% 参与。", date="2026-04-02"),
        "visit": make_report(session, staff, title="走访慰问", place="幸福小区",
                             content="走访困难家庭，送去慰问品 Rice 和食用油。", date="2026-04-03"),
    }
    session.commit()
    return {name: report.id for name, report in made.items()}


def found(session, q: str) -> set[int]:
    page = list_reports(session, ReportFilter(status=None, q=q), per_page=100)
    assert page.total == len(page.items)
    return {r.id for r in page.items}


@pytest.mark.parametrize("q, expected", [
    ("讲座", {"lecture"}),                # two characters: the common Chinese query
    ("团", {"lecture"}),                  # one character: no bigram, LIKE alone
    ("民族", {"lecture"}),                # title and content of one report: counted once
    ("民族政策", {"lecture"}),
    ("居民", {"sports"}),
    ("社区", {"lecture"}),                # the place
    ("策讲", set()),                      # every bigram is in the text ("政策", "讲解"), the phrase is not
    ("座社", set()),                      # the end of the title and the start of the place are two fields
    ("rice", {"visit"}), ("RICE", {"visit"}),  # Latin letters in any case
    ("100%", {"sports"}), ("0%", {"sports"}), ("_", set()), ("%", {"sports"}),  # wildcards are literal
    ("火星", set()),
])
def test_search_finds_the_phrase_in_title_place_content_or_receipt(session, reports, q, expected):
    assert found(session, q) == {reports[name] for name in expected}


def test_search_by_receipt_number_in_either_case(session, reports):
    receipt = session.get(ActivityReport, reports["visit"]).receipt_no
    assert found(session, receipt) == found(session, receipt.lower()) == {reports["visit"]}
    assert found(session, receipt[2:10]) == set(reports.values())  # the submit date: every report of that day


def test_the_database_keeps_the_index_for_any_writer(session, reports):
    """A row changed with plain SQL (as COPY or another program would) is found by its new text, not its old."""
    session.execute(update(ActivityReport).where(ActivityReport.id == reports["sports"])
                    .values(content="篮球友谊赛").execution_options(synchronize_session=False))
    session.commit()
    assert found(session, "篮球") == {reports["sports"]}
    assert found(session, "竞技") == set()


def test_postgresql_answers_a_two_character_search_from_the_bigram_index(session, reports):
    if session.bind.dialect.name != "postgresql":
        pytest.skip("the bigram index is PostgreSQL's; SQLite searches with LIKE")
    statement = ordered(ReportFilter(q="讲座")).compile(session.bind, compile_kwargs={"literal_binds": True})
    for scan in ("seqscan", "indexscan"):  # a three-row table would be read whole, not through an index
        session.execute(text(f"SET LOCAL enable_{scan} = off"))
    plan = "\n".join(session.scalars(text(f"EXPLAIN {statement}")))
    assert "ix_activity_report_search" in plan, plan
    assert "(activity_report.activity_date + 0)" in plan  # sorted after the search, never read in date order
    session.rollback()


def test_the_search_page_runs_the_same_queries_for_ten_or_forty_reports(session, app, admin_console):
    clock.set_now(lambda: NOW)
    staff = make_staff(session, make_unit(session, "团结社区"), name="王芳")
    counts, made = [], 0
    for total in (10, 40):
        for _ in range(total - made):
            make_report(session, staff, title="民族团结讲座", date="2026-04-01")
        made = total
        session.commit()
        with counting(app_engine(app)) as counter:
            page = admin_console.get("/admin/reports?status=&q=讲座&per_page=100")
        assert page.status_code == 200 and page.get_data(as_text=True).count("民族团结讲座") == total
        counts.append(counter.count)
    assert counts[0] == counts[1], counts
