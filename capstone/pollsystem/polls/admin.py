from django.contrib import admin

from pollsystem.polls.models import Option, Poll, Vote


class OptionInline(admin.TabularInline):
    model = Option
    readonly_fields = ["vote_count"]
    extra = 0


@admin.register(Poll)
class PollAdmin(admin.ModelAdmin):
    list_display = ["question", "created_by", "created_at", "expires_at", "closed_at"]
    list_select_related = ["created_by"]
    inlines = [OptionInline]


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    list_display = ["poll", "option", "user", "created_at"]
    list_select_related = ["poll", "option", "user"]
    readonly_fields = ["poll", "option", "user", "created_at"]
