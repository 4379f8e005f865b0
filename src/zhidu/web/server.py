"""Serving zhidu with gunicorn, in-process for `zhidu run` and `zhidu serve`."""

from gunicorn.app.base import BaseApplication


class ZhiduServer(BaseApplication):
    def __init__(self, options: dict, post_worker_init=None):
        self.options = options
        self._post_worker_init = post_worker_init
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)
        if self._post_worker_init:
            self.cfg.set("post_worker_init", lambda worker: self._post_worker_init())

    def load(self):
        from zhidu.wsgi import application

        return application
