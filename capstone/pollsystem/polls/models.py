"""Polls, their options and votes.

Rules the database enforces, whatever code writes:
- one vote per user per poll (an unconditional unique constraint: MariaDB ignores conditional ones);
- a vote's option belongs to the vote's poll (a composite foreign key is not portable, so the
  vote keeps both ids and the service checks them under the poll's lock);
- counters never go negative, and a poll expires after it was created.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class Poll(models.Model):
    question = models.CharField(max_length=300)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="polls")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # the public listing: newest first
            models.Index(fields=["-created_at", "-id"], name="poll_newest"),
            # the beat task: open polls past their expiry
            models.Index(fields=["closed_at", "expires_at"], name="poll_open_expiry"),
            # "my polls"
            models.Index(fields=["created_by", "-created_at"], name="poll_creator_newest"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(expires_at__gt=F("created_at")), name="poll_expires_after_creation"),
        ]

    def __str__(self) -> str:
        return self.question

    def is_open(self, at=None) -> bool:
        at = at or timezone.now()
        return self.closed_at is None and at < self.expires_at


class Option(models.Model):
    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="options")
    text = models.CharField(max_length=200)
    position = models.PositiveSmallIntegerField()
    vote_count = models.PositiveIntegerField(default=0)  # updated with F() in the vote transaction

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(text__gt=""), name="option_text_not_empty"),
        ]

    def __str__(self) -> str:
        return self.text


class Vote(models.Model):
    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="votes")
    option = models.ForeignKey(Option, on_delete=models.PROTECT, related_name="votes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="votes")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["poll", "user"], name="vote_one_per_user_per_poll"),
        ]
        indexes = [models.Index(fields=["option"], name="vote_option")]

    def __str__(self) -> str:
        return f"vote {self.pk} on poll {self.poll_id}"


class ResultSnapshot(models.Model):
    """Results frozen at a moment (for history and charts), written by a Celery task."""

    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="snapshots")
    taken_at = models.DateTimeField(default=timezone.now)
    total_votes = models.PositiveIntegerField()
    counts = models.JSONField()  # {option_id: votes}

    class Meta:
        ordering = ["-taken_at", "-id"]
        indexes = [models.Index(fields=["poll", "-taken_at"], name="snapshot_poll_latest")]

    def __str__(self) -> str:
        return f"results of poll {self.poll_id} at {self.taken_at:%Y-%m-%d %H:%M}"
