"""The inbound WeChat gateway: protocol (signature, safe-mode AES, XML), the exactly-once inbox, the router that
hands each message to a feature's routes, and the simulator engine that drives the same path from a browser.

May import: `core`, `chat`, and the features' chat routes (`policy`, `reporting`, `notices`, `messages`). Nothing but the
handlers and the composition root imports `wechat`; the scheduler only trims the inbox.
"""
