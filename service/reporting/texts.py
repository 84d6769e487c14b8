"""User-facing strings of reporting: staff binding, the report conversation, receipts, 我的上报, compliance rules,
exports, and the validation messages of the report and unit APIs (they name the field as well)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Optional

from service.core import params

# --- binding -------------------------------------------------------------------------------------------------
BIND_HELP = ("活动上报仅限各单位联络员使用。联络员请向区民族团结进步创建办公室索取绑定码，然后回复“绑定 绑定码”，"
             "例如：绑定 K7P2QX。绑定码7天内有效，只能使用一次。")
NOT_BOUND = "您还没有绑定工作人员身份，暂时不能上报。\n" + BIND_HELP
BIND_USAGE = "请在“绑定”后面加上绑定码，例如：绑定 K7P2QX"
BIND_OK = "绑定成功！您好，{name}（{unit}）。回复“上报”即可上报“七进”活动。"
BIND_WRONG = "绑定码不正确，请核对后重新输入（注意区分数字0和字母O）。一小时内输错5次将暂停绑定一小时。"
BIND_USED = "这个绑定码已经用过了。如需重新绑定，请向管理员索取新的绑定码。"
BIND_EXPIRED = "这个绑定码已过期（有效期7天）。请向管理员索取新的绑定码。"
BIND_REVOKED = "这个绑定码已作废。请向管理员索取新的绑定码。"
BIND_LOCKED = "绑定码输错次数过多，请一小时后再试，或联系管理员。"
BIND_OTHER_STAFF = "您的微信已绑定为“{name}（{unit}）”。如需更换身份，请联系管理员。"
BIND_INACTIVE = "该工作人员账号已停用，请联系管理员。"

# --- the report conversation ---------------------------------------------------------------------------------
STEP_HEAD = "【{n}/{total} {label}】"
CURRENT = "（当前：{value}）"
PROMPT_CATEGORY = "请选择活动属于“七进”的哪一类，回复数字：\n{options}\n回复“跳过”使用本单位类别：进{default}"
PROMPT_ACTIVITY_TYPE = "请选择活动类型，回复数字：\n{options}"
PROMPT_TITLE = "请输入活动主题（2–50字）。"
PROMPT_DATE = "活动是哪天举办的？可回复“今天”“昨天”“前天”或日期，如 11月20日、11.20、2026-11-20。"
PROMPT_PLACE = "活动地点在哪里？请输入地点，或点“+”发送位置。"
PROMPT_PARTICIPANTS = "参与人数是多少？例如：35 或 35人 或 三十五人。"
PROMPT_CONTENT = "请简要描述活动内容（10–1000字）。"
PROMPT_PHOTOS = "请发送活动照片（最多9张），发完回复“完成”；没有照片请回复“跳过”。"

EXAMPLE_CATEGORY = "3（进社区）"
EXAMPLE_ACTIVITY_TYPE = "1（专题学习）"
EXAMPLE_TITLE = "民族团结知识讲座"
EXAMPLE_DATE = "昨天 或 11月20日"
EXAMPLE_PLACE = "社区党群服务中心"
EXAMPLE_PARTICIPANTS = "35人"
EXAMPLE_CONTENT = "邀请宣讲员围绕民族团结进步创建开展专题讲座，居民积极参与互动。"

INVALID = "⚠ {error}\n例如：{example}\n"
ERR_CATEGORY = "请回复1–7之间的数字"
ERR_ACTIVITY_TYPE = "请回复1–9之间的数字"
ERR_TITLE_LENGTH = "主题需要2–50个字（现在是{n}个字）"
ERR_DATE_FORMAT = "没看懂这个日期"
ERR_DATE_INVALID = "这个日期不存在"
ERR_DATE_FUTURE = "活动日期不能晚于今天"
ERR_DATE_TOO_OLD = "只能上报一年以内的活动"
ERR_PLACE_LENGTH = "地点需要2–100个字"
ERR_PARTICIPANTS_FORMAT = "没看懂这个人数"
ERR_PARTICIPANTS_RANGE = "参与人数应在1–100000之间"
ERR_CONTENT_LENGTH = "内容需要10–1000个字（现在是{n}个字）"
ERR_PHOTOS_TEXT = "请直接发送照片，发完回复“完成”"
ERR_TEXT_ONLY = "这一步请回复文字"
ERR_REQUIRED = "此项为必填，不能跳过"
ERR_CONFIRM = "请回复“确认”提交，“修改 N”修改第N项，或“取消”放弃"
ERR_EDIT_NUMBER = "请回复“修改”加1–8的数字，例如：修改 3"

FIRST_STEP = "已经是第一步了。\n"
HELP = ("上报时可以随时回复：\n“取消”放弃本次上报（会先请您确认）\n“上一步”回到上一项\n“跳过”跳过选填项（类别、照片）\n"
        "“暂停”先去看政策或菜单，草稿保留2小时\n“继续”接着填写（暂停后或离开超过2小时后）\n“帮助”查看本说明\n\n当前问题：\n")
CANCEL_CONFIRM = ("确定要放弃本次上报吗？已填写的内容会被删除。\n回复“确认取消”或 1 放弃上报；\n回复 2 或“继续”接着填写"
                  "（也可以直接回答当前问题）。")
CANCEL_KEPT = "好的，继续填写。\n"
PAUSED = ("已暂停本次上报，草稿为您保留2小时。现在可以回复“菜单”“政策”等使用其他功能；回复“继续”接着填写，"
          "回复“取消”放弃。")
LEAVE_HINT = ("您正在填写活动上报，“{word}”不会被当作填写内容，草稿仍然保留。\n"
              "· 想先看政策或菜单：回复“暂停”，之后回复“继续”接着填写\n· 不报了：回复“取消”\n· 继续填写：直接回答下面的问题\n\n")
PHOTO_RECEIVED = "已收到第{n}张照片。继续发送，或回复“完成”。"
PHOTO_RECEIVED_EARLY = "已收到第{n}张照片，会附在本次上报中。\n"
PHOTO_LIMIT = "最多只能上传9张照片，这张未保存。请回复“完成”。"
PHOTOS_CLEARED = "已清空照片。请重新发送，或回复“完成”。"
PHOTOS_COMING = "正在接收照片……"
PHOTOS_OFFER = "\n您最近3天在上报之外发过{n}张照片，回复“用照片”把它们附在本次上报中。"
PHOTOS_USED = "已附上{n}张之前发送的照片（共{total}张）。继续发送，或回复“完成”。"
PHOTO_KEPT = ("已收到照片，为您保留3天。下次上报活动到照片这一步时，可以直接选用这张照片。"
              "回复“上报”开始上报。")
LOCATION_NOT_NOW = "已收到位置，不过现在还不需要地点。\n"

SUMMARY_HEAD = "请核对上报内容："
SUMMARY_LINES = ("1. 类别：进{category}", "2. 活动类型：{activity_type}", "3. 主题：{title}", "4. 日期：{date}",
                 "5. 地点：{place}", "6. 参与人数：{participants}人", "7. 内容：{content}", "8. 照片：{photos}张")
SUMMARY_FOOT = "回复“确认”提交，“修改 N”修改第N项（如：修改 3），“取消”放弃。"
DATE_DISPLAY = "{y}年{m}月{d}日"

RESUBMIT_HEAD = "正在修改被退回的上报（回执编号：{receipt_no}）。\n退回原因：{reason}\n"
RESUBMIT_FOOT = "改好后回复“确认”重新提交（回执编号不变），“修改 N”修改第N项（如：修改 3），“取消”放弃修改。"
RESUBMITTED = "已重新提交！回执编号：{receipt_no}\n状态：待审核\n审核结果会通过本公众号通知您。回复“我的上报”查看记录。"
REOPEN_USAGE = "请回复“修改”加回执编号或“我的上报”中的序号，例如：修改 QJ202611200001 或 修改 1"
RESUBMIT_CANCELLED = "已放弃本次修改，被退回的上报保持原样。回复“修改 {receipt_no}”可再次修改。"


def reopen_not_rejected(receipt_no: str, status: str) -> str:
    """A 修改 (or a resubmission) of a report that is not 已退回."""
    if status == "待审核":
        return f"上报 {receipt_no} 正在等待审核，不能修改。如需更正，请联系区民族团结进步创建办公室退回后再修改。"
    return f"上报 {receipt_no} 当前状态为“{status}”，只有被退回的上报才能修改后重新提交。"


QUICK_RECOGNISED = "已识别：{fields}。\n"
QUICK_NOTHING = "没有从这条消息里识别出上报内容，我们一项一项来。\n"

STARTED = "开始上报“七进”活动（{unit}）。回复“取消”可随时放弃，“帮助”查看说明。\n"
RESUMED = "已恢复您未完成的上报。\n"
NOTHING_TO_RESUME = "没有未完成的上报。回复“上报”开始新的上报。"
REPORT_CANCELLED = "已取消本次上报，填写的内容已删除。回复“上报”可重新开始。"
SUBMITTED = ("上报成功！回执编号：{receipt_no}\n状态：待审核\n审核结果会通过本公众号通知您。回复“我的上报”查看记录。")

# --- my reports ----------------------------------------------------------------------------------------------
MY_REPORTS_NONE = "您还没有上报记录。回复“上报”开始上报。"
MY_REPORTS_NOT_BOUND = "“我的上报”只对已绑定的单位联络员开放，您的微信还没有绑定。\n" + BIND_HELP
MY_REPORTS_HEAD = "您最近的上报（最多10条）："
MY_REPORTS_LINE = "{n}. {date} {title}【{status}】"
MY_REPORTS_FOOT = "回复“上报详情 N”查看第N条，如：上报详情 1"
MY_REPORTS_FOOT_REJECTED = "被退回的上报可回复“修改 N”修改后重新提交，如：修改 {n}"
DETAIL_USAGE = "请回复“上报详情”加序号或回执编号，例如：上报详情 1"
DETAIL_NOT_FOUND = "没有找到这条上报。回复“我的上报”查看您的记录。"
DETAIL = ("回执编号：{receipt_no}\n状态：{status}{reason}\n类别：进{category}\n活动类型：{activity_type}\n主题：{title}\n"
          "日期：{date}\n地点：{place}\n参与人数：{participants}人\n照片：{photos}张\n提交时间：{submitted}\n内容：{content}")
DETAIL_REASON = "（退回原因：{reason}）"
DETAIL_REOPEN = "\n回复“修改 {receipt_no}”修改后重新提交。"
DETAIL_REVISIONS = "\n已重新提交{n}次，上次退回原因：{reason}"

# --- review result notices -----------------------------------------------------------------------------------
RESULT_APPROVED = "您上报的活动“{title}”（回执编号{receipt_no}）已审核通过。感谢您的辛勤付出！"
RESULT_REJECTED = ("您上报的活动“{title}”（回执编号{receipt_no}）被退回，原因：{reason}。请修改后重新上报。"
                   "回复“修改 {receipt_no}”即可修改并重新提交，回执编号不变。")
ALREADY_HANDLED = "这份上报刚才已经处理过了。回复“我的上报”查看记录。"
ALREADY_BOUND = "您已绑定为“{name}（{unit}）”。回复“上报”即可上报活动。"


# ---- compliance: strings of the 督查考核 (compliance) rules and statuses.

MET = "达标"
RUNNING = "进行中"
LAGGING = "滞后"

RULE_ORGAN_STUDY = "机关单位党委（党组）理论学习中心组每年至少安排 1 次铸牢中华民族共同体意识专题学习"
RULE_ORGAN_DEPLOY = "机关单位每年研究部署民族团结进步创建工作不少于 2 次"
TARGET_EXTENSION = "全区“七进”延伸拓展单位达到 8 个"
TARGET_EDUCATION_BASE = "全区“七进”教育基地达到 1 个"


def rule_quarterly(minimum: int) -> str:
    return f"各单位每季度至少上报 {minimum} 次经审核通过的“七进”活动（定期督查）"


def year_label(year: int) -> str:
    return f"{year}年"


def quarter_label(year: int, quarter: int) -> str:
    return f"{year}年第{quarter}季度"


BAD_PERIOD = "考核期应为年份（如 2026）或季度（如 2026-Q3）"


# ---- exports: column headers and file names of report exports.

SHEET_TITLE = "活动上报"
RECEIPT_NO = "回执号"
UNIT = "单位"
CATEGORY = "七进类别"
ACTIVITY_TYPE = "活动类型"
TITLE = "活动名称"
ACTIVITY_DATE = "活动日期"
PLACE = "活动地点"
PARTICIPANTS = "参与人数"
CONTENT = "活动内容"
STAFF = "上报人"
PHOTOS = "照片数"
STATUS = "审核状态"
REVIEW_REASON = "审核意见"
SUBMITTED_AT = "提交时间"


REVIEWER = "审核人"
REVIEWED_AT = "审核时间"
EXPORT_NAME = "七进活动上报"


def category_label(category: str) -> str:
    """A 七进 category as the console and the chat show it: 社区 → 进社区."""
    return f"进{category}"


@dataclass(frozen=True)
class Period:
    label: str  # in the file name people see
    ascii: str  # in the plain filename= for clients without RFC 5987


def export_period(date_from: Optional[date], date_to: Optional[date]) -> Period:
    """The period an export covers, for its file name: 2026年3月, 2026年, 2026-03-01至2026-03-20, 2026-03-01起,
    截至2026-03-20, or 全部 without dates."""
    if date_from and date_to:
        if (date_from.day, date_from.month, date_to.month, date_to.day) == (1, 1, 12, 31) \
                and date_from.year == date_to.year:
            return Period(f"{date_from.year}年", f"{date_from.year}")
        if date_from.day == 1 and (date_to + timedelta(days=1)).day == 1 \
                and (date_from.year, date_from.month) == (date_to.year, date_to.month):
            return Period(f"{date_from.year}年{date_from.month}月", f"{date_from:%Y-%m}")
        return Period(f"{date_from.isoformat()}至{date_to.isoformat()}", f"{date_from.isoformat()}_{date_to.isoformat()}")
    if date_from:
        return Period(f"{date_from.isoformat()}起", f"from-{date_from.isoformat()}")
    if date_to:
        return Period(f"截至{date_to.isoformat()}", f"to-{date_to.isoformat()}")
    return Period("全部", "all")


# ---- api: messages of the JSON API and the console forms (validation errors name the field in Chinese; the JSON
# answer also names it by its machine name).

# Machine field name → what the console's forms call it. Where units and staff differ, the tables below override.
FIELD_LABELS = {
    "name": "名称", "category": "七进类别", "contact": "联系人", "phone": "联系电话", "is_extension": "延伸拓展单位",
    "is_education_base": "教育基地", "active": "启用状态", "unit_id": "单位", "staff_id": "工作人员",
    "activity_type": "活动类型", "title": "活动主题", "date": "活动日期", "activity_date": "活动日期",
    "place": "活动地点", "participants": "参与人数", "content": "活动内容", "action": "审核操作", "reason": "审核意见",
    "status": "状态", "date_from": "开始日期", "date_to": "结束日期", "month": "月份", "q": "关键词", "page": "页码",
    "per_page": "每页条数", "period": "考核期", "format": "导出格式", "quarter_min": "每季度最少活动数", "limit": "条数",
    "offset": "起始位置",
}
UNIT_LABELS = FIELD_LABELS | {"name": "单位名称"}
STAFF_LABELS = FIELD_LABELS | {"name": "姓名", "phone": "电话"}

UNKNOWN_UNIT = "单位不存在"
UNKNOWN_STAFF = "工作人员不存在"
DATE_ORDER = "结束日期不能早于开始日期"
BAD_ACTION = "审核操作只能是 approve（通过）或 reject（退回）"
STAFF_OTHER_UNIT = "该工作人员不属于此单位，不能代其他单位的工作人员操作上报"
REPORTS_EXIST = "该工作人员已有上报记录，不能调往其他单位；请停用后为新单位新建工作人员"
FUTURE_DATE = "活动日期不能晚于今天"
INACTIVE = "该工作人员或其单位已停用"
BAD_FORMAT = "导出格式只能是 xlsx 或 csv"
UNIT_NAME = "单位名称不能为空，且不超过100字"
STAFF_NAME = "姓名不能为空，且不超过50字"
STAFF_INACTIVE = "该工作人员已停用"


def label(name: str, labels: dict[str, str] = FIELD_LABELS) -> str:
    """The Chinese name of field `name` (the machine name itself only for a field nobody labelled)."""
    return labels.get(name, name)


def unit_exists(name: str) -> str:
    return f"单位“{name}”已存在"


def unknown_fields(names: list[str]) -> str:
    return f"不能修改这些字段：{'、'.join(names)}"


def bad_int(name: str, minimum: int = 1, labels: dict[str, str] = FIELD_LABELS) -> str:
    return params.bad_int(name, minimum, labels)


def bad_range(name: str, low: int, high: int, labels: dict[str, str] = FIELD_LABELS) -> str:
    return params.bad_range(name, low, high, labels)


def bad_choice(name: str, options: tuple[str, ...], labels: dict[str, str] = FIELD_LABELS) -> str:
    return params.bad_choice(name, options, labels)


def choose(name: str, options: tuple[str, ...], labels: dict[str, str] = FIELD_LABELS) -> str:
    """A required choice left empty (e.g. the form's 请选择)."""
    return f"请选择{label(name, labels)}（{'、'.join(options)}）"


def required(name: str, labels: dict[str, str] = FIELD_LABELS) -> str:
    return params.required(name, labels)


def too_long(name: str, limit: int, labels: dict[str, str] = FIELD_LABELS) -> str:
    return params.too_long(name, limit, labels)


def bad_phone(name: str, labels: dict[str, str] = FIELD_LABELS) -> str:
    return (f"{label(name, labels)}应为手机号（如 13812345678）或带区号的固定电话（如 0851-86812345，"
            "分机写作 0851-86812345转8001）")


def bad_type(name: str, kind: str, labels: dict[str, str] = FIELD_LABELS) -> str:
    return params.bad_type(name, kind, labels)
