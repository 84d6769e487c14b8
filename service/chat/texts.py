"""User-facing strings of the chat layer: what every route may say, the main menu, welcome and help."""

APOLOGY = "抱歉，系统刚才开了小差，请稍后再试。如需帮助请回复“帮助”。"
UNSUPPORTED = "暂不支持这类消息。回复“帮助”查看可以做什么。"
CANCELLED = "已取消。回复“帮助”查看主菜单。"
MORE_HINT = "（回复“更多”继续）"
BUSY = "您刚才的消息正在处理，请稍后重新发送这条回复。"
ALREADY_HANDLED = "这一步刚才已经处理过了。回复“帮助”查看主菜单。"
NO_MORE = "没有更多内容了。回复“帮助”查看主菜单。"


# ---- the main menu, welcome and help

WELCOME = "欢迎关注民族团结进步创建“七进”活动服务号！\n“七进”即进机关、进企业、进社区、进乡镇、进学校、进连队、进宗教活动场所。"
MENU_TITLE = "请回复数字或文字选择："
MENU_FOOTER = "也可以直接用自己的话提问政策问题，例如“社区要开展哪些活动？”。随时回复“帮助”回到本菜单。"
FALLBACK = "没有找到与您的问题相关的内容。回复“帮助”查看主菜单。"
UNSUPPORTED_MEDIA = "已收到您的{kind}。目前只有在“活动上报”或“留言”时才需要发送图片或位置；回复“帮助”查看可以做什么。"
MEDIA_NAMES = {"image": "图片", "voice": "语音", "video": "视频", "shortvideo": "小视频", "location": "位置", "link": "链接",
               "file": "文件"}
VOICE_UNRECOGNISED = "抱歉，没能识别这段语音，请改用文字发送。回复“帮助”查看主菜单。"
EMPTY_TEXT = "您发送的内容是空的。回复“帮助”查看主菜单，或直接输入想咨询的问题。"
SCAN_WELCOME = "欢迎回来！"
GREETING = "您好！这里是民族团结进步创建“七进”活动服务号。"
THANKS = "不客气！有需要随时回复“帮助”查看菜单，或直接用文字提问。"
ACKNOWLEDGED = "好的。有需要随时回复“帮助”查看菜单，或直接用文字提问。"
# Small talk, answered like a keyword: otherwise it would reach the policy search and the unanswered-question inbox.
GREETING_WORDS = ("你好", "您好", "你好呀", "您好呀", "你们好", "hi", "hello", "嗨", "哈喽", "在吗", "在不在", "有人吗")
THANKS_WORDS = ("谢谢", "谢谢你", "谢谢您", "感谢", "多谢", "非常感谢", "好的谢谢", "thanks", "thank you")
ACK_WORDS = ("好的", "好", "ok", "收到", "嗯", "嗯嗯", "知道了", "明白了")
