"""Liveness at check-in: is the face in front of a kiosk or a camera a live person?

``faces.liveness`` judges a face's track (its landmarks, frame after frame); this module decides what
the check-in does with that for a device's mode (accounts.Liveness):

- off: nothing is checked (and a staff member's photo upload is never checked: it says so).
- passive: a track that shows a real head's parallax is live. Otherwise (too little motion, or a
  flat picture) the device is given a challenge chosen at random, and a flat picture is recorded.
- challenge: always a challenge first.

A challenge is remembered per device and person for ATTENDANCE["LIVENESS_CHALLENGE_SECONDS"] (in Redis,
and in this process for when Redis is down); the frames after it was given must show it done. One not
done in time is recorded as an attempt not judged live, and a new one is given on the next frames.
"""

import secrets
import threading
import time
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Liveness
from attendance.agreement import Tracked
from attendance.models import Method
from attendx.cache import cache_delete, cache_get, cache_set

ASK_AGAIN = gettext_lazy("Hold still and look at the camera")


class Status(StrEnum):
    OFF = "off"  # not checked
    LIVE = "live"
    CHALLENGE = "challenge"  # waiting for the person to do what the kiosk asks
    NOT_LIVE = "not_live"  # a challenge not done in time


@dataclass(frozen=True)
class Presence:
    status: Status
    reason: str = ""
    challenge: str | None = None
    record: bool = False  # keep this attempt for staff (NotLiveAttempt)

    @property
    def marks(self) -> bool:
        return self.status in (Status.OFF, Status.LIVE)

    @property
    def prompt(self) -> str:
        if self.status is Status.CHALLENGE:
            from faces.liveness import CHALLENGES

            return _(CHALLENGES[self.challenge])
        return str(ASK_AGAIN) if self.status is Status.NOT_LIVE else ""

    def describe(self) -> str:
        """For the evidence of a mark."""
        if self.status is Status.LIVE:
            return f"live: {self.reason}"
        return f"not checked: {self.reason}" if self.reason else "not checked"


def mode_for(device, method: str) -> str:
    if method == Method.UPLOAD:
        return Liveness.OFF
    return getattr(device, "liveness", "") or settings.ATTENDANCE["LIVENESS"]


class _LocalChallenges:
    """This process's challenges, for when Redis is down; safe across threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._items: dict[str, tuple[float, dict]] = {}

    def get(self, key: str) -> dict | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] < time.monotonic():
                self._items.pop(key, None)
                return None
            return item[1]

    def set(self, key: str, value: dict, seconds: float) -> None:
        with self._lock:
            now = time.monotonic()
            self._items = {k: v for k, v in self._items.items() if v[0] >= now}
            self._items[key] = (now + seconds, value)

    def delete(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_local = _LocalChallenges()


def _key(device: str, person: str) -> str:
    return f"challenge:{device}:{person}"


def _current(device: str, person: str) -> dict | None:
    return cache_get(_key(device, person)) or _local.get(_key(device, person))


def _give(device: str, person: str, at: float) -> str:
    from faces.liveness import CHALLENGES

    name = secrets.choice(sorted(CHALLENGES))
    value = {"name": name, "since": at}
    seconds = settings.ATTENDANCE["LIVENESS_CHALLENGE_SECONDS"]
    _local.set(_key(device, person), value, seconds + 2)
    cache_set(_key(device, person), value, expire=int(seconds) + 2)
    return name


def _clear(device: str, person: str) -> None:
    _local.delete(_key(device, person))
    cache_delete(_key(device, person))


def _landmarks(track: list[Tracked]):
    return [tracked.face.landmarks for tracked in track if tracked.face.landmarks is not None]


def decide(device: str, person: str, track: list[Tracked], *, mode: str, at: float) -> Presence:
    """What liveness says of ``person``'s face at ``device`` now, from its ``track`` (oldest first)."""
    if mode == Liveness.OFF:
        return Presence(Status.OFF, reason="liveness off")
    from faces import liveness

    given = _current(device, person)
    if given is not None:
        after = [tracked for tracked in track if tracked.at > given["since"]]  # frames of later requests
        verdict = liveness.judge(_landmarks(after), challenge=given["name"])
        if verdict.live:
            _clear(device, person)
            return Presence(Status.LIVE, reason=f"{given['name']} done")
        if at - given["since"] > settings.ATTENDANCE["LIVENESS_CHALLENGE_SECONDS"]:
            _clear(device, person)
            return Presence(Status.NOT_LIVE, reason=f"{given['name']} not done ({verdict.reason})", record=True)
        return Presence(Status.CHALLENGE, reason=verdict.reason, challenge=given["name"])
    flat = False
    reason = "challenge mode"
    if mode == Liveness.PASSIVE:
        verdict = liveness.judge(_landmarks(track))
        if verdict.live:
            return Presence(Status.LIVE, reason=verdict.reason)
        flat, reason = verdict.live is False, verdict.reason
    name = _give(device, person, at)
    return Presence(Status.CHALLENGE, reason=reason, challenge=name, record=flat)


def forget_local() -> None:
    """Drop this process's challenges (tests)."""
    _local.clear()
