"""The pure report conversation: every step's good and bad answers, the commands, and the quick report."""
from __future__ import annotations

from datetime import date

import pytest

from service.reporting import flow as flow
from service.chat.contract import Inbound
from service.reporting.flow import CONFIRM, Invalid

TODAY = date(2026, 11, 27)


def text(content: str) -> Inbound:
    return Inbound(openid="o1", kind="text", content=content)


def image(media_id: str) -> Inbound:
    return Inbound(openid="o1", kind="image", media_id=media_id, pic_url=f"http://mmbiz.qpic.cn/{media_id}")


def location(lat: float = 43.82, lon: float = 87.61, label: str = "乌鲁木齐市天山区某社区", kind: str = "location",
             event: str | None = None) -> Inbound:
    return Inbound(openid="o1", kind=kind, event=event, latitude=lat, longitude=lon, label=label)


def answer(data, step, *messages):
    transition = None
    for message in messages:
        transition = flow.step(data, step, message if isinstance(message, Inbound) else text(message), TODAY)
        data, step = transition.data, transition.step
    return transition


FULL = {"default_category": "社区", "photos": [], "category": "社区", "activity_type": "研究部署", "title": "民族团结知识讲座",
        "date": "2026-11-20", "place": "社区党群服务中心", "participants": 35,
        "content": "邀请宣讲员开展民族团结进步专题讲座，居民积极互动。", "photos_done": True}


def at(step: str, **extra) -> dict:
    """The draft as it is when `step` is asked in a normal walk (everything before it answered)."""
    keys = flow.ORDER[:flow.ORDER.index(step)] if step != CONFIRM else flow.ORDER
    data = {k: v for k, v in FULL.items() if k in keys or k in ("default_category", "photos")}
    if "photos" in keys:
        data["photos_done"] = True
    data.update(extra)
    return data


# --- a whole walk --------------------------------------------------------------------------------------------

def test_full_walk_reaches_summary_and_confirm():
    start = flow.begin("社区")
    assert start.step == "category" and "进社区" in start.reply and "1. 进机关" in start.reply
    t = answer(start.data, start.step, "跳过", "2", "民族团结知识讲座", "11月20日", "社区党群服务中心", "三十五人",
               "邀请宣讲员开展民族团结进步专题讲座，居民积极互动。")
    assert t.step == "photos"
    t = answer(t.data, t.step, image("m1"), image("m2"), "完成")
    assert t.step == CONFIRM
    assert "1. 类别：进社区" in t.reply and "2. 活动类型：研究部署" in t.reply
    assert "4. 日期：2026年11月20日" in t.reply and "6. 参与人数：35人" in t.reply and "8. 照片：2张" in t.reply
    done = flow.step(t.data, t.step, text("确认"), TODAY)
    assert done.done and not done.cancelled
    assert done.data["category"] == "社区" and done.data["activity_type"] == "研究部署"
    assert done.data["participants"] == 35 and done.data["date"] == "2026-11-20"
    assert [p["media_id"] for p in done.data["photos"]] == ["m1", "m2"]


def test_step_does_not_mutate_its_input():
    data = at("photos")
    flow.step(data, "photos", image("m1"), TODAY)
    assert data["photos"] == []


# --- category ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("reply,expected", [("1", "机关"), ("7", "宗教活动场所"), ("学校", "学校"), ("进企业", "企业"),
                                            ("３", "社区"), ("跳过", "社区"), ("默认", "社区")])
def test_category_good(reply, expected):
    t = answer(at("category"), "category", reply)
    assert t.data["category"] == expected and t.step == "activity_type"


@pytest.mark.parametrize("reply", ["0", "8", "进医院", "abc"])
def test_category_bad_reasks_with_example(reply):
    t = answer(at("category"), "category", reply)
    assert t.step == "category" and "category" not in t.data
    assert "1–7" in t.reply and "例如" in t.reply


# --- activity type -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("reply,expected", [("1", "专题学习"), ("9", "其他"), ("志愿服务", "志愿服务")])
def test_activity_type_good(reply, expected):
    t = answer(at("activity_type"), "activity_type", reply)
    assert t.data["activity_type"] == expected and t.step == "title"


