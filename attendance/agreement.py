"""Agreement across frames: nobody is marked on one frame.

A device's recent frames are kept for a few seconds: each with its digest, when it was seen and whom it
accepted (with the distance). A person is marked once ``FRAMES`` distinct frames among the device's
last ``OF_LAST`` within ``SECONDS`` accepted them. The same bytes sent twice count once.

The frames live in Redis (a list per device, trimmed and expiring, written and read back in one
MULTI), so the frames of one kiosk agree whichever web worker served them. Every process also keeps
the frames it saw itself: with Redis down those decide, so a burst of frames in one request (the kiosk
sends one), and a camera worker's successive snapshots, still agree. A process that sees only some
frames of a device agrees less often, never more.
"""

import json
import threading
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches

from attendx.cache import guarded

LOCAL_DEVICES = 1000  # devices remembered per process without Redis; the least recent are forgotten


@dataclass(frozen=True)
class Rule:
    frames: int  # accepted frames needed
    of_last: int  # among the device's last frames
    seconds: float  # all within this many seconds

    @classmethod
    def from_settings(cls) -> "Rule":
        attendance = settings.ATTENDANCE
        rule = cls(attendance["AGREE_FRAMES"], attendance["AGREE_OF_LAST"], attendance["AGREE_SECONDS"])
        if not 1 <= rule.frames <= rule.of_last or rule.seconds <= 0:
            raise ValueError("Agreement needs 1 <= AGREE_FRAMES <= AGREE_OF_LAST and AGREE_SECONDS > 0.")
        return rule


@dataclass(frozen=True)
class Seen:
    """One frame that accepted a person: evidence of the mark."""

    frame: str  # SHA-256 of the frame's bytes
    at: float  # Unix time
    distance: float

    def to_json(self) -> dict:
        return {"frame": self.frame, "at": self.at, "distance": round(self.distance, 4)}


def _agreeing(entries: list[dict], person: str, *, now: float, rule: Rule) -> list[Seen]:
    """The distinct recent frames, newest first, that accepted ``person``."""
    seen: dict[str, Seen] = {}
    for entry in entries[: rule.of_last]:
        distance = entry["people"].get(person)
        if distance is not None and now - entry["at"] <= rule.seconds and entry["frame"] not in seen:
            seen[entry["frame"]] = Seen(entry["frame"], entry["at"], distance)
    return list(seen.values())


class _LocalFrames:
    """This process's own recent frames per device; safe across threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._devices: OrderedDict[str, deque] = OrderedDict()

    def push(self, device: str, entry: dict, keep: int) -> list[dict]:
        with self._lock:
            frames = self._devices.pop(device, None) or deque(maxlen=keep)
            if frames.maxlen != keep:
                frames = deque(frames, maxlen=keep)
            frames.appendleft(entry)
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


def _push_to_redis(device: str, entry: dict, rule: Rule) -> list[dict] | None:
    cache = caches["default"]

    def operation():
        key = cache.make_key(_key(device))
        pipe = cache.client.get_client(write=True).pipeline(transaction=True)
        pipe.lpush(key, json.dumps(entry))
        pipe.ltrim(key, 0, rule.of_last - 1)
        pipe.lrange(key, 0, -1)
        pipe.expire(key, max(1, int(rule.seconds + 1)))
        return [json.loads(raw) for raw in pipe.execute()[2]]

    return guarded("default", operation)


def observe(device: str, *, frame: str, at: float, accepted: Mapping[str, float], rule: Rule) -> dict[str, list[Seen]]:
    """Add a frame of ``device`` (``accepted``: person key -> distance); for each accepted person, the
    recent frames that agree, this one included. The person is marked when there are ``rule.frames``."""
    entry = {"frame": frame, "at": at, "people": dict(accepted)}
    local = _local.push(device, entry, rule.of_last)
    entries = _push_to_redis(device, entry, rule)
    if entries is None:
        entries = local
    return {person: _agreeing(entries, person, now=at, rule=rule) for person in accepted}


def forget_local() -> None:
    """Drop this process's frames (tests)."""
    _local.clear()
