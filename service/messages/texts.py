"""What residents read about their messages (留言), in Chinese; the staff pages have their own texts."""

MAX_CHARS = 1000
MAX_PHOTOS = 3

# validation (chat re-asks with these; the API answers them with the field)
EMPTY_TEXT = "留言内容不能为空，请用文字（或语音）说明您的问题或建议。"
TOO_LONG = "留言内容最多 1000 字，您发来的有 {n} 字。请删减后再发，或分成几次“追加”。"
TOO_MANY_PHOTOS = "每条留言最多附 3 张照片。"
BAD_CATEGORY = "请选择留言类别：1 政策咨询、2 意见建议、3 求助、4 反映问题。"
BAD_PHONE = "电话应为手机号（如 13812345678）或带区号的固定电话（如 0851-86812345）；不想留电话请回复“跳过”。"
REPLY_EMPTY = "回复内容不能为空"
REPLY_TOO_LONG = "回复内容最多 {limit} 字（微信单条消息的长度），当前 {n} 字"
THREAD_CLOSED = "留言 {receipt} 已办结，不能再追加。如有新的问题，请回复“留言”重新留言。"

# what the resident receives
REPLY_HEAD = "【留言 {receipt} 的回复】"
REPLY_FOOT = "回复“追加 {receipt} 内容”可以继续补充；回复“留言详情 {receipt}”查看全部记录。"
RATING_QUESTION = ("【留言 {receipt} 已办结】请对这次办理做个评价：回复 1 满意、2 基本满意、3 不满意，"
                   "也可以在数字后面写几句意见（如“3 还没有解决”）。")
TEMPLATE_TITLE = "留言{receipt}"  # ≤ 20 characters: 留言LY202612020001
TEMPLATE_HINT = "已有回复，请进入公众号查看"
TEMPLATE_RATE = "已办结，请进入公众号评价"

# delivery notes shown on the thread
CS_CLOSED_TEMPLATE = "客服消息失败（{errcode}，窗口已关闭），改用模板消息"
CS_CLOSED_WAIT = "客服消息失败（{errcode}，窗口已关闭），等居民下次发消息时送达"
