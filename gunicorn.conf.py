"""gunicorn's settings file, read when gunicorn starts in this folder (`gunicorn wsgi:app`).

The access log (off unless `--access-logfile` is given) shows the path without the query string: /wechat's carries
WeChat's signature, timestamp and nonce, which anyone reading the log could replay within the replay window. The
message's MsgId (set by handlers/wechat.py) takes its place.
"""
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(f)s" "%(a)s" MsgId=%({wechat.msgid}e)s'
