"""The REST API: thin views that parse input, call a service or selector, and serialize output."""

from django.db import transaction
from django.utils.decorators import method_decorator
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from pollsystem.core.pagination import Pagination
from pollsystem.polls import selectors, services


class OptionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    position = serializers.IntegerField()


class PollOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    question = serializers.CharField()
    created_by = serializers.CharField(source="created_by.username")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    is_open = serializers.SerializerMethodField()
    options = OptionOutputSerializer(many=True)

    def get_is_open(self, poll) -> bool:
        return poll.is_open()


class PollPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = PollOutputSerializer(many=True)


class PollListCreateApi(APIView):
    """GET: the public list of polls, newest first. POST: create a poll (authenticated)."""

    class PollFilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=["open", "closed"], required=False)
        mine = serializers.BooleanField(required=False, default=False)

    class PollCreateInputSerializer(serializers.Serializer):
        question = serializers.CharField(max_length=300)
        options = serializers.ListField(child=serializers.CharField(max_length=200), min_length=2, max_length=20)
        expires_at = serializers.DateTimeField()

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "GET" else [IsAuthenticated()]

    @extend_schema(parameters=[PollFilterSerializer], responses={200: PollPageSerializer},
                   operation_id="polls_list")
    def get(self, request):
        # a plain dict, not the QueryDict: DRF would read "status=" from a form as "not given"
        filters = self.PollFilterSerializer(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        mine = filters.validated_data["mine"]
        if mine and not request.user.is_authenticated:
            mine = False
        polls = selectors.poll_list(status=filters.validated_data.get("status"),
                                    created_by_id=request.user.pk if mine else None)
        paginator = Pagination()
        page = paginator.paginate_queryset(polls, request, view=self)
        return paginator.get_paginated_response(PollOutputSerializer(page, many=True).data)

    @extend_schema(request=PollCreateInputSerializer, responses={201: PollOutputSerializer},
                   operation_id="polls_create")
    def post(self, request):
        data = self.PollCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        poll = services.poll_create(created_by=request.user, **data.validated_data)
        return Response(PollOutputSerializer(selectors.poll_get(poll_id=poll.pk)).data, status=status.HTTP_201_CREATED)


class PollDetailApi(APIView):
    """GET: one poll. PATCH: edit it (its creator only); options keep their votes."""

    class PollOptionInputSerializer(serializers.Serializer):
        id = serializers.IntegerField(required=False)
        text = serializers.CharField(max_length=200)

    class PollUpdateInputSerializer(serializers.Serializer):
        question = serializers.CharField(max_length=300, required=False)
        expires_at = serializers.DateTimeField(required=False)
        options = serializers.ListField(required=False, min_length=2, max_length=20)

        def validate_options(self, value):
            serializer = PollDetailApi.PollOptionInputSerializer(data=value, many=True)
            serializer.is_valid(raise_exception=True)
            return serializer.validated_data

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "GET" else [IsAuthenticated()]

    @extend_schema(responses={200: PollOutputSerializer}, operation_id="polls_retrieve")
    def get(self, request, poll_id: int):
        return Response(PollOutputSerializer(selectors.poll_get(poll_id=poll_id)).data)

    @extend_schema(request=PollUpdateInputSerializer, responses={200: PollOutputSerializer},
                   operation_id="polls_update")
    def patch(self, request, poll_id: int):
        data = self.PollUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.poll_update(poll_id=poll_id, user=request.user, **data.validated_data)
        return Response(PollOutputSerializer(selectors.poll_get(poll_id=poll_id)).data)


class PollCloseApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: PollOutputSerializer}, operation_id="polls_close")
    def post(self, request, poll_id: int):
        services.poll_close(poll_id=poll_id, user=request.user)
        return Response(PollOutputSerializer(selectors.poll_get(poll_id=poll_id)).data)


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class PollVoteApi(APIView):
    """Vote once. The service owns the transaction, so a database deadlock can be retried."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "vote"

    class VoteInputSerializer(serializers.Serializer):
        option_id = serializers.IntegerField()

    class VoteOutputSerializer(serializers.Serializer):
        poll_id = serializers.IntegerField()
        option_id = serializers.IntegerField()
        voted_at = serializers.DateTimeField(source="created_at")

    @extend_schema(request=VoteInputSerializer, responses={201: VoteOutputSerializer}, operation_id="polls_vote")
    def post(self, request, poll_id: int):
        data = self.VoteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        vote = services.vote_cast(poll_id=poll_id, option_id=data.validated_data["option_id"], user=request.user)
        return Response(self.VoteOutputSerializer(vote).data, status=status.HTTP_201_CREATED)


class ResultsOptionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    votes = serializers.IntegerField()


class ResultsOutputSerializer(serializers.Serializer):
    poll_id = serializers.IntegerField()
    question = serializers.CharField()
    is_open = serializers.BooleanField()
    total_votes = serializers.IntegerField()
    options = ResultsOptionSerializer(many=True)


class PollResultsApi(APIView):
    """Per-option counts; served from the cache until a vote or an edit commits."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: ResultsOutputSerializer}, operation_id="polls_results",
                   parameters=[OpenApiParameter("poll_id", int, OpenApiParameter.PATH)])
    def get(self, request, poll_id: int):
        return Response(ResultsOutputSerializer(selectors.poll_results(poll_id=poll_id)).data)
