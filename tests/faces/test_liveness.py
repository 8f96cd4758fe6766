"""Liveness: FaceMesh landmarks (faces.landmarks), the judge (faces.liveness), check_liveness, and the
model's installation. Attacks are the shared photos as pictures in front of a camera (tests/faces/spoofs.py)
run through judge_frames with the real detector and landmark model; genuine tracks are 3D heads made of
FaceMesh's own points, turned and projected through a pinhole camera."""

import json
import threading
import zipfile
from io import StringIO

import cv2
import numpy as np
import pytest
from django.core.management import CommandError, call_command

from faces import liveness
from faces.checks import check_liveness_settings
from faces.landmarks import LandmarksUnavailable, get_landmark_model
from faces.liveness import CHALLENGES, Thresholds, Verdict, judge, judge_frames
from faces.pipeline import get_engine
from faces.uploads import decode_upload
from faces.weights import (
    LANDMARK_MODEL,
    MEDIAPIPE_LICENSE,
    REQUIRED_WEIGHTS,
    WheelUnavailable,
    download_mediapipe_wheel,
    install_wheel_files,
    missing_weights,
    weights_dir,
)
from tests.faces import spoofs

pytestmark = pytest.mark.database_independent

# Sequences per kind of attack (5 kinds): 120 in all, each of 2 to 8 frames.
SEQUENCES_PER_ATTACK = 24
GENUINE_TRACKS = 400


@pytest.fixture(scope="module")
def model():
    return get_landmark_model()


@pytest.fixture(scope="module")
def pictures(shared_photos):
    """(name, RGB, face box) of every shared photo of one person, as the engine saw it."""
    found = []
    for photo in shared_photos.values():
        if photo.faces_in_image == "1" and len(photo.faces) == 1 and not photo.name.startswith("_"):
            found.append((photo.name, decode_upload(photo.data).rgb, photo.faces[0].box))
    return found


@pytest.fixture(scope="module")
def heads(pictures, model):
    """3D heads in metres: FaceMesh's (x, y, z) of each shared photo's face."""
    return [spoofs.head_from_landmarks(model.landmarks(rgb, box)) for _, rgb, box in pictures]


def face_size(points: np.ndarray) -> float:
    extent = points[:, :2].max(axis=0) - points[:, :2].min(axis=0)
    return float(np.sqrt(extent[0] * extent[1]))


def rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(((a[:, :2] - b[:, :2]) ** 2).sum(axis=1).mean()))


# The landmark model.


def test_landmarks_are_468_points_on_the_face(pictures, model):
    engine = get_engine()
    for name, rgb, box in pictures[:12]:
        points = model.landmarks(rgb, box)
        assert points.shape == (468, 3) and points.dtype == np.float32, name
        size = face_size(points)
        [face] = engine.detect_and_embed(rgb)
        # dlib's five points: the corners of both eyes, and the base of the nose.
        eyes = points[[33, 133, 362, 263], :2]
        for corner in face.landmarks[:4]:
            assert np.linalg.norm(eyes - corner, axis=1).min() < 0.06 * size, name
        nose = points[[1, 2, 4, 94, 164], :2]
        assert np.linalg.norm(nose - face.landmarks[4], axis=1).min() < 0.08 * size, name
        x, y, w, h = box
        centre = points[:, :2].mean(axis=0)
        assert x < centre[0] < x + w and y < centre[1] < y + h, name


