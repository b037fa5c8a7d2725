from django.urls import path

from pollsystem.users.apis import TokenObtainApi, TokenRefreshApi, UserRegisterApi

urlpatterns = [
    path("register/", UserRegisterApi.as_view(), name="register"),
    path("token/", TokenObtainApi.as_view(), name="token"),
    path("token/refresh/", TokenRefreshApi.as_view(), name="token-refresh"),
]
