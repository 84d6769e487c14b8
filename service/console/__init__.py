"""The back office behind /admin and /api/v1: console accounts and API tokens, the audit pages, back-office edits
and bulk import of units, staff and reports, the dashboard and its charts, the 设置与状态 checks (which compare the
custom menu).

May import: `core`, `chat`, `policy`, `reporting`, `notices`, `messages`, `wechat_api`. Nothing in `service/` imports `console`.
"""
