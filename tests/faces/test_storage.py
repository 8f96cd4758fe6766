"""Private files: served only through views, and a 404 (not a 500) when the file is gone."""

import pytest
from django.http import Http404
from django.urls import reverse

from faces.storage import private_file_response
from tests.factories import FaceSampleFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_sample_photo_is_served_privately(client, staff, member):
    sample = FaceSampleFactory(person=member)
    client.force_login(staff)
    response = client.get(reverse("faces:sample-image", args=[sample.pk]))
    assert response.status_code == 200 and response["Cache-Control"] == "private, no-store"
    with sample.image.open("rb") as stored:
        assert b"".join(response.streaming_content) == stored.read()


def test_a_sample_photo_missing_from_the_disk_is_404(client, staff, member):
    sample = FaceSampleFactory(person=member)
    sample.image.storage.delete(sample.image.name)
    client.force_login(staff)
    assert client.get(reverse("faces:sample-image", args=[sample.pk])).status_code == 404


def test_a_row_that_names_no_file_is_404(member):
    sample = FaceSampleFactory(person=member)
    sample.image = ""
    with pytest.raises(Http404):
        private_file_response(sample.image)
