"""Strings shared by every chat route."""

APOLOGY = "抱歉，系统刚才开了小差，请稍后再试。如需帮助请回复“帮助”。"
UNSUPPORTED = "暂不支持这类消息。回复“帮助”查看可以做什么。"
CANCELLED = "已取消。回复“帮助”查看主菜单。"
MORE_HINT = "（回复“更多”继续）"
NO_MORE = "没有更多内容了。回复“帮助”查看主菜单。"
