"""Outbound WeChat API: the client aimed at WECHAT_API_BASE (timeouts, bounded retry, our error types) and the
access-token stores it shares between processes (database, Redis, memory).

May import: `core`.
"""
