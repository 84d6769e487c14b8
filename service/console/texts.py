"""Chinese strings of the administrators' console that come from Python (flash messages, audit labels)."""

from service.messages.labels import CATEGORY_LABELS

LOGIN_FAILED = "用户名或密码不正确"
LOGIN_REQUIRED = "请输入用户名和密码"
SIGNED_OUT = "已退出登录"
PASSWORD_CHANGED = "密码已修改"
PASSWORD_MISMATCH = "两次输入的新密码不一致"
PASSWORD_RULE = "至少 {minimum} 位，且包含字母、数字、符号中的至少两类"
PASSWORD_UNCHANGED = "新密码不能与原密码相同"
PASSWORD_CHANGE_REQUIRED = "首次登录请先设置您自己的密码，设置完成后才能使用其他功能。"
SAVED = "已保存"
ANSWERED_ASKERS = "，并已回复提问的 {count} 位群众（各成一条留言，送达情况见“群众留言”）"
DELETED = "已删除"
DEACTIVATED = "已停用"
ANNOUNCEMENT_SAVED = {"草稿": "已存为草稿", "已排期": "已排期，到时间后自动发送"}
ANNOUNCEMENT_CANCELLED = "通知已取消，未发出的消息不会再发送"
ANNOUNCEMENT_RESENT = "已安排重发 {count} 条结果未知的消息"
RESEND_UNKNOWN_WARNING = ("这 {count} 条消息的结果未知：微信可能已经送达，重发后这些用户可能收到两次。"
                          "确定重发？")
ANNOUNCEMENT_NOT_EDITABLE = "通知状态为“{status}”（或受众由接口指定），不能在这里修改"
TOKEN_REVOKED = "令牌已吊销，使用它的请求将被拒绝"
CODES_REVOKED = "已撤销 {count} 个未使用的绑定码"
REVIEWED = {"approve": "已通过上报 {receipt}", "reject": "已退回上报 {receipt}"}
RESUBMITTED = "已修改并重新提交上报 {receipt}，等待审核"
UNANSWERED_GONE = "这个未回答问题已被处理，请刷新列表"
POLICY_IMPORTED = {
    "created": "已导入第 {version} 版，共 {count} 条条款",
    "updated": "已更新为第 {version} 版，共 {count} 条条款",
    "unchanged": "内容与当前第 {version} 版相同，未做改动",
}
POLICY_NOTICE_DRAFTED = "；已为订阅“政策更新”的用户准备了通知草稿，请到“通知”中确认后发送"

# Audit actions → what the audit page shows.
ACTIONS = {
    "auth.login": "登录",
    "auth.login_failed": "登录失败",
    "auth.logout": "退出登录",
    "auth.password_change": "修改密码",
    "report.approve": "通过报告",
    "report.reject": "退回报告",
    "report.export": "导出报告",
    "unit.create": "新建单位",
    "unit.update": "修改单位",
    "unit.deactivate": "停用单位",
    "staff.create": "新建人员",
    "staff.update": "修改人员",
    "staff.deactivate": "停用人员",
    "binding.issue": "发放绑定码",
    "binding.revoke": "撤销绑定码",
    "announcement.create": "新建通知",
    "announcement.schedule": "安排发送",
    "announcement.cancel": "取消通知",
    "policy.upload": "上传政策文件",
    "faq.create": "新建问答",
    "faq.update": "修改问答",
    "faq.delete": "删除问答",
    "admin.create": "新建账号",
    "admin.activate": "启用账号",
    "admin.deactivate": "停用账号",
    "api_token.create": "发放接口令牌",
    "api_token.revoke": "吊销接口令牌",
    "announcement.edit": "修改通知",
    "report.create": "代录报告",
    "report.resubmit": "修改后重新提交报告",
    "announcement.resend_unknown": "重发结果未知的消息",
    "units.import": "批量导入单位与人员",
    "binding.bind": "工作人员绑定微信",
    "message.create": "代录群众留言",
    "message.assign": "分派留言",
    "message.note": "留言内部备注",
    "message.reply": "回复留言",
    "message.close": "办结留言",
}

TARGETS = {
    "admin_user": "账号",
    "activity_report": "报告",
    "unit": "单位",
    "staff": "人员",
    "announcement": "通知",
    "policy_document": "政策文件",
    "faq": "问答",
    "api_token": "接口令牌",
    "resident_thread": "留言",
}

# The audit page's details: what each key of an entry's detail means, and how its values read.
DETAIL_LABELS = {
    "title": "标题", "audience": "发送对象", "recurrence": "重复", "status": "状态", "reason": "原因", "via": "途径",
    "name": "名称", "username": "用户名", "role": "角色", "category": "类别", "unit": "单位", "count": "数量",
    "revoked": "撤销数", "receipt_no": "回执编号", "questions": "问法", "clauses": "条款数", "version": "版本",
    "file": "文件", "filters": "筛选条件", "prefix": "令牌前缀", "codes": "绑定码数", "user": "账号",
    "from_unanswered": "来自未答问题", "created": "新建", "updated": "更新", "unchanged": "未变",
    "type": "类型", "topic": "主题", "unit_ids": "单位", "categories": "类别", "openids": "用户", "staff": "人员",
    "openid": "微信用户", "expires": "到期", "action": "操作", "active": "启用", "format": "格式",
    "receipt": "留言编号", "assigned_to": "处理人", "entry_id": "记录号", "answered_askers": "回复提问人数",
}
FLAG_VALUES = {True: "是", False: "否", None: "无"}
DETAIL_VALUES = {  # per key: the codes its values take
    "via": {"api": "接口", "console": "后台"},
    "role": {"admin": "管理员", "reviewer": "审核员", "reception": "接待员"},
    "type": {"all": "全部关注者", "topic": "订阅主题", "units": "指定单位", "categories": "指定类别", "openids": "指定用户"},
    "topic": {"notice": "通知公告", "event": "活动预告", "policy": "政策更新"},
    "category": dict(CATEGORY_LABELS),  # a message's category (a unit's is already a Chinese word)
}
