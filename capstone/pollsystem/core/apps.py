from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "pollsystem.core"
    label = "core"

    def ready(self) -> None:
        from pollsystem.core import logging as request_logging

        request_logging.connect_celery_signals()
