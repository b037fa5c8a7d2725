from datetime import timedelta

import factory
from django.utils import timezone

from pollsystem.polls.models import Option, Poll
from pollsystem.users.tests.factories import UserFactory


class PollFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Poll
        skip_postgeneration_save = True

    question = factory.Sequence(lambda n: f"Question {n}?")
    created_by = factory.SubFactory(UserFactory)
    created_at = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyAttribute(lambda p: p.created_at + timedelta(days=1))

    @factory.post_generation
    def options(poll, create, extracted, **kwargs):
        if not create:
            return
        texts = extracted if extracted is not None else ["Yes", "No", "Maybe"]
        Option.objects.bulk_create([Option(poll=poll, text=t, position=i) for i, t in enumerate(texts)])
