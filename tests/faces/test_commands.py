"""enroll_faces, identify and reembed_faces on the shared photos."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from faces.models import FaceSample
from tests.conftest import FACES_DIR

pytestmark = pytest.mark.django_db(transaction=True)


def run(name, *args):
    out = StringIO()
    options = [] if name == "identify" else ["--no-progress"]
    if name == "enroll_faces":
        User.objects.get_or_create(username="operator", defaults={"role": "staff"})
        options += ["--consent-on-file", "--operator", "operator", "--create-missing"]
    call_command(name, *args, *options, stdout=out, stderr=StringIO())
    return out.getvalue()


def identity_folders():
    return sorted(p.name for p in FACES_DIR.iterdir() if p.is_dir() and not p.name.startswith("_"))


@pytest.fixture
def enrolled(embedding_cache):
    return run("enroll_faces", str(FACES_DIR))


def test_enroll_every_identity_folder(enrolled):
    lines = enrolled.splitlines()
    assert "angelina_jolie/01.jpg: enrolled" in lines
    assert not any(line.startswith(("_none", "_group", "_unknown")) for line in lines)
    refused = {line.split(":")[0]: line for line in lines if ": refused:" in line}
    # The only refusals are honest ones: a WebP file named .jpg, and a 427x240 photo with a 63 px face.
    assert set(refused) == {"deepface_p03/06.jpg", "barack_obama/05.jpg"}, refused
    assert "ends in .jpg but the file is a WEBP" in refused["deepface_p03/06.jpg"]
    assert "too small" in refused["barack_obama/05.jpg"]
    for identity in identity_folders():
        person = User.objects.get(username=identity)
        assert person.role == "member" and not person.has_usable_password()
        assert person.face_samples.exists(), identity
    assert "0 refused" not in lines[-1] and f"{len(identity_folders())} people with faces" in lines[-1]


def test_running_again_enrolls_nothing_twice(enrolled):
    count = FaceSample.objects.count()
    again = run("enroll_faces", str(FACES_DIR))
    assert f"0 enrolled, {count} already enrolled" in again
    assert FaceSample.objects.count() == count


def test_no_face_and_group_photos_are_refused_with_reasons(tmp_path, shared_photos):
    for folder, source in (("nobody", "_none"), ("crowd", "_group")):
        (tmp_path / folder).mkdir()
        for photo in (FACES_DIR / source).iterdir():
            (tmp_path / folder / photo.name).symlink_to(photo)
    (tmp_path / "_skipped").mkdir()
    (tmp_path / "_skipped" / "x.jpg").symlink_to(FACES_DIR / "amy_adams" / "01.jpg")
    (tmp_path / "amy").mkdir()
    (tmp_path / "amy" / "01.jpg").symlink_to(FACES_DIR / "amy_adams" / "01.jpg")
    output = run("enroll_faces", str(tmp_path))
    assert "nobody/brick.png: refused: No face found" in output
    assert "crowd/couple.jpg: refused: More than one face found" in output
    assert "amy/01.jpg: enrolled" in output and "_skipped" not in output


def test_nothing_enrollable_is_an_error(tmp_path):
    (tmp_path / "nobody").mkdir()
    (tmp_path / "nobody" / "brick.png").symlink_to(FACES_DIR / "_none" / "brick.png")
    with pytest.raises(CommandError, match="Nothing could be enrolled"):
        run("enroll_faces", str(tmp_path))


def test_identify_prints_one_json_line_per_image(tmp_path, embedding_cache):
    run("enroll_faces", str(FACES_DIR))
    samples = FaceSample.objects.count()
    known, stranger, group = (
        FACES_DIR / "angelina_jolie" / "01.jpg",
        FACES_DIR / "_unknown" / "camera.png",
        FACES_DIR / "_group" / "two_people.jpg",
    )
    lines = [json.loads(line) for line in run("identify", str(known), str(stranger), str(group)).splitlines()]
    assert [line["image"] for line in lines] == [str(known), str(stranger), str(group)]
    [face] = lines[0]["faces"]
    assert face["identity"] == "angelina_jolie" and face["decision"] == "accept" and face["distance"] < 0.07
    assert len(face["box"]) == 4
    [profile] = lines[1]["faces"]  # a stranger in profile: found, and named nobody
    assert profile["identity"] is None and profile["decision"] == "reject"
    assert len(lines[2]["faces"]) == 2
    assert FaceSample.objects.count() == samples


def test_identify_never_names_a_stranger(tmp_path, embedding_cache):
    out = StringIO()
    # Enroll everybody except Steve Carell, then show him.
    for identity in identity_folders():
        if identity != "steve_carell":
            (tmp_path / identity).symlink_to(FACES_DIR / identity)
    run("enroll_faces", str(tmp_path))
    call_command("identify", str(FACES_DIR / "steve_carell" / "01.jpg"), stdout=out)
    [face] = json.loads(out.getvalue())["faces"]
    assert face["identity"] is None and face["decision"] == "reject"


def test_identify_reports_unreadable_files(tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo")
    out = StringIO()
    with pytest.raises(CommandError, match="1 of 1 images could not be read"):
        call_command("identify", str(bad), stdout=out)
    assert "not an image" in json.loads(out.getvalue())["error"]


def test_reembed_after_a_pipeline_change(settings, shared_photos):
    from faces.enrollment import Photo, face_enroll

    person = User.objects.create(username="reembed-me")
    face_enroll(person=person, photos=[Photo(shared_photos[f"joe_biden/0{n}.jpg"].data) for n in (1, 2)])
    assert "0 samples to re-embed." in run("reembed_faces")
    settings.FACES = {**settings.FACES, "YUFACE_MAX_SIDE": 640}
    assert "2 samples to re-embed." in run("reembed_faces", "--dry-run")
    assert "Re-embedded 2 sample(s); 0 failed." in run("reembed_faces")
    assert "0 samples to re-embed." in run("reembed_faces")
    assert set(FaceSample.objects.values_list("pipeline_version", flat=True)) == {"1-Dlib-yuface-y640-640-m1280"}
