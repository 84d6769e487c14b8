"""The baseline for bench/gateway.py: a bare Flask endpoint that answers every POST /wechat with `success`."""
from flask import Flask

app = Flask(__name__)


@app.post("/wechat")
def wechat() -> str:
    return "success"
