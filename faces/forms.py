import zipfile
from pathlib import PurePosixPath

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model

from faces.jobs import PhotoFor
from faces.models import Source
from faces.services import Photo


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultiplePhotoField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        return [super(MultiplePhotoField, self).clean(item, initial) for item in files]


class EnrollForm(forms.Form):
    photos = MultiplePhotoField(label="Photos", required=False)
    source = forms.ChoiceField(choices=[(Source.UPLOAD, "upload"), (Source.WEBCAM, "webcam")], initial=Source.UPLOAD)

    def clean_photos(self):
        files = self.cleaned_data["photos"]
        limits = settings.FACES
        if not files:
            raise forms.ValidationError("Choose at least one photo, or take one with the camera.", code="required")
        if len(files) > limits["MAX_PHOTOS_PER_UPLOAD"]:
            raise forms.ValidationError(
                f"Send at most {limits['MAX_PHOTOS_PER_UPLOAD']} photos at a time.", code="too_many_files"
            )
        for upload in files:
            if upload.size > limits["MAX_UPLOAD_BYTES"]:
                raise forms.ValidationError(
                    f"{upload.name} is {upload.size / 1e6:.1f} MB; photos may be at most "
                    f"{limits['MAX_UPLOAD_BYTES'] / 1e6:.0f} MB.",
                    code="too_large",
                )
        return files

    def photos_to_enroll(self) -> list[Photo]:
        return [Photo(data=upload.read(), filename=upload.name) for upload in self.cleaned_data["photos"]]


class PeopleSearchForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=100)


def _archive_photos(upload) -> list[tuple[str, str, bytes]]:
    """(identity, file name, bytes) of each photo in a ZIP laid out as <identity>/<photo>; read in memory,
    never extracted, each member held to the FACES limits before a byte is read."""
    limits = settings.FACES
    try:
        archive = zipfile.ZipFile(upload)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise forms.ValidationError("This is not a ZIP archive.", code="not_an_archive") from error
    photos, total = [], 0
    with archive:
        for member in archive.infolist():
            parts = PurePosixPath(member.filename).parts
            if member.is_dir() or any(part.startswith((".", "_")) for part in parts) or "__MACOSX" in parts:
                continue
            if len(parts) != 2:
                raise forms.ValidationError(
                    f"{member.filename[:100]}: put each photo in a folder named after the person's username.",
                    code="layout",
                )
            if len(photos) >= limits["BULK_MAX_PHOTOS"]:
                raise forms.ValidationError(
                    f"The archive holds more than {limits['BULK_MAX_PHOTOS']} photos.", code="too_many_files"
                )
            if member.file_size > limits["MAX_UPLOAD_BYTES"]:
                raise forms.ValidationError(
                    f"{member.filename[:100]} is {member.file_size / 1e6:.1f} MB; photos may be at most "
                    f"{limits['MAX_UPLOAD_BYTES'] / 1e6:.0f} MB.",
                    code="too_large",
                )
            try:
                with archive.open(member) as handle:
                    data = handle.read(limits["MAX_UPLOAD_BYTES"] + 1)
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as error:
                raise forms.ValidationError(f"{member.filename[:100]} cannot be read.", code="bad_member") from error
            total += len(data)
            if len(data) > limits["MAX_UPLOAD_BYTES"] or total > limits["BULK_MAX_UPLOAD_BYTES"]:
                raise forms.ValidationError(f"{member.filename[:100]} is too large.", code="too_large")
            photos.append((parts[0], parts[1], data))
    if not photos:
        raise forms.ValidationError("The archive holds no photos.", code="empty")
    return photos


class BulkEnrollForm(forms.Form):
    """A ZIP of <username>/<photo>: every folder must name an active member (or staff) account."""

    archive = forms.FileField(label="ZIP archive", widget=forms.ClearableFileInput(attrs={"accept": ".zip"}))

    def clean_archive(self):
        upload = self.cleaned_data["archive"]
        if upload.size > settings.FACES["BULK_MAX_UPLOAD_BYTES"]:
            raise forms.ValidationError(
                f"The archive may be at most {settings.FACES['BULK_MAX_UPLOAD_BYTES'] / 1e6:.0f} MB.", code="too_large"
            )
        photos = _archive_photos(upload)
        names = {identity for identity, _, _ in photos}
        people = {
            person.username: person
            for person in get_user_model().objects.filter(username__in=names, is_active=True).exclude(role="kiosk")
        }
        unknown = sorted(names - people.keys())
        if unknown:
            shown = ", ".join(unknown[:10]) + (" ..." if len(unknown) > 10 else "")
            raise forms.ValidationError(f"No account for these folders: {shown}.", code="unknown_people")
        self._photos = [
            PhotoFor(person=people[identity], photo=Photo(data=data, filename=filename), label=f"{identity}/{filename}")
            for identity, filename, data in photos
        ]
        return upload

    def photos_to_enroll(self) -> list[PhotoFor]:
        return self._photos


class ReembedForm(forms.Form):
    everything = forms.BooleanField(label="Every sample, not only those of another pipeline", required=False)
