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

# ---- the 留言 conversation ----------------------------------------------------------------------------------------
STEP_HEAD = "【留言 第{n}/{total}步·{label}】\n"
PROMPT_CONTENT = ("请写下您想对工作人员说的话（文字或语音，最多 1000 字），也可以附最多 3 张照片。\n"
                  "回复“取消”放弃，“帮助”查看说明。")
PROMPT_CONTENT_PREFILLED = ("您的问题：“{question}”\n可以再补充几句（文字或语音，也可以附最多 3 张照片）；"
                            "不用补充请回复“跳过”。")
CATEGORY_HINTS = {"complaint": "（含拒租、拒住、拒卖等歧视）"}
PROMPT_CATEGORY = "这条留言属于哪一类？请回复数字：\n{options}"
PROMPT_PHONE = "如需工作人员电话联系您，请留下手机号或带区号的固定电话；不留电话请回复“跳过”。"
CURRENT = "\n（当前：{value}）"
SUMMARY_HEAD = "请核对您的留言："
SUMMARY_FOOT = "回复“确认”提交；“修改 N”修改第 N 项；“取消”放弃。"
SUMMARY_LINES = ("1. 内容：{text}", "   照片：{photos}张", "2. 类别：{category}", "3. 电话：{phone}")
NO_PHONE = "未留"
HELP = ("留言会交给工作人员处理，一般在两个工作日内答复；答复会通过本公众号发给您。\n"
        "每一步都可以回复“上一步”返回、“取消”放弃；中途离开后回复“继续”接着填。\n")
INVALID = "⚠ {error}\n"
FIRST_STEP = "已经是第一步了。\n"
ERR_CONFIRM = "请回复“确认”提交，或“修改 1/2/3”修改，或“取消”放弃。"
ERR_EDIT = "请回复“修改 1”“修改 2”或“修改 3”。"
ERR_TEXT_ONLY = "这一步请发送文字或语音。"
PHOTO_RECEIVED = "已收到照片（共 {n} 张，最多 3 张）。\n"
PHOTO_LIMIT = "⚠ 每条留言最多附 3 张照片，这张没有保存。\n"
LEAVE_HINT = "您正在填写留言。要使用“{word}”，请先回复“取消”放弃留言，或回复“暂停”稍后“继续”。\n"
PAUSED = "留言已暂存。需要时回复“继续”接着填写，回复“取消”放弃。"
CANCELLED = "已取消这条留言，内容没有保存。回复“帮助”查看主菜单。"
RESUMED = "继续填写留言：\n"
NOTHING_TO_RESUME = "没有需要继续填写的内容。回复“帮助”查看主菜单。"
SUBMITTED = ("留言已提交，编号 {receipt}。\n工作人员一般在两个工作日内答复，答复会通过本公众号发给您。"
             "回复“我的留言”查看办理进度。")
OFFER = "回复“留言”把问题留给工作人员"

# ---- 我的留言, 留言详情, 追加, rating -----------------------------------------------------------------------------
MY_NONE = "您还没有留言。回复“留言”把问题或建议留给工作人员。"
MY_HEAD = "您最近的留言："
MY_LINE = "{n}. {receipt}（{date}）[{category}] {subject} —— {status}"
MY_FOOT = "回复“留言详情 序号”查看（如“留言详情 1”），“追加 序号 内容”补充说明。"
DETAIL_USAGE = "请在“留言详情”后面写上序号或留言编号，如“留言详情 1”。回复“我的留言”查看列表。"
NOT_FOUND = "没有找到这条留言。回复“我的留言”查看您的留言列表。"
DETAIL_HEAD = "留言 {receipt}（{category}）\n状态：{status}\n提交时间：{created}"
DETAIL_RESIDENT = "【{time} 我】{body}"
DETAIL_REPLY = "【{time} 工作人员回复】{body}"
DETAIL_PHOTOS = "（附照片 {n} 张）"
DETAIL_RATING = "我的评价：{rating}{comment}"
DETAIL_APPEND = "\n10 分钟内直接发送文字、语音或照片，会补充到这条留言；回复“结束”退出。"
DETAIL_CLOSED = "\n这条留言已办结。"
APPEND_USAGE = "请按“追加 序号 内容”的格式发送，如“追加 1 补充：孩子今年九岁”。"
APPENDED = "已补充到留言 {receipt}。工作人员会一并看到。"
APPENDED_MORE = "已补充到留言 {receipt}。还可以继续发送，回复“结束”退出补充。"
APPEND_ENDED = "已结束补充。回复“帮助”查看主菜单。"
RATED = "感谢您的评价（{rating}）！您的意见会转给工作人员。"
RATED_EVENT = "居民评价：{rating}{comment}"
RATING_AGAIN = "这条留言您已经评价过了，谢谢！"