@pytest.mark.parametrize("reply", ["0", "10", "开会"])
def test_activity_type_bad(reply):
    t = answer(at("activity_type"), "activity_type", reply)
    assert t.step == "activity_type" and "activity_type" not in t.data and "1–9" in t.reply


def test_activity_type_is_required():
    t = answer(at("activity_type"), "activity_type", "跳过")
    assert t.step == "activity_type" and "必填" in t.reply


# --- title ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("reply", ["讲座", "  民族团结知识讲座  ", "团" * 50])
def test_title_good(reply):
    t = answer(at("title"), "title", reply)
    assert t.data["title"] == reply.strip() and t.step == "date"


@pytest.mark.parametrize("reply", ["讲", "团" * 51])
def test_title_bad(reply):
    t = answer(at("title"), "title", reply)
    assert t.step == "title" and "title" not in t.data and "2–50" in t.reply and "民族团结知识讲座" in t.reply


# --- date ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("reply,expected", [
    ("今天", date(2026, 11, 27)), ("昨天", date(2026, 11, 26)), ("前天", date(2026, 11, 25)),
    ("11月20日", date(2026, 11, 20)), ("11月20号", date(2026, 11, 20)), ("11.20", date(2026, 11, 20)),
    ("2026-11-20", date(2026, 11, 20)), ("2026年11月20日", date(2026, 11, 20)), ("2026/11/20", date(2026, 11, 20)),
    ("20261120", date(2026, 11, 20)), ("１１．２０", date(2026, 11, 20)),
    ("12月30日", date(2025, 12, 30)),  # no year: the latest such day not after today
    ("2025-11-27", date(2025, 11, 27)),  # exactly one year ago is allowed
])
def test_date_good(reply, expected):
    t = answer(at("date"), "date", reply)
    assert t.data["date"] == expected.isoformat() and t.step == "place"


@pytest.mark.parametrize("reply,error", [
    ("明天见", "没看懂"), ("明天", "不能晚于今天"), ("2026-11-28", "不能晚于今天"), ("2025-11-26", "一年以内"), ("2月30日", "不存在"),
    ("13.01", "不存在"), ("2026-02-29", "不存在"),
])
def test_date_bad(reply, error):
    t = answer(at("date"), "date", reply)
    assert t.step == "date" and "date" not in t.data and error in t.reply and "例如" in t.reply


def test_date_leap_day_and_year_boundary():
    assert flow.parse_date("2月29日", date(2028, 3, 1)) == date(2028, 2, 29)
    assert flow.parse_date("1月1日", date(2027, 1, 1)) == date(2027, 1, 1)
    assert flow.parse_date("12.31", date(2027, 1, 1)) == date(2026, 12, 31)
    assert flow.one_year_before(date(2028, 2, 29)) == date(2027, 2, 28)


# --- place ---------------------------------------------------------------------------------------------------

def test_place_text_and_location():
    t = answer(at("place"), "place", "社区党群服务中心")
    assert t.data["place"] == "社区党群服务中心" and "latitude" not in t.data and t.step == "participants"
    t = answer(at("place"), "place", location())
    assert t.data["place"] == "乌鲁木齐市天山区某社区" and t.data["latitude"] == 43.82 and t.step == "participants"
    t = answer(at("place"), "place", location(label=""))
    assert t.data["place"] == "43.82000,87.61000"


def test_location_select_event_then_location_message_is_taken_once():
    t = answer(at("place"), "place", location(kind="event", event="location_select"))
    assert t.step == "participants"
    again = answer(t.data, t.step, location())
    assert again.step == "participants" and again.reply is None


def test_location_at_another_step_is_not_taken():
    t = answer(at("title"), "title", location())
    assert t.step == "title" and "place" not in t.data and "还不需要地点" in t.reply


@pytest.mark.parametrize("reply", ["社", "地" * 101])
def test_place_bad(reply):
    t = answer(at("place"), "place", reply)
    assert t.step == "place" and "place" not in t.data and "2–100" in t.reply


