import zipfile
from pathlib import PurePosixPath

from django import forms
from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.importing import people_named
from faces.enrollment import Photo
from faces.jobs import PhotoFor
from faces.models import Source


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
    photos = MultiplePhotoField(label=_("Photos"), required=False)
    source = forms.ChoiceField(
        choices=[(Source.UPLOAD, _("upload")), (Source.WEBCAM, _("webcam"))], initial=Source.UPLOAD
    )

    def clean_photos(self):
        files = self.cleaned_data["photos"]
        limits = settings.FACES
        if not files:
            raise forms.ValidationError(
                gettext("Choose at least one photo, or take one with the camera."), code="required"
            )
        if len(files) > limits["MAX_PHOTOS_PER_UPLOAD"]:
            raise forms.ValidationError(
                gettext("Send at most %(count)d photos at a time."),
                code="too_many_files",
                params={"count": limits["MAX_PHOTOS_PER_UPLOAD"]},
            )
        for upload in files:
            if upload.size > limits["MAX_UPLOAD_BYTES"]:
                raise forms.ValidationError(
                    gettext("%(name)s is %(size).1f MB; photos may be at most %(limit).0f MB."),
                    code="too_large",
                    params={"name": upload.name, "size": upload.size / 1e6, "limit": limits["MAX_UPLOAD_BYTES"] / 1e6},
                )
        return files

    def photos_to_enroll(self) -> list[Photo]:
        return [Photo(data=upload.read(), filename=upload.name) for upload in self.cleaned_data["photos"]]


class PeopleSearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)


def _archive_photos(upload) -> list[tuple[str, str, bytes]]:
    """(identity, file name, bytes) of each photo in a ZIP laid out as <identity>/<photo>; read in memory,
    never extracted, each member held to the FACES limits before a byte is read."""
    limits = settings.FACES
    try:
        archive = zipfile.ZipFile(upload)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise forms.ValidationError(gettext("This is not a ZIP archive."), code="not_an_archive") from error
    photos, total = [], 0
    with archive:
        for member in archive.infolist():
            parts = PurePosixPath(member.filename).parts
            if member.is_dir() or any(part.startswith((".", "_")) for part in parts) or "__MACOSX" in parts:
                continue
            if len(parts) != 2:
                raise forms.ValidationError(
                    gettext("%(name)s: put each photo in a folder named after the person's username or external id."),
                    code="layout",
                    params={"name": member.filename[:100]},
                )
            if len(photos) >= limits["BULK_MAX_PHOTOS"]:
                raise forms.ValidationError(
                    gettext("The archive holds more than %(count)d photos."),
                    code="too_many_files",
                    params={"count": limits["BULK_MAX_PHOTOS"]},
                )
            if member.file_size > limits["MAX_UPLOAD_BYTES"]:
                raise forms.ValidationError(
                    gettext("%(name)s is %(size).1f MB; photos may be at most %(limit).0f MB."),
                    code="too_large",
                    params={
                        "name": member.filename[:100],
                        "size": member.file_size / 1e6,
                        "limit": limits["MAX_UPLOAD_BYTES"] / 1e6,
                    },
                )
            try:
                with archive.open(member) as handle:
                    data = handle.read(limits["MAX_UPLOAD_BYTES"] + 1)
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as error:
                raise forms.ValidationError(
                    gettext("%(name)s cannot be read."), code="bad_member", params={"name": member.filename[:100]}
                ) from error
            total += len(data)
            if len(data) > limits["MAX_UPLOAD_BYTES"] or total > limits["BULK_MAX_UPLOAD_BYTES"]:
                raise forms.ValidationError(
                    gettext("%(name)s is too large."), code="too_large", params={"name": member.filename[:100]}
                )
            photos.append((parts[0], parts[1], data))
    if not photos:
        raise forms.ValidationError(gettext("The archive holds no photos."), code="empty")
    return photos


def _shown(names) -> str:
    names = sorted(names)
    return ", ".join(names[:10]) + (" ..." if len(names) > 10 else "")


class BulkEnrollForm(forms.Form):
    """A ZIP of <username or external id>/<photo>: every folder must name an active member (or staff)
    account, and only one: a folder that is one person's username and another's external id is refused."""

    archive = forms.FileField(label=_("ZIP archive"), widget=forms.ClearableFileInput(attrs={"accept": ".zip"}))

    def clean_archive(self):
        upload = self.cleaned_data["archive"]
        if upload.size > settings.FACES["BULK_MAX_UPLOAD_BYTES"]:
            raise forms.ValidationError(
                f"The archive may be at most {settings.FACES['BULK_MAX_UPLOAD_BYTES'] / 1e6:.0f} MB.", code="too_large"
            )
        photos = _archive_photos(upload)
        names = {identity for identity, _filename, _data in photos}
        people, ambiguous = people_named(names)
        if ambiguous:
            raise forms.ValidationError(
                gettext(
                    "These folders name one person by username and another by external id: %(folders)s. "
                    "Rename each after one of them."
                ),
                code="ambiguous_people",
                params={"folders": _shown(ambiguous)},
            )
        unknown = names - people.keys()
        if unknown:
            raise forms.ValidationError(
                gettext("No account for these folders: %(folders)s."),
                code="unknown_people",
                params={"folders": _shown(unknown)},
            )
        self._photos = [
            PhotoFor(person=people[identity], photo=Photo(data=data, filename=filename), label=f"{identity}/{filename}")
            for identity, filename, data in photos
        ]
        return upload

    def photos_to_enroll(self) -> list[PhotoFor]:
        return self._photos


class ReembedForm(forms.Form):
    everything = forms.BooleanField(label=_("Every sample, not only those of another pipeline"), required=False)
