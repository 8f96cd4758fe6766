"""Race one object from several threads on different photos, in a process of its own, and compare every
answer with the one-thread answer. A crash in a C library (heap corruption in dlib, for one) then fails
the test that asked, instead of killing the test run.

    outcome = race_in_subprocess("tests.thread_race:engine", {"deepface_home": home}, "detect_and_embed",
                                 photos, threads=4, rounds=6)
"""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_PROBE = """
import importlib, json, sys, threading
import numpy as np
from PIL import Image, ImageOps

spec = json.loads(sys.argv[1])
module, _, name = spec["factory"].partition(":")
target = getattr(importlib.import_module(module), name)(**spec["kwargs"])
call = getattr(target, spec["method"])
images = []
for path in spec["photos"]:
    with Image.open(path) as image:
        photo = ImageOps.exif_transpose(image).convert("RGB")
    photo.thumbnail((1280, 1280))
    images.append(np.asarray(photo))

def key(answer):
    # Faces (engine) or (box, score) pairs (detectors), compared with rounded embeddings.
    return [
        (item.box, np.round(item.embedding, 5).tolist()) if hasattr(item, "embedding") else item for item in answer
    ]

expected = [key(call(rgb)) for rgb in images]
start = threading.Barrier(spec["threads"])
wrong = []

def work(offset):
    start.wait()
    for n in range(spec["rounds"]):
        index = (offset + n) % len(images)
        found = key(call(images[index]))
        if found != expected[index]:
            wrong.append([spec["photos"][index], len(found), len(expected[index])])

workers = [threading.Thread(target=work, args=(i,)) for i in range(spec["threads"])]
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
calls = spec["threads"] * spec["rounds"]
print(json.dumps({"calls": calls, "faces": [len(e) for e in expected], "wrong": wrong}))
"""


def engine(**options):
    """An engine for the probe, from JSON-able options (the EngineConfig fields)."""
    from faces.engine import Engine, EngineConfig

    return Engine(EngineConfig(**options))


def race_in_subprocess(factory: str, kwargs: dict, method: str, photos: list, *, threads: int, rounds: int) -> dict:
    """``factory(**kwargs).method(rgb)`` from ``threads`` threads, each starting on its own photo (photos
    fitted within 1280 px); returns calls made, faces per photo alone, and the answers that differed."""
    spec = {
        "factory": factory,
        "kwargs": kwargs,
        "method": method,
        "photos": [str(photo) for photo in photos],
        "threads": threads,
        "rounds": rounds,
    }
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(spec)], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"the process died ({result.returncode}): {result.stderr[-2000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])