# --- participants --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("reply,expected", [
    ("35", 35), ("35人", 35), ("三十五人", 35), ("约35人", 35), ("１２０名", 120), ("一百二十", 120), ("两千人", 2000),
    ("十五", 15), ("一百零五人", 105), ("一万", 10000), ("十万", 100000), ("100000", 100000), ("1", 1),
    ("一百二", 120), ("1,200人", 1200), ("约40人", 40), ("四十来人", 40), ("三十多", 30), ("约40", 40), ("40余", 40),
    ("二十", 20), ("四十人左右", 40), ("十来人", 10),
])
def test_participants_good(reply, expected):
    t = answer(at("participants"), "participants", reply)
    assert t.data["participants"] == expected and t.step == "content"


@pytest.mark.parametrize("reply,error", [
    ("0", "1–100000"), ("零人", "1–100000"), ("100001", "1–100000"), ("很多人", "没看懂"), ("百人", "没看懂"),
    ("35.5", "没看懂"), ("-3", "没看懂"),
])
def test_participants_bad(reply, error):
    t = answer(at("participants"), "participants", reply)
    assert t.step == "participants" and "participants" not in t.data and error in t.reply


def test_chinese_numbers():
    cases = {"三十五": 35, "一百二十": 120, "两千": 2000, "两千零三": 2003, "一千二百三十四": 1234, "十": 10,
             "二十": 20, "九万九千九百九十九": 99999, "三千五": 3500, "一万二": 12000}
    assert {k: flow.chinese_number(k) for k in cases} == cases
    for bad in ("", "三十五人", "abc"):
        with pytest.raises(ValueError):
            flow.chinese_number(bad)


# --- content -------------------------------------------------------------------------------------------------

def test_content_good_and_bad():
    good = "开展民族团结进步知识讲座。"
    t = answer(at("content"), "content", good)
    assert t.data["content"] == good and t.step == "photos"
    for bad in ("太短了", "字" * 1001):
        t = answer(at("content"), "content", bad)
        assert t.step == "content" and "content" not in t.data and "10–1000" in t.reply


# --- photos --------------------------------------------------------------------------------------------------

def test_photos_up_to_nine_then_refused():
    data, step = at("photos"), "photos"
    for i in range(9):
        t = flow.step(data, step, image(f"m{i}"), TODAY)
        data = t.data
        assert f"第{i + 1}张" in t.reply
    t = flow.step(data, step, image("m9"), TODAY)
    assert len(t.data["photos"]) == 9 and "最多" in t.reply


def test_photo_retry_is_not_counted_twice():
    t = answer(at("photos"), "photos", image("m1"), image("m1"))
    assert len(t.data["photos"]) == 1 and t.reply is None


def test_photos_skip_clear_and_text():
    t = answer(at("photos"), "photos", "跳过")
    assert t.step == CONFIRM and t.data["photos"] == []
    t = answer(at("photos"), "photos", image("m1"), "清空")
    assert t.data["photos"] == [] and t.step == "photos"
    t = answer(at("photos"), "photos", "这是照片")
    assert t.step == "photos" and "直接发送照片" in t.reply


def test_pic_event_is_acknowledged_without_adding():
    t = answer(at("photos"), "photos", Inbound(openid="o1", kind="event", event="pic_photo_or_album"))
    assert t.data["photos"] == [] and t.reply == "正在接收照片……"


def test_photo_sent_early_is_kept():
    t = answer(at("title"), "title", image("m1"))
    assert t.step == "title" and t.data["photos"][0]["media_id"] == "m1" and "第1张" in t.reply


def test_non_text_message_at_text_step():
    t = answer(at("title"), "title", Inbound(openid="o1", kind="video", media_id="v"))
    assert t.step == "title" and "回复文字" in t.reply


# --- commands in every step ----------------------------------------------------------------------------------

