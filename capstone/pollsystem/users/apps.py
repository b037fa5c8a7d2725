from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "pollsystem.users"
    label = "users"
    default_auto_field = "django.db.models.BigAutoField"
