"""Strings of the 督查考核 (compliance) rules and statuses."""

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