@pytest.mark.parametrize("step", flow.ORDER + [CONFIRM])
def test_cancel_help_and_back_work_everywhere(step):
    data = at(step)
    cancelled = answer(data, step, "取消", "确认取消") if flow.has_content(data) else answer(data, step, "取消")
    assert cancelled.cancelled and "已取消" in cancelled.reply
    helped = flow.step(data, step, text("帮助"), TODAY)
    assert helped.step == step and "上一步" in helped.reply and helped.data == data
    back = flow.step(data, step, text("上一步"), TODAY)
    index = (len(flow.ORDER) if step == CONFIRM else flow.ORDER.index(step)) - 1
    assert back.step == flow.ORDER[max(index, 0)]
    assert back.data == data  # nothing is lost by going back


def test_back_then_answer_continues_where_it_was():
    t = answer(at("participants"), "participants", "上一步")
    assert t.step == "place" and "当前：社区党群服务中心" in t.reply
    t = answer(t.data, t.step, "文化广场")
    assert t.step == "participants" and t.data["place"] == "文化广场"


@pytest.mark.parametrize("step", [s.key for s in flow.STEPS if not s.optional])
def test_skip_is_refused_on_required_steps(step):
    t = answer(at(step), step, "跳过")
    assert t.step == step and "必填" in t.reply and step not in t.data


def test_invalid_answer_keeps_everything_entered():
    data = at("content")
    t = answer(data, "content", "短")
    assert t.data == data


# --- the summary ---------------------------------------------------------------------------------------------

def test_edit_n_returns_to_summary():
    t = answer(at(CONFIRM), CONFIRM, "修改 3")
    assert t.step == "title" and "当前：民族团结知识讲座" in t.reply
    t = answer(t.data, t.step, "新时代民族团结讲座")
    assert t.step == CONFIRM and "3. 主题：新时代民族团结讲座" in t.reply
    t = answer(at(CONFIRM), CONFIRM, "修改8", image("m5"), "完成")
    assert t.step == CONFIRM and "8. 照片：1张" in t.reply


@pytest.mark.parametrize("reply,error", [("修改 9", "1–8"), ("修改", "1–8"), ("好的", "确认")])
def test_confirm_bad(reply, error):
    t = answer(at(CONFIRM), CONFIRM, reply)
    assert t.step == CONFIRM and not t.done and error in t.reply


def test_summary_fits_a_passive_reply():
    data = at(CONFIRM, content="字" * 1000, title="题" * 50, place="地" * 100)
    assert len(flow.summary(data).encode()) < 2048


# --- quick report --------------------------------------------------------------------------------------------

def test_quick_report_fills_and_asks_the_rest():
    t = flow.prefill("乡镇", "进社区 研究部署 2026-11-20 民族团结知识讲座 35人", TODAY)
    assert {k: t.data[k] for k in ("category", "activity_type", "date", "title", "participants")} == {
        "category": "社区", "activity_type": "研究部署", "date": "2026-11-20", "title": "民族团结知识讲座",
        "participants": 35}
    assert t.step == "place" and "已识别" in t.reply
    t = answer(t.data, t.step, "社区活动室", "邀请宣讲员开展民族团结进步专题讲座，居民积极互动。", "完成", "确认")
    assert t.done


def test_quick_report_defaults_category_and_reports_bad_words():
    t = flow.prefill("学校", "2026-12-01 升旗仪式 三十人", TODAY)
    assert t.data["category"] == "学校" and "date" not in t.data and t.data["participants"] == 30
    assert t.data["title"] == "升旗仪式" and t.step == "activity_type"
    assert "不能晚于今天" in t.reply


def test_quick_report_takes_a_place_only_when_named():
    t = flow.prefill("社区", "宣传教育 昨天 民族团结宣讲 地点：文化广场 面向居民宣讲民族团结进步政策与典型事迹 120人", TODAY)
    assert t.data["place"] == "文化广场" and t.data["content"].startswith("面向居民") and t.data["date"] == "2026-11-26"
    assert t.step == "photos"


