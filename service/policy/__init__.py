"""Policy knowledge base: importing policy documents into numbered clauses, the search index (jieba, synonyms),
composed answers with their source, FAQ entries and unanswered questions, and the policy menu in chat.

May import: `core`, `chat`.
"""
