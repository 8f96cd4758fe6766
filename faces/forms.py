from django import forms
from django.conf import settings

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
