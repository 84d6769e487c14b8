"""User-facing strings for announcements, subscriptions and reminders."""

# Validation messages (JSON 422 answers name the field as well).
TITLE_REQUIRED = "标题不能为空"
TITLE_TOO_LONG = "标题不能超过 {limit} 个字（模板消息关键词限制）"
BODY_REQUIRED = "正文不能为空"
BODY_TOO_LONG = "正文过长：客服消息最多 {limit} 字节（UTF-8），当前 {size} 字节"
AUDIENCE_INVALID = ("发送对象只能是 all（全部关注者）、topic（订阅主题）、units（指定单位）、categories（单位类别）"
                    "或 openids（指定用户）之一")
TOPIC_UNKNOWN = "未知的订阅主题：{value}（可选：{choices}）"
UNIT_UNKNOWN = "未知的单位编号：{value}"
CATEGORY_UNKNOWN = "未知的单位类别：{value}（可选：{choices}）"
OPENIDS_INVALID = "指定用户必须是非空的 openid 列表（每个 openid 不超过 64 个字符）"
UNITS_INVALID = "指定单位必须是非空的单位编号列表"
CATEGORIES_INVALID = "单位类别必须是非空的类别列表"
SEND_AT_INVALID = "发送时间格式不正确，应为 now 或 ISO 时间（如 2025-03-01T09:00）"
SEND_AT_PAST = "发送时间不能早于当前时间"
RECURRENCE_INVALID = "无法识别的重复规则：{value}（示例：每周一 9:00、每月1日 9:00、每天 8:30、every Monday 9:00）"
NOT_FOUND = "通知不存在"
NOT_EDITABLE = "通知状态为“{status}”，不能再修改"
NOT_CANCELLABLE = "通知状态为“{status}”，不能取消"

# Delivery reasons recorded per recipient.
REASON_UNFOLLOWED = "未关注或已取消关注"
REASON_OPTED_OUT = "已发送“退订”"
REASON_NO_CHANNEL = "不在48小时客服窗口内，且未配置模板消息"
REASON_CANCELLED = "通知已取消"
REASON_UNKNOWN = "发送时进程中断，无法确认是否送达；为避免重复，不自动重发"
REASON_RETRIES = "多次重试仍失败"
REASON_WILL_RETRY = "这次没有发出去，稍后自动重试"
REASON_NO_ANSWER = "请求已发出但微信未答复（超时），可能已送达；为避免重复，不自动重发"
NO_TEMPLATE_WARNING = ("未配置模板消息（WECHAT_TEMPLATE_ID）：{count} 位收件人不在48小时客服窗口内（或窗口内的5条客服消息已用完），"
                       "将收不到这条通知。请配置模板消息，或改为发给近期与公众号互动过的人。")
REASON_RESENT = "管理员确认后重发（上次结果未知）"
NOT_RESENDABLE = "通知状态为“{status}”，不能重发"
NOTHING_TO_RESEND = "没有结果未知的消息需要重发"
RESEND_CONFIRM = ("结果未知的消息可能已经送达，重发后这些用户可能收到两次。"
                  "确认重发请传 \"confirm\": true")
POLICY_UPDATE_TITLE = "政策更新：{title}"
POLICY_UPDATE_BODY = "《{title}》发布了第{version}版，共{count}条。回复“政策”浏览最新内容，也可以直接用自己的话提问。"
TEMPLATE_RECEIVED = "微信确认用户已收到"
TEMPLATE_REFUSED = "用户拒收模板消息"


def template_failed(status: str) -> str:
    return f"微信未能送达模板消息（{status}）"

# Template message keyword values (≤ 20 characters each, no line breaks).
TEMPLATE_HINT = "请在公众号内回复“通知”查看全文"

# Chat.
TOPIC_MENU = ("可订阅的通知主题（回复编号订阅，可一次选多个，如“1 3”；回复“全部”订阅所有主题；回复“退订”取消全部订阅）：\n"
              "{lines}\n当前已订阅：{current}")
NONE = "无"
SUBSCRIBED = "已订阅“{topic}”。回复“通知”查看最近的通知，回复“退订”取消订阅。"
ALREADY_SUBSCRIBED = "您已订阅“{topic}”。"
TOPIC_NUMBER_INVALID = "请回复 1-{count} 之间的编号选择主题（可选多个，如“1 3”，或回复“全部”），或回复“取消”。"
UNSUBSCRIBED = "已退订，您将不再收到任何通知。回复“订阅”可重新订阅。"
NO_NOTICES = "暂时没有发给您的通知。"
NOTICES_TITLE = "最近的通知："
NOTICE_LINE = "{n}. {date} {title}\n{body}"

# System messages.
REMINDER_TITLE = "工作提醒"
REMINDER_BODY = ("【{unit}】本年度“七进”创建工作进度滞后，尚未完成：{missed}。"
                 "请按方案要求按时开展活动并通过公众号“活动上报”提交。")
QUARTER_TITLE = "季度末提醒"
QUARTER_BODY = ("【{unit}】本季度即将结束（{quarter_end}），尚未完成：{missed}。"
                "请在季度结束前开展活动并上报。")
DIGEST_TITLE = "每周通知简报"
DIGEST_BODY = ("过去一周：发出通知 {announcements} 条，送达 {sent} 人次，失败 {failed} 人次，"
               "状态未知 {unknown} 人次；当前滞后单位 {lagging} 个；居民留言未答复 {unanswered} 条，"
               "其中超时 {overdue} 条。")
REPORT_RESULT_TITLE = "上报审核结果"