def test_landmarks_are_in_the_frames_pixels(pictures, model):
    """Moving and shrinking the frame moves and shrinks the points with it."""
    name, rgb, box = pictures[0]
    points = model.landmarks(rgb, box)
    size = face_size(points)
    height, width = rgb.shape[:2]
    padded = np.zeros((height + 60, width + 90, 3), np.uint8)
    padded[60:, 90:] = rgb
    moved = model.landmarks(padded, (box[0] + 90, box[1] + 60, box[2], box[3]))
    assert rms(moved - [90, 60, 0], points) < 0.01 * size
    half = cv2.resize(rgb, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    shrunk = model.landmarks(half, tuple(value // 2 for value in box))
    assert rms(shrunk * 2, points) < 0.02 * size


def test_landmark_jitter_is_small(pictures, model):
    """A still face, frame after frame (sensor noise, sub-pixel shake): the points stay within 0.5% of the
    face's size (spoofs.LANDMARK_JITTER gives genuine tracks 0.3%)."""
    rng = np.random.default_rng(1)
    engine = get_engine()
    jitters = []
    for _name, rgb, _ in pictures[:6]:
        frames = []
        for _ in range(6):
            dx, dy = rng.uniform(-1.5, 1.5, 2)
            shaken = cv2.warpAffine(rgb, np.float32([[1, 0, dx], [0, 1, dy]]), rgb.shape[1::-1])
            noisy = np.clip(shaken + rng.normal(0, 3, rgb.shape), 0, 255).astype(np.uint8)
            frames.append(model.landmarks(noisy, engine.detect_boxes(noisy)[0])[:, :2] - [dx, dy])
        frames = np.array(frames)
        jitter = np.sqrt(((frames - frames.mean(axis=0)) ** 2).sum(axis=2).mean()) / face_size(frames[0])
        jitters.append(jitter)
    print("landmark jitter (RMS, fraction of the face's size):", np.round(jitters, 4))
    assert max(jitters) < 0.005


def test_landmarks_are_safe_across_threads(pictures, model):
    """Two threads on two different faces get exactly the answers one thread gets."""
    (_, rgb_a, box_a), (_, rgb_b, box_b) = pictures[0], pictures[5]
    expected = {0: model.landmarks(rgb_a, box_a), 1: model.landmarks(rgb_b, box_b)}
    inputs = {0: (rgb_a, box_a), 1: (rgb_b, box_b)}
    start = threading.Barrier(2)
    wrong, done = [], []

    def run(which):
        start.wait()
        for _ in range(60):
            try:
                got = model.landmarks(*inputs[which])
            except Exception as error:  # noqa: BLE001 - a shared OpenCV Net raises cv2.error here
                wrong.append(error)
                continue
            if not np.allclose(got, expected[which], atol=1e-3):
                wrong.append(which)
        done.append(which)

    threads = [threading.Thread(target=run, args=(which,)) for which in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not wrong and sorted(done) == [0, 1]


def test_a_missing_or_damaged_model_says_what_to_run(settings, tmp_path):
    settings.DEEPFACE_HOME = tmp_path
    with pytest.raises(LandmarksUnavailable, match="faces_install_weights"):
        get_landmark_model()
    weights_dir(tmp_path).mkdir(parents=True)
    (weights_dir(tmp_path) / LANDMARK_MODEL.name).write_bytes(b"not a model")
    with pytest.raises(LandmarksUnavailable, match="SHA-256"):
        get_landmark_model()


def test_landmarks_refuse_what_is_not_a_frame_and_a_box(pictures, model):
    _, rgb, box = pictures[0]
    with pytest.raises(ValueError, match="RGB uint8"):
        model.landmarks(rgb[:, :, 0], box)
    with pytest.raises(ValueError, match="positive size"):
        model.landmarks(rgb, (10, 10, 0, 20))


# Attacks: pictures of the shared photos, through judge_frames with the real detector and landmark model.


class Recorder:
    """The landmark model, keeping what it returned so the same track can be judged against challenges."""

    def __init__(self, model):
        self.model = model
        self.track = []

    def landmarks(self, rgb, box):
        points = self.model.landmarks(rgb, box)
        self.track.append(points)
        return points


@pytest.mark.parametrize("attack", sorted(spoofs.ATTACKS))
def test_pictures_are_never_live(attack, pictures, model):
    rng = np.random.default_rng(sorted(spoofs.ATTACKS).index(attack))
    engine = get_engine()
    verdicts = []
    for number in range(SEQUENCES_PER_ATTACK):
        name, rgb, box = pictures[(number * 7 + len(attack)) % len(pictures)]
        frames = spoofs.ATTACKS[attack](rgb, box, int(rng.integers(2, 9)), rng)
        recorder = Recorder(model)
        verdict = judge_frames(frames, engine=engine, landmark_model=recorder)
        assert verdict.live is not True, (name, verdict)
        if verdict.frames == len(frames):
            for challenge in CHALLENGES:
                assert judge(recorder.track, challenge=challenge).live is not True, (name, challenge)
        verdicts.append(verdict)
    reasons = sorted({verdict.reason for verdict in verdicts})
    print(attack, {reason: sum(v.reason == reason for v in verdicts) for reason in reasons})
    assert sum(verdict.frames >= 2 for verdict in verdicts) >= SEQUENCES_PER_ATTACK - 2  # the face was followed
    if attack == "still":
        assert reasons == ["no_motion"]


# Genuine heads: landmark tracks of 3D faces, through judge.


def test_heads_that_turn_are_live(heads):
    rng = np.random.default_rng(2)
    verdicts = []
    for number in range(GENUINE_TRACKS):
        yaw = rng.uniform(20, 40) * rng.choice([-1, 1])
        pitch = rng.uniform(0, 15) * rng.choice([-1, 1])
        track = spoofs.genuine_track(
            heads[number % len(heads)], rng, yaw_swing=yaw, pitch_swing=pitch, count=int(rng.integers(2, 11))
        )
        verdicts.append(judge(track))
    live = sum(verdict.live is True for verdict in verdicts) / len(verdicts)
    print(f"heads turning 20-40 degrees: {live:.1%} live")
    assert live >= 0.99
    assert all(verdict.reason == "parallax" for verdict in verdicts if verdict.live)


def test_heads_that_nod_are_live(heads):
    rng = np.random.default_rng(3)
    verdicts = [
        judge(spoofs.genuine_track(head, rng, yaw_swing=0, pitch_swing=rng.uniform(18, 30) * rng.choice([-1, 1])))
        for head in heads * 3
    ]
    assert sum(verdict.live is True for verdict in verdicts) / len(verdicts) >= 0.99


def test_a_head_that_hardly_moves_is_inconclusive_never_flat(heads):
    rng = np.random.default_rng(4)
    for head in heads:
        still = judge(spoofs.genuine_track(head, rng, yaw_swing=0.0, count=6))
        assert (still.live, still.reason) == (None, "no_motion")
        small = judge(spoofs.genuine_track(head, rng, yaw_swing=rng.uniform(-8, 8), count=6))
        assert small.live is None and small.reason in ("no_motion", "small_motion"), small


def test_live_heads_are_not_called_flat(heads):
    """A real head is never taken for a picture, whatever it turns (it may be inconclusive)."""
    rng = np.random.default_rng(5)
    for number in range(200):
        track = spoofs.genuine_track(
            heads[number % len(heads)],
            rng,
            yaw_swing=rng.uniform(-30, 30),
            pitch_swing=rng.uniform(-15, 15),
            count=int(rng.integers(2, 11)),
        )
        assert judge(track).reason != "flat"


def test_a_flat_face_turned_like_a_head_is_not_live(heads):
    """The same 3D faces pressed flat (depth 0): however turned, one homography explains them."""
    rng = np.random.default_rng(6)
    verdicts = []
    for number in range(100):
        flat = heads[number % len(heads)] * [1, 1, 0] + [0, 0, 0.001]
        track = spoofs.genuine_track(flat, rng, yaw_swing=rng.uniform(-30, 30), pitch_swing=rng.uniform(-20, 20))
        verdicts.append(judge(track))
    assert not any(verdict.live for verdict in verdicts)
    assert sum(verdict.reason == "flat" for verdict in verdicts) >= 80


# The turn and blink detectors.


@pytest.mark.parametrize("challenge, sign", [("turn_left", 1), ("turn_right", -1)])
def test_a_turn_is_seen_in_its_direction(heads, challenge, sign):
    """Left is the person's own left: in unmirrored frames their nose moves to the image's right."""
    rng = np.random.default_rng(7)
    other = "turn_right" if challenge == "turn_left" else "turn_left"
    for head in heads[:20]:
        track = spoofs.genuine_track(head, rng, yaw_swing=sign * 30, count=5)
        done = judge(track, challenge=challenge)
        assert (done.live, done.reason) == (True, "challenge_done")
        assert 22 <= done.turn <= 50, done.turn  # estimated degrees: a 30-degree turn
        wrong_way = judge(track, challenge=other)
        assert (wrong_way.live, wrong_way.reason) == (None, "challenge_not_done")
        too_little = judge(spoofs.genuine_track(head, rng, yaw_swing=sign * 10, count=5), challenge=challenge)
        assert too_little.live is None and too_little.turn < 20


def test_the_nose_of_a_head_turning_left_moves_to_the_images_right(heads):
    frontal = spoofs.project(heads[0])
    left = spoofs.project(heads[0], yaw=20)
    assert left[1, 0] - frontal[1, 0] > 10  # pixels, nose tip (point 1)
    assert liveness._yaw_index(left) > liveness._yaw_index(frontal) + 0.4


def test_a_blink_is_seen_when_the_eyes_close_and_open_again(heads):
    rng = np.random.default_rng(8)
    for head in heads[:20]:
        track = spoofs.genuine_track(head, rng, yaw_swing=0.0, count=5)
        blinked = judge(spoofs.with_blink(track, 2, 0.8), challenge="blink")
        assert (blinked.live, blinked.reason) == (True, "challenge_done")
        assert blinked.blink > 0.4
        assert judge(track, challenge="blink").reason == "challenge_not_done"
        assert judge(spoofs.with_blink(track, 2, 0.2), challenge="blink").live is None  # a squint
        assert judge(spoofs.with_blink(track, 4, 0.9), challenge="blink").live is None  # never reopened
        assert judge(spoofs.with_blink(track, 0, 0.9), challenge="blink").live is None  # never seen open


def test_a_blink_is_no_parallax(heads):
    """Eyelids moving are left out of the homography: a still head blinking is not passively live."""
    rng = np.random.default_rng(9)
    for head in heads[:20]:
        track = spoofs.with_blink(spoofs.genuine_track(head, rng, yaw_swing=0.0, count=5), 2, 1.0)
        assert judge(track).live is None


def test_a_picture_that_blinks_is_still_flat(heads):
    """Eyes cut out of a print with a blink behind them, the print turned: not live."""
    rng = np.random.default_rng(10)
    for head in heads[:20]:
        flat = head * [1, 1, 0] + [0, 0, 0.001]
        track = spoofs.with_blink(spoofs.genuine_track(flat, rng, yaw_swing=25, pitch_swing=10, count=5), 2, 0.9)
        verdict = judge(track, challenge="blink")
        assert verdict.live is not True and verdict.blink > 0


def test_a_turn_challenge_needs_parallax_too(heads):
    """A flat face turned far enough for the turn index (it cannot be, by hand) is still not live."""
    rng = np.random.default_rng(11)
    for head in heads[:20]:
        flat = head * [1, 1, 0] + [0, 0, 0.001]
        track = spoofs.genuine_track(flat, rng, yaw_swing=40, count=5)
        for challenge in ("turn_left", "turn_right"):
            assert judge(track, challenge=challenge).live is not True


# The judge's interface.


def test_few_frames_are_inconclusive(heads):
    assert judge([]) == Verdict(None, "too_few_frames", frames=0)
    one = judge([spoofs.project(heads[0])], challenge="blink")
    assert (one.live, one.reason, one.frames, one.challenge) == (None, "too_few_frames", 1, "blink")


def test_two_frames_are_enough(heads):
    rng = np.random.default_rng(12)
    verdicts = [judge(spoofs.genuine_track(head, rng, yaw_swing=30, count=2)) for head in heads]
    assert sum(verdict.live is True for verdict in verdicts) / len(verdicts) >= 0.99


def test_x_y_and_z_give_the_same_verdict(heads):
    rng = np.random.default_rng(13)
    track = spoofs.genuine_track(heads[0], rng, yaw_swing=25, count=4)
    with_z = [np.column_stack([frame, np.zeros(468)]) for frame in track]
    assert judge(with_z) == judge(track)


def test_long_tracks_are_thinned(heads):
    rng = np.random.default_rng(14)
    verdict = judge(spoofs.genuine_track(heads[0], rng, yaw_swing=30, count=40))
    assert verdict.live is True and verdict.frames == 40


def test_bad_input_is_refused_clearly(heads):
    track = [spoofs.project(heads[0])] * 3
    with pytest.raises(ValueError, match="Unknown liveness challenge 'smile'"):
        judge(track, challenge="smile")
    with pytest.raises(ValueError, match="shape"):
        judge([np.zeros((68, 2))] * 3)
    with pytest.raises(ValueError, match="finite"):
        judge([np.full((468, 2), np.nan)] * 3)
    with pytest.raises(ValueError, match="Unknown liveness challenge"):
        judge_frames([], challenge="nod")


def test_a_verdict_is_json(heads):
    rng = np.random.default_rng(15)
    verdict = judge(spoofs.genuine_track(heads[0], rng, yaw_swing=-30, count=5), challenge="turn_right")
    data = json.loads(json.dumps(verdict.to_json()))
    assert data["live"] is True and data["reason"] == "challenge_done" and data["challenge"] == "turn_right"
    assert set(data) == {"live", "reason", "frames", "motion", "residual", "turn", "blink", "challenge"}


def test_the_challenges_have_kiosk_words():
    assert CHALLENGES["turn_left"] == "Please turn your head to the left"
    assert CHALLENGES["turn_right"] == "Please turn your head to the right"
    assert CHALLENGES["blink"] == "Please blink"


def test_judge_frames_follows_one_face(pictures, model):
    (_, a, box_a), (_, b, box_b) = pictures[0], pictures[9]
    room = spoofs.background(np.random.default_rng(16))
    rng = np.random.default_rng(17)
    here = spoofs.render(a, spoofs.picture_homography(box_a, shift=(-150, 0), zoom=0.7), room, rng)
    there = spoofs.render(b, spoofs.picture_homography(box_b, shift=(150, 0), zoom=0.7), room, rng)
    assert judge_frames([here, here, there]).reason == "face_lost"
    nothing = np.full((480, 640, 3), 128, np.uint8)
    assert judge_frames([nothing, here]) == Verdict(None, "no_face")
    assert judge_frames([here, nothing]) == Verdict(None, "face_lost", frames=1)


def test_thresholds_come_from_settings(settings, heads):
    rng = np.random.default_rng(18)
    track = spoofs.genuine_track(heads[0], rng, yaw_swing=30, count=4)
    assert judge(track).live is True
    settings.LIVENESS = {**settings.LIVENESS, "PARALLAX": 0.5}
    assert judge(track).live is None


@pytest.mark.parametrize(
    "change, check_id",
    [
        ({"PARALLAX": 0.001}, "liveness.E002"),  # below MOTION
        ({"BLINK_CLOSED": 0.9}, "liveness.E002"),  # above BLINK_REOPENED
        ({"MAX_FRAMES": 1}, "liveness.E002"),
        ({"TURN_DEGREES": "far"}, "liveness.E002"),
        ({"SMILE": 1}, "liveness.E001"),
    ],
)
def test_bad_liveness_settings_fail_the_checks(settings, change, check_id):
    settings.LIVENESS = {**settings.LIVENESS, **change}
    assert [error.id for error in check_liveness_settings()] == [check_id]


def test_the_shipped_liveness_settings_pass_and_match_the_defaults(settings):
    assert check_liveness_settings() == []
    assert liveness.configured_thresholds() == Thresholds()


# check_liveness.


def write_frames(folder, frames):
    paths = []
    for number, frame in enumerate(frames):
        path = folder / f"frame-{number:02d}.jpg"
        path.write_bytes(cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))[1].tobytes())
        paths.append(str(path))
    return paths


def check_liveness(*args):
    out = StringIO()
    call_command("check_liveness", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_check_liveness_prints_one_json_line(pictures, tmp_path):
    _, rgb, box = pictures[0]
    rng = np.random.default_rng(19)
    paths = write_frames(tmp_path, spoofs.turned(rgb, box, 5, rng))
    output = check_liveness(*paths)
    assert output.count("\n") == 1
    line = json.loads(output)
    assert line["live"] is False and line["reason"] in ("flat", "small_motion", "no_motion") and line["frames"] == 5
    still = json.loads(check_liveness(paths[0], paths[0], paths[0], "--challenge", "blink"))
    assert (still["live"], still["inconclusive"], still["reason"]) == (False, True, "challenge_not_done")


def test_check_liveness_refuses_bad_files_and_challenges(pictures, tmp_path):
    _, rgb, box = pictures[0]
    [frame] = write_frames(tmp_path, spoofs.still(rgb, box, 1, np.random.default_rng(20)))
    (tmp_path / "notes.jpg").write_text("not a picture")
    with pytest.raises(CommandError, match="notes.jpg"):
        check_liveness(frame, str(tmp_path / "notes.jpg"))
    with pytest.raises(CommandError, match="missing.jpg: cannot be read"):
        check_liveness(frame, str(tmp_path / "missing.jpg"))
    with pytest.raises(CommandError, match="Unknown challenge 'smile'"):
        check_liveness(frame, frame, "--challenge", "smile")


def test_check_liveness_without_the_model_says_what_to_run(pictures, settings, tmp_path):
    _, rgb, box = pictures[0]
    frames = write_frames(tmp_path, spoofs.still(rgb, box, 2, np.random.default_rng(21)))
    settings.DEEPFACE_HOME = tmp_path / "empty"
    with pytest.raises(CommandError, match="faces_install_weights"):
        check_liveness(*frames)


# Installing the model.


def home_without_the_landmark_model(settings, tmp_path):
    home = tmp_path / "home"
    weights_dir(home).mkdir(parents=True)
    for name in (*REQUIRED_WEIGHTS, "dlib_face_recognition_resnet_model_v1.onnx"):
        (weights_dir(home) / name).symlink_to(weights_dir(settings.DEEPFACE_HOME) / name)
    return home


def fake_wheel(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as wheel:
        for member, data in members.items():
            wheel.writestr(member, data)
    return path


def test_the_landmark_model_is_staged_from_the_wheel(settings, tmp_path):
    home = home_without_the_landmark_model(settings, tmp_path)
    assert [path.name for path in missing_weights(home)] == [LANDMARK_MODEL.name]
    staged = weights_dir(settings.DEEPFACE_HOME)
    wheel = fake_wheel(
        tmp_path / "mediapipe.whl",
        {
            LANDMARK_MODEL.member: (staged / LANDMARK_MODEL.name).read_bytes(),
            MEDIAPIPE_LICENSE.member: (staged / MEDIAPIPE_LICENSE.name).read_bytes(),
        },
    )
    written = install_wheel_files(home, wheel=wheel)
    assert sorted(path.name for path in written) == sorted([LANDMARK_MODEL.name, MEDIAPIPE_LICENSE.name])
    assert missing_weights(home) == [] and "Apache License" in (weights_dir(home) / MEDIAPIPE_LICENSE.name).read_text()
    assert install_wheel_files(home, wheel=tmp_path / "no-such.whl") == []  # already staged: nothing to do


def test_a_wheel_with_other_files_is_refused(settings, tmp_path):
    home = home_without_the_landmark_model(settings, tmp_path)
    tampered = fake_wheel(tmp_path / "tampered.whl", {LANDMARK_MODEL.member: b"x", MEDIAPIPE_LICENSE.member: b"y"})
    with pytest.raises(WheelUnavailable, match="pinned SHA-256"):
        install_wheel_files(home, wheel=tampered)
    with pytest.raises(WheelUnavailable, match="has no mediapipe/modules"):
        install_wheel_files(home, wheel=fake_wheel(tmp_path / "other.whl", {"x": b""}))
    assert not list(weights_dir(home).glob("*.partial")) and LANDMARK_MODEL.name in str(missing_weights(home))


def test_when_pip_cannot_get_the_wheel_the_command_says_what_to_do(settings, tmp_path, monkeypatch):
    import subprocess

    def pip_offline(command, **kwargs):
        assert command[1:4] == ["-m", "pip", "download"] and "mediapipe==0.10.21" in command
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution found for mediapipe")

    monkeypatch.setattr(subprocess, "run", pip_offline)
    with pytest.raises(WheelUnavailable, match="No matching distribution"):
        download_mediapipe_wheel(tmp_path)
    settings.DEEPFACE_HOME = home_without_the_landmark_model(settings, tmp_path)
    with pytest.raises(CommandError, match=r"pip download --no-deps .* --mediapipe-wheel PATH"):
        call_command("faces_install_weights", stdout=StringIO())


def test_readyz_names_a_missing_landmark_model(client, db, settings, tmp_path):
    settings.DEEPFACE_HOME = home_without_the_landmark_model(settings, tmp_path)
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["face_weights"] == f"missing: {LANDMARK_MODEL.name}"


def test_detect_boxes_are_the_boxes_of_detect_and_embed(shared_photos):
    engine = get_engine()
    for photo in shared_photos.values():
        rgb = decode_upload(photo.data).rgb
        assert engine.detect_boxes(rgb) == [face.box for face in photo.faces], photo.name


def test_the_engine_still_loads_without_the_landmark_model(settings, tmp_path):
    """The landmark model is liveness's: recognition runs without it (the engine checks only its own)."""
    from faces.weights import ensure_weights

    ensure_weights(home_without_the_landmark_model(settings, tmp_path))
