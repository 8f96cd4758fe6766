"""What does liveness add per frame and per check? FaceMesh landmarks, the detector alone, and the judge.

Frames are the shared single-face photos fitted and padded to 640x480, as in bench_engine.py. Landmarks
run on the face the engine's detector found (two passes, three for a face rolled over 10 degrees);
"detect + embed" is the engine's whole per-frame work, for the ratio. The judge runs on landmark tracks
of 2, 6 and 10 frames (synthetic heads turning 25 degrees, tests/faces/spoofs.py): its cost grows with
the pairs of frames it compares. Prints a table and the landmarks' share of a frame's time.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from benchmarks.bench_engine import decode, make_frames  # noqa: E402
from faces.engine import Engine, EngineConfig  # noqa: E402
from faces.landmarks import LandmarkModel  # noqa: E402
from faces.liveness import judge  # noqa: E402
from faces.weights import landmark_model  # noqa: E402
from tests.faces import spoofs  # noqa: E402


def timed(call, inputs: list, runs: int) -> list[float]:
    for item in inputs:
        call(item)
    times = []
    for i in range(runs):
        start = time.perf_counter()
        call(inputs[i % len(inputs)])
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "faces")
    parser.add_argument("--deepface-home", default=os.environ.get("DEEPFACE_HOME", str(REPO / "var" / "deepface")))
    args = parser.parse_args()

    engine = Engine(EngineConfig(deepface_home=args.deepface_home))
    model = LandmarkModel(landmark_model(args.deepface_home))
    frames = [decode(jpeg) for jpeg in make_frames(args.data)]
    faces = [(frame, boxes[0]) for frame in frames if (boxes := engine.detect_boxes(frame))]
    rng = np.random.default_rng(0)
    heads = [spoofs.head_from_landmarks(model.landmarks(frame, box)) for frame, box in faces]

    rows = [
        ("detect + embed (engine)", timed(engine.detect_and_embed, frames, args.runs)),
        ("detect only (detect_boxes)", timed(engine.detect_boxes, frames, args.runs)),
        ("landmarks (FaceMesh)", timed(lambda item: model.landmarks(*item), faces, args.runs)),
    ]
    for count in (2, 6, 10):
        tracks = [spoofs.genuine_track(head, rng, yaw_swing=25, count=count) for head in heads]
        rows.append((f"judge, {count} frames", timed(judge, tracks, max(20, args.runs // 4))))

    print(f"{'step':30} {'p50 ms':>8} {'p90 ms':>8}")
    for name, times in rows:
        p90 = statistics.quantiles(times, n=10)[-1]
        print(f"{name:30} {statistics.median(times):8.1f} {p90:8.1f}")
    frame_ms = statistics.median(rows[0][1])
    landmarks_ms = statistics.median(rows[2][1])
    print(f"landmarks add {landmarks_ms / frame_ms:.0%} to a frame's detect + embed ({len(faces)} faces)")


if __name__ == "__main__":
    main()
