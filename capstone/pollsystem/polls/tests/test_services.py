from datetime import timedelta
from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from pollsystem.core.exceptions import Conflict
from pollsystem.polls import selectors, services
from pollsystem.polls.models import Option, Poll, ResultSnapshot, Vote
from pollsystem.polls.tests.factories import PollFactory
from pollsystem.users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def in_days(days: float):
    return timezone.now() + timedelta(days=days)


def counts(poll) -> dict[str, int]:
    return {o.text: o.vote_count for o in Option.objects.filter(poll=poll)}


class TestPollCreate:
    def test_creates_the_options_in_order(self, user):
        poll = services.poll_create(created_by=user, question=" Lunch? ", options=["Soup", "Salad"],
                                    expires_at=in_days(1))
        assert poll.question == "Lunch?"
        assert list(poll.options.values_list("text", "position")) == [("Soup", 0), ("Salad", 1)]

    @pytest.mark.parametrize("options, message", [
        (["Only one"], "2 to 20 options"),
        (["Same", "same "], "different"),
        (["Fine", "  "], "cannot be empty"),
    ])
    def test_refuses_bad_options(self, user, options, message):
        with pytest.raises(ValidationError, match=message):
            services.poll_create(created_by=user, question="Q?", options=options, expires_at=in_days(1))
        assert not Poll.objects.exists()

    def test_refuses_an_expiry_in_the_past(self, user):
        with pytest.raises(ValidationError, match="at least a minute"):
            services.poll_create(created_by=user, question="Q?", options=["a", "b"], expires_at=in_days(-1))


class TestVoteCast:
    def test_records_the_vote_and_moves_the_counter(self, poll, user):
        option = poll.options.get(text="No")
        vote = services.vote_cast(poll_id=poll.pk, option_id=option.pk, user=user)
        assert vote.user == user and vote.option == option
        assert counts(poll) == {"Yes": 0, "No": 1, "Maybe": 0}

    def test_a_second_vote_is_a_conflict_and_changes_nothing(self, poll, user):
        yes, no = poll.options.get(text="Yes"), poll.options.get(text="No")
        services.vote_cast(poll_id=poll.pk, option_id=yes.pk, user=user)
        with pytest.raises(Conflict) as refused:
            services.vote_cast(poll_id=poll.pk, option_id=no.pk, user=user)
        assert refused.value.code == "already_voted"
        assert counts(poll) == {"Yes": 1, "No": 0, "Maybe": 0}
        assert Vote.objects.count() == 1

    def test_an_option_of_another_poll_is_refused(self, poll, user):
        other = PollFactory()
        with pytest.raises(ValidationError, match="does not belong"):
            services.vote_cast(poll_id=poll.pk, option_id=other.options.first().pk, user=user)

    def test_a_vote_at_the_moment_of_expiry_is_refused(self, poll, user):
        option = poll.options.first()
        with (mock.patch("pollsystem.polls.services.timezone.now", return_value=poll.expires_at),
              pytest.raises(Conflict) as refused):
            services.vote_cast(poll_id=poll.pk, option_id=option.pk, user=user)
        assert refused.value.code == "poll_closed"
        just_before = poll.expires_at - timedelta(microseconds=1)
        with mock.patch("pollsystem.polls.services.timezone.now", return_value=just_before):
            services.vote_cast(poll_id=poll.pk, option_id=option.pk, user=user)

    def test_a_closed_poll_takes_no_votes(self, poll, user):
        services.poll_close(poll_id=poll.pk, user=poll.created_by)
        with pytest.raises(Conflict, match="closed"):
            services.vote_cast(poll_id=poll.pk, option_id=poll.options.first().pk, user=user)

    def test_counters_always_equal_the_votes(self, poll):
        options = list(poll.options.all())
        for i in range(25):
            services.vote_cast(poll_id=poll.pk, option_id=options[(i * 7) % 3].pk, user=UserFactory())
        for option in Option.objects.filter(poll=poll):
            assert option.vote_count == Vote.objects.filter(option=option).count()
        assert sum(counts(poll).values()) == 25


