"""Residents' messages to a person (留言): the resident's conversation (leave a message, 我的留言, 留言详情, 追加,
rating), receipts, the staff side (inbox, assignment, notes, closing, service levels) and the delivery of staff
replies (customer-service message inside the 48-hour window, passive reply on the resident's next message, or a
template message), each reply exactly once.

May import: `core`, `chat`, `wechat_api`, `notices` (the customer-service window bookkeeping).
"""
