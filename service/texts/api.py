"""Messages of the JSON API, the statistics and the exports (validation errors name the field as well)."""

UNKNOWN_UNIT = "单位不存在"
UNKNOWN_STAFF = "工作人员不存在"
DATE_ORDER = "结束日期不能早于开始日期"
BAD_ACTION = "action 只能是 approve（通过）或 reject（退回）"
STAFF_OTHER_UNIT = "该工作人员不属于此单位，不能代其他单位的工作人员操作上报"
REPORTS_EXIST = "该工作人员已有上报记录，不能调往其他单位；请停用后为新单位新建工作人员"
FUTURE_DATE = "活动日期不能晚于今天"
INACTIVE = "该工作人员或其单位已停用"
BAD_FORMAT = "导出格式只能是 xlsx 或 csv"


def bad_date(name: str) -> str:
    return f"{name} 必须是 YYYY-MM-DD 格式的日期"


def bad_int(name: str, minimum: int = 1) -> str:
    return f"{name} 必须是正整数" if minimum == 1 else f"{name} 必须是不小于 {minimum} 的整数"


def bad_month() -> str:
    return "month 必须是 YYYY-MM 格式的月份"


def bad_per_page(limit: int) -> str:
    return f"per_page 必须在 1 到 {limit} 之间"


def bad_choice(name: str, options: tuple[str, ...]) -> str:
    return f"{name} 必须是：{'、'.join(options)}"


def required(name: str) -> str:
    return f"缺少 {name}"


def bad_type(name: str, kind: str) -> str:
    return f"{name} 必须是{kind}"
