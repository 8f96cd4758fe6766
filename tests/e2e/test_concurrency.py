"""Eight kiosks at once against gunicorn as shipped (gunicorn.conf.py's workers, threads and model sets,
production settings, real Redis, real photos): no error, no wrong face, one record per person."""

import io
import threading

import pytest
import requests
from PIL import Image

from attendance.models import Record
from tests.conftest import FACES_DIR
from tests.e2e.conftest import gunicorn_in_production, sign_in_over_http
from tests.faces import variants

pytestmark = pytest.mark.django_db(transaction=True)

# Photos of class members other than the ones they enrolled with (tests/attendance/conftest.py).
PROBES = {
    "angelina_jolie": ["angelina_jolie/02.jpg", "angelina_jolie/05.jpg", "angelina_jolie/07.jpg"],
    "barack_obama": ["barack_obama/02.jpg", "barack_obama/03.jpg", "barack_obama/05.jpg"],
    "joe_biden": ["joe_biden/02.jpg"],
}
KIOSKS = 8
ROUNDS = 3
DEATH_SIGNS = ("SIGSEGV", "SIGABRT", "exited with code", "WORKER TIMEOUT", "was sent")


def frame(photo: str, shift: int) -> bytes:
    """The photo on a 640x480 frame, moved ``shift`` px so that every frame's bytes differ."""
    face = variants.fit((FACES_DIR / photo).read_bytes(), longest=480)
    canvas = Image.new("RGB", (640, 480))
    canvas.paste(face, ((640 - face.width) // 2 + shift, (480 - face.height) // 2))
    buffer = io.BytesIO()
    canvas.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def test_eight_kiosks_at_once_get_right_answers_and_one_record_each(tmp_path, classroom, user_factory):
    probes = [(name, photo) for name, photos in PROBES.items() for photo in photos]
    # Each request is a burst of two frames, as the kiosk page sends: two moments of the same face.
    jobs = [
        [
            (name, [frame(photo, shift=2 * (k * ROUNDS + n) + moment) for moment in (0, 1)])
            for n, (name, photo) in enumerate(probes[k % 3 :][:ROUNDS])
        ]
        for k in range(KIOSKS)
    ]
    devices = [user_factory(role="kiosk") for _ in range(KIOSKS)]
    expected = {name: str(person.pk) for name, person in classroom.people.items()}
    answers, failures = [], []
    lock = threading.Lock()

    with gunicorn_in_production(tmp_path) as base:
        cookies = [sign_in_over_http(base, device) for device in devices]
        start = threading.Barrier(KIOSKS)

        def kiosk(index: int) -> None:
            start.wait()
            for name, data in jobs[index]:
                headers = {"X-Forwarded-Proto": "https", "Origin": base, "X-CSRFToken": cookies[index]["csrftoken"]}
                try:
                    answer = requests.post(
                        f"{base}/api/check-ins",
                        files=[("image", (f"frame-{i}.jpg", one, "image/jpeg")) for i, one in enumerate(data)],
                        headers=headers,
                        cookies=cookies[index],
                        timeout=120,
                    )
                except requests.RequestException as error:
                    with lock:
                        failures.append(f"{name}: {error!r}")
                    continue
                with lock:
                    answers.append((name, answer.status_code, answer.json() if answer.ok else answer.text[:200]))

        threads = [threading.Thread(target=kiosk, args=(i,)) for i in range(KIOSKS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
    log = (tmp_path / "gunicorn.log").read_text(errors="replace")

    assert not failures
    assert not [sign for sign in DEATH_SIGNS if sign in log], log[-3000:]
    assert len(answers) == KIOSKS * ROUNDS
    assert [status for _, status, _ in answers if status not in (200, 201)] == []
    wrong = []
    for name, _, body in answers:
        faces = body["faces"]
        if len(faces) != 1 or (faces[0]["person"] is not None and faces[0]["person"]["id"] != expected[name]):
            wrong.append((name, faces))
    assert wrong == []
    accepted = {name for name, _, body in answers if body["faces"][0]["decision"] == "accept"}
    assert {"angelina_jolie", "barack_obama"} <= accepted  # recognised at least once each
    records = list(Record.objects.values_list("person_id", flat=True))
    assert sorted(records) == sorted(classroom.people[name].pk for name in accepted)
