"""Replies of the policy menu and the policy Q&A."""

FLOW = "policy"
MENU_KEYWORD = "政策"
BACK_WORDS = ("返回", "上一级", "返回上一级", "后退")
RESTART_WORDS = ("换个问题", "换一个问题", "换个话题", "重新问", "问别的", "新问题")

MENU_HEADER = "《{title}》目录"
MENU_FOOTER = "回复数字查看，回复“返回”上一级；也可以直接打字提问。"
LEAF_FOOTER = "回复“返回”上一级，回复“政策”回到目录。"
CHILDREN_HEADER = "下设条目："
SOURCE = "出处：{path}"
RELATED_HEADER = "相关条款（回复数字查看）："
FULL_TEXT = "回复 1 看全文"
SECTION_ITEMS = "下设条目（回复数字查看）："
FAQ_FOOTER = "（常见问题解答）回复“政策”可按目录查看原文。"
MENU_EXITED = "已退出政策目录。回复“政策”可重新打开，也可以直接打字提问。"

EXAMPLES = ("社区怎么开展民族团结活动", "部队怎么搞民族团结创建", "宗教活动要遵守什么原则")
NO_CLAUSE = "没有找到与您的问题直接相关的政策条款。"
# Every 没有找到 offers a person: 留言 starts a message to staff with the question as its first line.
LEAVE_MESSAGE = "\n回复“留言”把问题留给工作人员。"
NOT_FOUND = (NO_CLAUSE + LEAVE_MESSAGE + "\n可以回复“政策”按目录查看，或回复“进社区”“进学校”等直接打开某一项；"
             "也可以这样问：\n{examples}")
OUT_OF_SCOPE = (NO_CLAUSE + "您问的“{topics}”不在“七进”行动方案的范围内，相关事项请咨询主管部门。" + LEAVE_MESSAGE + "\n"
                "可以回复“政策”按目录查看，或回复“帮助”查看全部功能；关于“七进”，也可以这样问：\n{examples}")
MENU_HINT = NO_CLAUSE + "您是不是想用这些功能：\n{options}\n回复数字即可；回复“帮助”查看全部功能。"
MENU_HINT_OPTION = "{number}. {label}"
EMPTY = "您好像没有输入内容。请直接用文字提问，或回复“政策”查看目录。比如：\n{examples}"
SYMBOLS_ONLY = "收到！如果想了解“七进”政策，请用文字提问，或回复“政策”查看目录。比如：\n{examples}"
NOT_CHINESE = ("目前只能用中文回答“七进”政策问题（Please ask in Chinese）。请用中文提问，或回复“政策”查看目录。比如：\n"
               "{examples}")
TOO_LONG = "您发来的内容有{count}字，太长了，我没法准确查找。请用一两句话说说想了解什么，比如：\n{examples}"
NUMBER_NO_MENU = "数字只在打开目录后用来选择条目。请先回复“政策”打开目录，再回复对应的数字。"
BAD_NUMBER = "没有第{number}项，请回复 1–{count} 之间的数字，或回复“返回”上一级。"
NO_CHOICES = "这一条没有下级条目了。回复“返回”上一级，回复“政策”回到目录。"
CLAUSE_GONE = "政策内容刚刚更新过，请回复“政策”重新打开目录。"
SECTION_MISSING = "政策库里暂时没有“{name}”这一项。回复“政策”查看目录。"
ASK_AGAIN = "好的，请直接输入新的问题。比如：\n{examples}"
ASK_PROMPT = "请直接输入您想了解的“七进”政策问题，我会找出对应的条款和出处。比如：\n{examples}"
EMPTY_KB = "政策库暂时为空，请稍后再试。"


def examples_block() -> str:
    return "\n".join(f"· {q}" for q in EXAMPLES)
