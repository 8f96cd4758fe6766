"""Agreement across frames: nobody is marked on one frame.

A device's recent frames are kept for a few seconds: each with its digest, when it was seen, whom it
accepted (with the distance) and where its faces were (with their landmarks when liveness needs them).
A person is marked once ``FRAMES`` distinct frames among the device's last ``OF_LAST`` within
``SECONDS`` accepted them. The same bytes sent twice count once. Liveness (attendance.presence) reads
the same frames as a track: the person's face followed back, frame by frame, by its position.

The frames live in Redis (a list per device, trimmed and expiring, written and read back in one
MULTI), so the frames of one kiosk agree whichever web worker served them. Every process also keeps
the frames it saw itself: with Redis down those decide, so a burst of frames in one request (the kiosk
sends one), and a camera worker's successive snapshots, still agree. A process that sees only some
frames of a device agrees less often, never more.
"""

import json
import threading
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.core.cache import caches

from attendx.cache import guarded
from faces.liveness import box_overlap

LOCAL_DEVICES = 1000  # devices remembered per process without Redis; the least recent are forgotten


@dataclass(frozen=True)
class Rule:
    frames: int  # accepted frames needed
    of_last: int  # among the device's last frames
    seconds: float  # all within this many seconds
    keep: int = 3  # frames kept per device: enough for the agreement and for liveness's track
    track_seconds: float = 5.0

    @classmethod
    def from_settings(cls) -> "Rule":
        attendance = settings.ATTENDANCE
        frames, of_last, seconds = attendance["AGREE_FRAMES"], attendance["AGREE_OF_LAST"], attendance["AGREE_SECONDS"]
        if not 1 <= frames <= of_last or seconds <= 0:
            raise ValueError("Agreement needs 1 <= AGREE_FRAMES <= AGREE_OF_LAST and AGREE_SECONDS > 0.")
        keep = max(of_last, attendance["LIVENESS_FRAMES"])
        return cls(frames, of_last, seconds, keep, max(seconds, attendance["LIVENESS_SECONDS"]))


@dataclass(frozen=True)
class Face:
    """A face of a frame as the device's recent frames remember it."""

    box: tuple[int, int, int, int]
    person: str | None = None  # accepted as this person
    distance: float | None = None
    landmarks: np.ndarray | None = None  # (N, 2) in the frame's pixels, when liveness asked for them

    def to_entry(self) -> dict:
        landmarks = None if self.landmarks is None else np.round(self.landmarks[:, :2], 1).tolist()
        return {"box": list(self.box), "person": self.person, "distance": self.distance, "lm": landmarks}

    @classmethod
    def from_entry(cls, value: dict) -> "Face":
        landmarks = value.get("lm")
        return cls(
            box=tuple(value["box"]),
            person=value.get("person"),
            distance=value.get("distance"),
            landmarks=None if landmarks is None else np.asarray(landmarks, dtype=np.float32),
        )


@dataclass(frozen=True)
class Seen:
    """One frame that accepted a person: evidence of the mark."""

    frame: str  # SHA-256 of the frame's bytes
    at: float  # Unix time
    distance: float

    def to_json(self) -> dict:
        return {"frame": self.frame, "at": self.at, "distance": round(self.distance, 4)}


@dataclass(frozen=True)
class Tracked:
    """A face followed back through the device's recent frames: the same place, frame after frame."""

    frame: str
    at: float
    face: Face


@dataclass(frozen=True)
class Observation:
    agreeing: list[Seen]  # distinct recent frames that accepted the person, newest first
    track: list[Tracked]  # the person's face in the frames before, oldest first, this one last


def _agreeing(entries: list[dict], person: str, *, now: float, rule: Rule) -> list[Seen]:
    """The distinct recent frames, newest first, that accepted ``person``."""
    seen: dict[str, Seen] = {}
    for entry in entries[: rule.of_last]:
        distance = entry["people"].get(person)
        if distance is not None and now - entry["at"] <= rule.seconds and entry["frame"] not in seen:
            seen[entry["frame"]] = Seen(entry["frame"], entry["at"], distance)
    return list(seen.values())


TRACK_OVERLAP = 0.3  # a face in the frame before is the same face when their boxes overlap this much


def _track(entries: list[dict], person: str, *, now: float, rule: Rule) -> list[Tracked]:
    """From the newest frame that accepted ``person``, their face followed back by position (it may turn
    away from recognition on the way: a head turning for a challenge); stops where the face is lost."""
    track: list[Tracked] = []
    frames_seen = set()
    for entry in entries:
        if now - entry["at"] > rule.track_seconds or entry["frame"] in frames_seen:
            continue
        faces = [Face.from_entry(value) for value in entry.get("faces", [])]
        if not track:
            mine = [face for face in faces if face.person == person]
            if not mine:
                continue
            chosen = mine[0]
        else:
            last = track[-1].face.box
            best = max(faces, key=lambda face: box_overlap(face.box, last), default=None)
            if best is None or box_overlap(best.box, last) < TRACK_OVERLAP:
                break
            chosen = best
        frames_seen.add(entry["frame"])
        track.append(Tracked(entry["frame"], entry["at"], chosen))
    return track[::-1]


class _LocalFrames:
    """This process's own recent frames per device; safe across threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._devices: OrderedDict[str, deque] = OrderedDict()

    def push(self, device: str, entries: Sequence[dict], keep: int) -> list[dict]:
        """Add ``entries`` (oldest first) to the device's frames; return them all, newest first."""
        with self._lock:
            frames = self._devices.pop(device, None) or deque(maxlen=keep)
            if frames.maxlen != keep:
                frames = deque(frames, maxlen=keep)
            frames.extendleft(entries)
            self._devices[device] = frames
            while len(self._devices) > LOCAL_DEVICES:
                self._devices.popitem(last=False)
            return list(frames)

    def clear(self) -> None:
        with self._lock:
            self._devices.clear()


_local = _LocalFrames()


def _key(device: str) -> str:
    return f"agree:{device}"


def _push_to_redis(device: str, entries: Sequence[dict], rule: Rule) -> list[dict] | None:
    cache = caches["default"]

    def operation():
        key = cache.make_key(_key(device))
        pipe = cache.client.get_client(write=True).pipeline(transaction=True)
        pipe.lpush(key, *[json.dumps(entry) for entry in entries])
        pipe.ltrim(key, 0, rule.keep - 1)
        pipe.lrange(key, 0, -1)
        pipe.expire(key, max(1, int(rule.track_seconds + 1)))
        return [json.loads(raw) for raw in pipe.execute()[2]]

    return guarded("default", operation)


def observe(
    device: str, *, frames: Sequence[tuple[str, Sequence[Face]]], at: float, rule: Rule
) -> dict[str, Observation]:
    """Add ``frames`` of ``device`` (oldest first: each its digest and faces) in one step; for each person
    accepted in the last of them, the recent frames that agree (the new ones included: marked at
    ``rule.frames``) and their face's track for liveness."""
    if not frames:
        raise ValueError("Nothing to observe: no frames.")
    new = []
    for frame, faces in frames:
        accepted = {face.person: face.distance for face in faces if face.person is not None}
        new.append({"frame": frame, "at": at, "people": accepted, "faces": [face.to_entry() for face in faces]})
    local = _local.push(device, new, rule.keep)
    entries = _push_to_redis(device, new, rule)
    if entries is None:
        entries = local
    return {
        person: Observation(_agreeing(entries, person, now=at, rule=rule), _track(entries, person, now=at, rule=rule))
        for person in new[-1]["people"]
    }


def forget_local() -> None:
    """Drop this process's frames (tests)."""
    _local.clear()
