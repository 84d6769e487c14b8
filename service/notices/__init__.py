"""Notices to residents and staff: announcements (audience, schedule, recurrence), their delivery through the WeChat
API (customer-service window, template, mass send; claimed row by row, exactly once), and subscriptions in chat.

May import: `core`, `chat`, `wechat_api`.
"""
