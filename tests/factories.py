import io

import factory
from PIL import Image

from accounts.models import ConsentMethod, ConsentText, Role, User
from faces import crypto
from faces.models import FaceSample

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    role = Role.MEMBER
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


def tiny_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "gray").save(buffer, "JPEG")
    return buffer.getvalue()


class FaceSampleFactory(factory.django.DjangoModelFactory):
    """A sample as enrollment stores it (a photo on disk, a tagged embedding), without the face engine."""

    class Meta:
        model = FaceSample

    person = factory.SubFactory(UserFactory)
    image = factory.django.FileField(filename="face.jpg", data=tiny_jpeg())
    image_format = "JPEG"
    digest = factory.Sequence(lambda n: f"{n:064x}")
    embedding = factory.LazyFunction(lambda: crypto.encrypt(b"\x00\x00\x80\x3f\x00\x00\x00\x00"))  # float32 [1, 0]
    dimensions = 2
    model_name = "Dlib"
    detector_backend = "dlib"
    pipeline_version = "test"
    box = factory.LazyFunction(lambda: [0, 0, 8, 8])
    face_size = 8
    sharpness = 50.0
    brightness = 100.0


def consented(person, *, text=None):
    """``person`` with an on-screen consent of their own to ``text`` (the text in force, v1 if none), unaudited."""
    text = (
        text
        or ConsentText.objects.order_by("-version").first()
        or ConsentText.objects.create(version=1, body="Test consent text.")
    )
    person.consents.get_or_create(
        text=text, withdrawn_at=None, defaults={"giver_name": str(person), "method": ConsentMethod.SCREEN}
    )
    return person
