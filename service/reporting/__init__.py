"""Activity reporting: units and their staff (binding a liaison's WeChat), the report conversation and quick report,
reports and their review, photo downloads, filters, compliance with the policy's rules, statistics and exports.

May import: `core`, `chat`. It does not import `notices`: a review result is published as a `ReportResultNotice`
row (an outbox), which the scheduler delivers.
"""
