"""督查考核 in the console and the API: per-unit status for a chosen year or quarter, filtered by category and status,
paginated, each unit's missed requirements and a link to its reports; the dashboard's furthest-behind units."""
from __future__ import annotations

import re
from datetime import date, datetime

import pytest
from sqlalchemy import select

from models.report import STATUS_APPROVED, STATUS_PENDING, ActivityReport
from models.staff import Staff
from models.unit import Unit
from service.core import clock
from service.core.clock import TZ
from tests.test_api import api, assert_api_error, tokens  # noqa: F401  (fixtures)

TODAY = datetime(2026, 8, 15, 10, 0, tzinfo=TZ)  # Q1 and Q2 are over, Q3 is running
REGISTERED = datetime(2020, 1, 1, tzinfo=TZ)
ROWS = re.compile(r'<tr id="unit-(\d+)">')


def text(response) -> str:
    return response.get_data(as_text=True)


def add_reports(session, unit: Unit, *days: str, status: str = STATUS_APPROVED, kind: str = "文体活动") -> None:
    staff = session.scalar(select(Staff).where(Staff.unit_id == unit.id))
    if staff is None:
        staff = Staff(unit_id=unit.id, name=f"{unit.name}联络员", phone="")
        session.add(staff)
        session.flush()
    for day in days:
        session.add(ActivityReport(
            receipt_no=f"QJ{unit.id:04d}{day.replace('-', '')}{kind[:1]}", unit_id=unit.id, staff_id=staff.id,
            openid="", category=unit.category, activity_type=kind, title="活动", activity_date=date.fromisoformat(day),
            place="活动室", participants=20, content="内容", status=status))
    session.flush()


@pytest.fixture
def district(session_factory):
    """25 active units on 2026-08-15: 12 社区 with nothing approved (Q1, Q2 滞后), one 机关 with nothing (Q1, Q2 and
    研究部署 滞后: the furthest behind), 4 企业 that met Q1 and Q2 (进行中), 8 学校 that met every quarter (达标),
    and one inactive unit that is never listed."""
    clock.set_now(lambda: TODAY)
    with session_factory() as s:
        def unit(name: str, category: str, **flags) -> Unit:
            row = Unit(name=name, category=category, created_at=REGISTERED, **flags)
            s.add(row)
            s.flush()
            return row

        communities = [unit(f"社区{n:02d}", "社区") for n in range(1, 13)]
        add_reports(s, communities[0], "2026-02-01", status=STATUS_PENDING)  # waiting for review: not counted
        organ = unit("区委<b>统战部</b>", "机关")
        for n in range(1, 5):
            add_reports(s, unit(f"企业{n}", "企业"), "2026-02-10", "2026-05-10")
        for n in range(1, 9):
            add_reports(s, unit(f"学校{n}", "学校", is_education_base=n == 1), "2026-01-10", "2026-04-10", "2026-07-10")
        add_reports(s, unit("停用社区", "社区", active=False), "2026-02-10")
        s.commit()
        return {"communities": [c.id for c in communities], "organ": organ.id}


def listed(page: str) -> list[int]:
    return [int(n) for n in ROWS.findall(page)]


def test_the_page_lists_every_unit_a_page_at_a_time_with_counts_per_status(admin_console, district):
    first = admin_console.get("/admin/compliance")
    page = text(first)
    assert first.status_code == 200 and "督查考核 <span class=\"muted\">2026年</span>" in page
    assert len(listed(page)) == 20 and "第 1 / 2 页（共 25 条）" in page
    assert re.search(r"全部 25</a>", page) and re.search(r"滞后</span> 13</a>", page)
    assert re.search(r"进行中</span> 4</a>", page) and re.search(r"达标</span> 8</a>", page)
    second = text(admin_console.get("/admin/compliance?page=2"))
    assert len(listed(second)) == 5 and not set(listed(second)) & set(listed(page))
    assert "停用社区" not in page + second
    assert "区委&lt;b&gt;统战部&lt;/b&gt;" in page and "<b>统战部" not in page
    assert 'href="/admin/compliance"' in page and "督查考核</a>" in page  # the nav link


