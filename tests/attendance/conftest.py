"""A class with enrolled members (real photos) and a session running now; a kiosk device to check in;
a stand-in go2rtc for the cameras."""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from attendance.models import Group, Session
from faces.enrollment import Photo, face_enroll
from tests.attendance.go2rtc import running_go2rtc

# Who is enrolled, with which photos; other photos of the same people are used to check in.
ENROLLED = {
    "angelina_jolie": ["angelina_jolie/01.jpg", "angelina_jolie/03.jpg"],
    "barack_obama": ["barack_obama/01.jpg"],
    "joe_biden": ["joe_biden/01.jpg"],
    "amy_adams": ["amy_adams/01.jpg"],
    "deepface_p02": ["deepface_p02/01.jpg"],
    # Enrolled, but not a member of the class.
    "kit_harington": ["kit_harington/01.jpg"],
}
CLASS_MEMBERS = ["angelina_jolie", "barack_obama", "joe_biden", "amy_adams", "deepface_p02"]


@dataclass
class Classroom:
    group: Group
    session: Session
    people: dict[str, User]


def make_session(group, *, started_minutes_ago=5, length_minutes=60, late_after=10, title="Maths", location="Room 7"):
    start = timezone.now() - timedelta(minutes=started_minutes_ago)
    return Session.objects.create(
        group=group,
        title=title,
        starts_at=start,
        ends_at=start + timedelta(minutes=length_minutes),
        late_after_minutes=late_after,
        location=location,
    )


@pytest.fixture
def enrolled_people(embedding_cache, django_db_blocker):
    people = {}
    for identity, photos in ENROLLED.items():
        person = User.objects.create(
            username=identity, first_name=identity.split("_")[0].title(), last_name=identity.split("_")[-1].title()
        )
        face_enroll(person=person, photos=[Photo(embedding_cache[name].data) for name in photos])
        people[identity] = person
    return people


@pytest.fixture
def classroom(enrolled_people):
    group = Group.objects.create(name="Class 7B")
    group.members.set([enrolled_people[name] for name in CLASS_MEMBERS])
    return Classroom(group=group, session=make_session(group), people=enrolled_people)


@pytest.fixture
def lesson(db):
    """A session running now for a group without members: no photos needed."""
    return make_session(Group.objects.create(name="Class 9A"))


@pytest.fixture
def kiosk_client(client, kiosk):
    client.force_login(kiosk)
    return client


@pytest.fixture
def go2rtc():
    with running_go2rtc() as stand_in:
        yield stand_in
