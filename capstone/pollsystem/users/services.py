from django.contrib.auth.password_validation import validate_password
from django.db import IntegrityError, transaction

from pollsystem.core.exceptions import Conflict
from pollsystem.users.models import User


def user_create(*, username: str, password: str, email: str = "") -> User:
    user = User(username=username, email=email)
    validate_password(password, user)  # raises django.core.exceptions.ValidationError
    user.set_password(password)
    user.full_clean(exclude=["password"])  # a taken username is a validation error...
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # ...unless another request took it since the check
        raise Conflict("That username is taken.", code="username_taken") from None
    return user
