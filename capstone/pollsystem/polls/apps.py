from django.apps import AppConfig


class PollsConfig(AppConfig):
    name = "pollsystem.polls"
    label = "polls"
    default_auto_field = "django.db.models.BigAutoField"
