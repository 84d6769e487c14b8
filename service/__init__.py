"""The 七进 WeChat service: `create_app` is the composition root."""
from service.app import create_app

__all__ = ["create_app"]
