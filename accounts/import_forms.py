"""Forms of the import page: a CSV file to check, and the same text sent back to import it. Both hold
the text to accounts.importing's limits; an error of code "too_large" is answered 413."""

from django import forms
from django.utils.translation import gettext_lazy

from accounts import importing


def _refusal(error: importing.ImportRefused) -> forms.ValidationError:
    code = "too_large" if isinstance(error, importing.ImportTooLarge) else "not_csv"
    return forms.ValidationError(error.message, code=code)


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("CSV file"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
        help_text=gettext_lazy("UTF-8, with commas or semicolons between the values"),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > importing.MAX_BYTES:
            raise _refusal(importing.ImportTooLarge(importing.size_message()))
        try:
            self.cleaned_data["text"] = importing.decode_csv(upload.read(importing.MAX_BYTES + 1))
        except importing.ImportRefused as error:
            raise _refusal(error) from error
        return upload


class ImportConfirmForm(forms.Form):
    """The checked file's text, sent back from the report page; checked again when imported."""

    csv = forms.CharField(widget=forms.HiddenInput, strip=False)

    def clean_csv(self):
        text = self.cleaned_data["csv"]
        if len(text.encode("utf-8", "surrogatepass")) > importing.MAX_BYTES:
            raise _refusal(importing.ImportTooLarge(importing.size_message()))
        return text


def too_large(form: forms.Form) -> bool:
    return any(error.code == "too_large" for errors in form.errors.as_data().values() for error in errors)