class TestPollUpdate:
    def test_renaming_reordering_and_adding_options_keeps_every_vote(self, poll, user):
        yes, no, maybe = poll.options.all()
        services.vote_cast(poll_id=poll.pk, option_id=no.pk, user=user)
        services.poll_update(poll_id=poll.pk, user=poll.created_by, options=[
            {"id": no.pk, "text": "No way"}, {"id": yes.pk, "text": "Yes"},
            {"id": maybe.pk, "text": "Maybe"}, {"text": "Later"}])
        assert [(o.text, o.vote_count) for o in Option.objects.filter(poll=poll)] == [
            ("No way", 1), ("Yes", 0), ("Maybe", 0), ("Later", 0)]
        assert Vote.objects.get(user=user).option_id == no.pk

    def test_an_option_with_votes_cannot_be_removed(self, poll, user):
        yes, no, maybe = poll.options.all()
        services.vote_cast(poll_id=poll.pk, option_id=no.pk, user=user)
        with pytest.raises(Conflict) as refused:
            services.poll_update(poll_id=poll.pk, user=poll.created_by,
                                 options=[{"id": yes.pk, "text": "Yes"}, {"id": maybe.pk, "text": "Maybe"}])
        assert refused.value.code == "option_has_votes" and refused.value.details == {"option_ids": [no.pk]}
        services.poll_update(poll_id=poll.pk, user=poll.created_by,
                             options=[{"id": yes.pk, "text": "Yes"}, {"id": no.pk, "text": "No"}])
        assert list(Option.objects.filter(poll=poll).values_list("text", flat=True)) == ["Yes", "No"]

    def test_only_the_creator_edits(self, poll, user):
        with pytest.raises(PermissionDenied):
            services.poll_update(poll_id=poll.pk, user=user, question="Hijacked?")
        with pytest.raises(PermissionDenied):
            services.poll_close(poll_id=poll.pk, user=user)

    def test_options_of_another_poll_are_refused(self, poll):
        other = PollFactory()
        with pytest.raises(ValidationError, match="not options of this poll"):
            services.poll_update(poll_id=poll.pk, user=poll.created_by,
                                 options=[{"id": other.options.first().pk, "text": "x"}, {"text": "y"}])

    def test_a_closed_poll_cannot_be_edited(self, poll):
        services.poll_close(poll_id=poll.pk, user=poll.created_by)
        with pytest.raises(Conflict, match="closed"):
            services.poll_update(poll_id=poll.pk, user=poll.created_by, question="Again?")


class TestBackgroundWork:
    def test_closing_expired_polls_is_idempotent(self, django_capture_on_commit_callbacks):
        expired, open_poll = PollFactory(), PollFactory()
        later = expired.expires_at + timedelta(seconds=1)
        Poll.objects.filter(pk=open_poll.pk).update(expires_at=later + timedelta(days=1))
        with django_capture_on_commit_callbacks(execute=True):
            assert services.polls_close_expired(now=later) == 1
        assert services.polls_close_expired(now=later) == 0
        expired.refresh_from_db()
        assert expired.closed_at == expired.expires_at
        assert ResultSnapshot.objects.filter(poll=expired).count() == 1  # enqueued on commit (eager here)

    def test_results_snapshot_adds_nothing_when_nothing_changed(self, poll, user):
        first = services.results_snapshot(poll_id=poll.pk)
        assert services.results_snapshot(poll_id=poll.pk) == first
        services.vote_cast(poll_id=poll.pk, option_id=poll.options.first().pk, user=user)
        second = services.results_snapshot(poll_id=poll.pk)
        assert second != first and second.total_votes == 1
        assert ResultSnapshot.objects.filter(poll=poll).count() == 2


class TestResultsCache:
    def test_cached_results_cost_no_query(self, poll, django_assert_num_queries):
        with django_assert_num_queries(2):
            first = selectors.poll_results(poll_id=poll.pk)
        with django_assert_num_queries(0):
            assert selectors.poll_results(poll_id=poll.pk) == first

    def test_a_committed_vote_invalidates_and_a_rolled_back_one_does_not(self, poll, user,
                                                                          django_capture_on_commit_callbacks):
        option = poll.options.first()
        assert selectors.poll_results(poll_id=poll.pk)["total_votes"] == 0
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            services.vote_cast(poll_id=poll.pk, option_id=option.pk, user=user)
        assert len(callbacks) == 1
        assert selectors.poll_results(poll_id=poll.pk)["total_votes"] == 1

        with django_capture_on_commit_callbacks(execute=False) as callbacks:  # as if it rolled back
            services.vote_cast(poll_id=poll.pk, option_id=option.pk, user=UserFactory())
        assert selectors.poll_results(poll_id=poll.pk)["total_votes"] == 1  # cache untouched until commit
        for callback in callbacks:
            callback()
        assert selectors.poll_results(poll_id=poll.pk)["total_votes"] == 2

    def test_a_reader_racing_a_vote_cannot_store_stale_results(self, poll, user,
                                                               django_capture_on_commit_callbacks):
        from pollsystem.polls import cache

        stale_key = cache.results_key(poll.pk)  # a reader looked up the generation...
        stale = selectors._compute_results(poll.pk)[0]  # ...and computed before the vote committed
        with django_capture_on_commit_callbacks(execute=True):
            services.vote_cast(poll_id=poll.pk, option_id=poll.options.first().pk, user=user)
        cache.set_results(stale_key, stale)  # then it stores what it computed
        assert selectors.poll_results(poll_id=poll.pk)["total_votes"] == 1