def test_filters_by_category_and_status_list_the_missed_rules_and_link_to_the_reports(admin_console, district):
    page = text(admin_console.get("/admin/compliance?category=社区&status=滞后"))
    assert sorted(listed(page)) == district["communities"] and "共 12 条" in page
    first = district["communities"][0]
    row = page[page.index(f'<tr id="unit-{first}">'):]
    row = row[:row.index("</tr>")]
    assert "2026年第1季度：已完成 0，要求 1）" in row and "2026年第2季度：已完成 0，要求 1）" in row
    assert "2026年第3季度：已完成 0，要求 1，目前应完成 0" in row and "四、(二)" in row
    link = f"/admin/reports?unit_id={first}&amp;status=&amp;date_from=2026-01-01&amp;date_to=2026-12-31"
    assert link in row
    reports = text(admin_console.get(link.replace("&amp;", "&")))
    assert "社区01" in reports and "待审核" in reports  # the pending report that does not count yet
    # The status tabs keep the category; the pager keeps every filter.
    assert 'href="/admin/compliance?status=%E8%BE%BE%E6%A0%87&amp;period=2026&amp;category=%E7%A4%BE%E5%8C%BA"' in page
    organ = text(admin_console.get("/admin/compliance?category=机关"))
    assert listed(organ) == [district["organ"]] and "研究部署" in organ and "三、(一)1" in organ


def test_a_quarter_is_judged_on_its_own_with_the_year_rules_of_its_year(admin_console, district):
    page = text(admin_console.get("/admin/compliance?period=2026-Q3&category=学校"))
    assert "2026年第3季度" in page and len(listed(page)) == 8 and "全部达标" in page
    assert 'date_from=2026-07-01&amp;date_to=2026-09-30' in page
    running = text(admin_console.get("/admin/compliance?period=2026q3&status=进行中"))
    assert len(listed(running)) == 16  # 社区 and 企业 have nothing in Q3 yet; the 机关 lags on its year rule
    past = text(admin_console.get("/admin/compliance?period=2025&status=滞后"))
    assert "2025年" in past and len(listed(past)) == 20 and "共 25 条" in past  # nobody reported in 2025


@pytest.mark.parametrize("query, field", [("period=2026-Q5", "period"), ("period=26", "period"),
                                          ("category=网络", "category"), ("status=落后", "status"),
                                          ("page=0", "page"), ("page=x", "page")])
def test_a_bad_filter_is_named_and_the_page_still_answers(admin_console, district, query, field):
    response = admin_console.get(f"/admin/compliance?{query}")
    assert response.status_code == 422
    page = text(response)
    assert (f'id="e-{field}"' in page) if field != "page" else "页码" in page
    assert len(listed(page)) == 20  # the defaults: this year, every category and status, the first page


def test_the_page_is_for_administrators(reviewer_console, district):
    assert reviewer_console.get("/admin/compliance").status_code == 403


def test_the_dashboard_shows_the_ten_furthest_behind_and_links_to_the_page(admin_console, district):
    page = text(admin_console.get("/admin/dashboard"))
    section = page[page.index('id="lagging"'):]
    section = section[:section.index("</section>")]
    assert "滞后单位（13）" in section and "以下是差距最大的 10 个" in section
    assert section.count('class="lagging-unit"') == 10
    assert section.index("区委&lt;b&gt;统战部&lt;/b&gt;") < section.index("社区01")  # three lagging before two
    assert 'href="/admin/compliance?status=%E6%BB%9E%E5%90%8E"' in section


# ---- /api/v1/compliance --------------------------------------------------------------------------------------

def test_the_api_pages_the_units_with_the_total_and_keeps_its_fields(api, district):
    first = api().get("/compliance?per_page=10").json
    assert (first["total"], first["page"], first["per_page"], first["pages"]) == (25, 1, 10, 3)
    assert first["summary"] == {"达标": 8, "进行中": 4, "滞后": 13}
    assert len(first["units"]) == 10 and {"period_start", "period_end", "today", "district"} <= set(first)
    assert {"unit_id", "name", "category", "status", "missed", "results"} <= set(first["units"][0])
    assert {d["id"]: d["count"] for d in first["district"]} == {"extension_units": 0, "education_bases": 1}
    last = api().get("/compliance?per_page=10&page=3").json
    assert len(last["units"]) == 5
    everyone = {u["unit_id"] for n in (1, 2, 3) for u in api().get(f"/compliance?per_page=10&page={n}").json["units"]}
    assert len(everyone) == 25
    default = api().get("/compliance").json
    assert default["per_page"] == 20 and len(default["units"]) == 20


def test_the_api_filters_by_category_and_status(api, district):
    lagging = api().get("/compliance?status=滞后&category=社区").json
    assert lagging["total"] == 12 and sorted(u["unit_id"] for u in lagging["units"]) == district["communities"]
    assert lagging["summary"] == {"达标": 0, "进行中": 0, "滞后": 12}  # the summary counts the category's units
    assert all(u["status"] == "滞后" for u in api().get("/compliance?status=滞后&per_page=100").json["units"])


@pytest.mark.parametrize("query, field", [("page=0", "page"), ("per_page=101", "per_page"), ("per_page=0", "per_page"),
                                          ("category=网络", "category"), ("status=落后", "status")])
def test_the_api_names_a_bad_parameter(api, district, query, field):
    assert_api_error(api().get(f"/compliance?{query}"), 422, "invalid_input", field)
