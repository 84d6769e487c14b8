"""The chat layer every conversational feature plugs into: the inbound-message shape and route context, the flow
result contract, per-user conversation drafts, the keyword menu and custom menu, and the strings every route may say.

May import: `core`. Imported by the features (`policy`, `reporting`, `notices`) and by `wechat`.
"""
