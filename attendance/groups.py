"""The groups staff run from the app's pages: the group and its notification settings, its members, a
session scheduled on its own. Who runs which group is attendance.selectors.visible_groups; only active
people with the member role can be members."""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import IntegrityError
from django.db.models import Q
from django.utils.translation import gettext_lazy

from attendance.models import Group, Session
from attendance.selectors import bump_reports_generation
from attendx.db import run_in_transaction

MEMBER_CHOICES_SHOWN = 50


class GroupNameTaken(ValueError):
    message = gettext_lazy("A group with that name exists already: choose another name.")


def eligible_members():
    """The people who may join a group: active accounts with the member role (no staff, no devices)."""
    return get_user_model().objects.members().filter(is_active=True)


def member_choices(*, group: Group, query: str = ""):
    """Eligible people not in ``group`` yet whose name, username or external id contains ``query``."""
    people = eligible_members().exclude(pk__in=[person.pk for person in group.members.all()])
    if query:
        people = people.filter(
            Q(username__icontains=query)
            | Q(first_name__icontains=query)
            | Q(last_name__icontains=query)
            | Q(external_id__icontains=query)
        )
    return people[:MEMBER_CHOICES_SHOWN]


def _save(group: Group, **kwargs) -> Group:
    try:
        run_in_transaction(lambda: group.save(**kwargs))
    except IntegrityError as error:
        raise GroupNameTaken() from error
    return group


def create_group(
    *,
    owner,
    name: str,
    description: str = "",
    notify_absent: bool = False,
    notify_late: bool = False,
    rate_alert_below: int | None = None,
) -> Group:
    """A new group run by ``owner``. Raises GroupNameTaken when the name is another group's."""
    group = Group(
        owner=owner,
        name=name,
        description=description,
        notify_absent=notify_absent,
        notify_late=notify_late,
        rate_alert_below=rate_alert_below,
    )
    return _save(group)


def update_group(
    *,
    group: Group,
    name: str,
    description: str,
    notify_absent: bool,
    notify_late: bool,
    rate_alert_below: int | None,
    owner=None,
) -> Group:
    """Change a group's name, description and notification settings; its owner too, when given."""
    group.name, group.description = name, description
    group.notify_absent, group.notify_late, group.rate_alert_below = notify_absent, notify_late, rate_alert_below
    fields = ["name", "description", "notify_absent", "notify_late", "rate_alert_below"]
    if owner is not None:
        group.owner = owner
        fields.append("owner")
    return _save(group, update_fields=fields)


def add_members(*, group: Group, people) -> int:
    """Add ``people`` (eligible_members()) to the group; return how many were not members already."""

    def write():
        already = set(group.members.filter(pk__in=[person.pk for person in people]).values_list("pk", flat=True))
        joining = [person for person in people if person.pk not in already]
        group.members.add(*joining)
        return len(joining)

    added = run_in_transaction(write)
    bump_reports_generation()  # rosters list the members
    return added


def remove_members(*, group: Group, people) -> int:
    """Take ``people`` out of the group; their records stay. Return how many were members."""

    def write():
        leaving = list(group.members.filter(pk__in=[person.pk for person in people]))
        group.members.remove(*leaving)
        return len(leaving)

    removed = run_in_transaction(write)
    bump_reports_generation()
    return removed


def schedule_session(
    *, group: Group, title: str, starts_at: datetime, ends_at: datetime, late_after_minutes: int, location: str = ""
) -> Session:
    """One session of ``group``, outside any timetable."""
    session = Session(
        group=group,
        title=title,
        starts_at=starts_at,
        ends_at=ends_at,
        late_after_minutes=late_after_minutes,
        location=location,
    )
    run_in_transaction(session.save)
    return session