def test_quick_report_never_guesses_the_place_from_free_text():
    t = flow.prefill("乡镇", "进社区 志愿服务 前天 民族团结志愿清扫 二十人 开展楼道清扫和政策宣传", TODAY)
    assert "place" not in t.data and t.step == "place" and "【5/8 地点】" in t.reply
    assert {k: t.data[k] for k in ("category", "activity_type", "date", "title", "participants", "content")} == {
        "category": "社区", "activity_type": "志愿服务", "date": "2026-11-25", "title": "民族团结志愿清扫",
        "participants": 20, "content": "开展楼道清扫和政策宣传"}
    t = answer(t.data, t.step, "幸福小区3号楼")
    assert t.data["place"] == "幸福小区3号楼" and t.step == "photos"


@pytest.mark.parametrize("word", ["约40人", "四十来人", "40余人", "三十多人", "约40", "四十人左右"])
def test_quick_report_reads_approximate_counts(word):
    t = flow.prefill("社区", f"民族团结宣讲 {word}", TODAY)
    assert t.data["participants"] == (30 if word.startswith("三十") else 40) and t.data["title"] == "民族团结宣讲"


def test_quick_report_does_not_take_a_title_ending_in_ren_as_a_count():
    t = flow.prefill("社区", "民族团结一家人", TODAY)
    assert t.data["title"] == "民族团结一家人" and "participants" not in t.data


def test_quick_report_understands_nothing():
    t = flow.prefill("社区", "", TODAY)
    assert t.step == "activity_type" and t.data["category"] == "社区" and "一项一项" in t.reply


def test_parsers_raise_invalid():
    with pytest.raises(Invalid):
        flow.parse_title("x", TODAY)


# --- 取消 asks first; menu words are commands, never answers -------------------------------------------------

def test_cancel_of_an_empty_draft_needs_no_confirmation():
    assert answer(at("activity_type"), "activity_type", "取消").cancelled


@pytest.mark.parametrize("confirm", ["确认取消", "1", "１", "确认取消。"])
def test_cancel_with_content_asks_then_discards(confirm):
    asked = answer(at("place"), "place", "取消")
    assert not asked.cancelled and asked.step == "place" and "确认取消" in asked.reply
    assert asked.data["cancelling"]
    done = answer(asked.data, asked.step, confirm)
    assert done.cancelled and "已取消" in done.reply


@pytest.mark.parametrize("keep", ["2", "继续", "不", "取消"])
def test_cancel_can_be_taken_back(keep):
    data = at("place")
    kept = answer(data, "place", "取消", keep)
    assert not kept.cancelled and kept.step == "place" and kept.data == data and "地点" in kept.reply


def test_after_cancel_any_other_answer_goes_on_with_the_wizard():
    t = answer(at("place"), "place", "取消", "文化广场")
    assert not t.cancelled and t.step == "participants" and t.data["place"] == "文化广场"
    assert "cancelling" not in t.data
    t = answer(at(CONFIRM), CONFIRM, "取消", "确认")  # 确认 after 取消 means submit, not "yes, discard"
    assert t.done and not t.cancelled


def test_cancel_confirmation_with_photos_only():
    t = answer(at("category"), "category", image("m1"), "取消")
    assert not t.cancelled and "确认取消" in t.reply


@pytest.mark.parametrize("step", ["title", "place", "content", CONFIRM])
@pytest.mark.parametrize("word", ["政策", "菜单", "主菜单", "我的上报", "订阅"])
def test_menu_words_are_never_field_values(step, word):
    data = at(step)
    t = answer(data, step, word)
    assert t.step == step and t.data == data and not t.done and not t.cancelled
    assert f"“{word}”不会被当作填写内容" in t.reply and "暂停" in t.reply and "取消" in t.reply


@pytest.mark.parametrize("word", ["帮助", "帮助！", "?", "help"])
def test_help_shows_the_help_and_the_current_question(word):
    data = at("place")
    t = answer(data, "place", word)
    assert t.data == data and "“暂停”" in t.reply and "“取消”" in t.reply and "活动地点在哪里" in t.reply


def test_pause_keeps_the_draft_and_resume_clears_the_flags():
    t = answer(at("place"), "place", "暂停")
    assert t.data["paused"] and t.step == "place" and "继续" in t.reply
    assert flow.resume(t.data) == at("place")
