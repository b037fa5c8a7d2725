from django.urls import path

from pollsystem.polls.apis import PollCloseApi, PollDetailApi, PollListCreateApi, PollResultsApi, PollVoteApi

urlpatterns = [
    path("", PollListCreateApi.as_view(), name="polls"),
    path("<int:poll_id>/", PollDetailApi.as_view(), name="poll"),
    path("<int:poll_id>/close/", PollCloseApi.as_view(), name="poll-close"),
    path("<int:poll_id>/vote/", PollVoteApi.as_view(), name="poll-vote"),
    path("<int:poll_id>/results/", PollResultsApi.as_view(), name="poll-results"),
]
