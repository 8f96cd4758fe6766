"""How fast is faces.engine against plain DeepFace.represent(Dlib, dlib) on 640x480 webcam-sized frames?

Frames are real photos from the shared face set, fitted and padded to 640x480 and JPEG-encoded in
memory. Both pipelines get the same decoded frames in the same process, in the same order.
"""

import argparse
import csv
import io
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from faces.engine import Engine, EngineConfig  # noqa: E402

FRAME_SIZE = (640, 480)


def make_frames(data: Path) -> list[bytes]:
    """One JPEG frame per identity: its first single-face photo, fitted and padded to 640x480."""
    frames, seen = [], set()
    with open(data / "manifest.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["faces_in_image"] != "1" or row["identity"] in seen or row["file"].startswith("_"):
                continue
            seen.add(row["identity"])
            with Image.open(data / row["file"]) as photo:
                image = ImageOps.exif_transpose(photo).convert("RGB")
            image.thumbnail(FRAME_SIZE)
            frame = Image.new("RGB", FRAME_SIZE)
            frame.paste(image, ((FRAME_SIZE[0] - image.width) // 2, (FRAME_SIZE[1] - image.height) // 2))
            buffer = io.BytesIO()
            frame.save(buffer, "JPEG", quality=90)
            frames.append(buffer.getvalue())
    return frames


def decode(jpeg: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(jpeg)) as image:
        return np.asarray(image.convert("RGB"))


def timed(call, inputs: list, runs: int) -> tuple[list[float], list]:
    """Milliseconds per call and results, cycling through ``inputs`` after one warm-up pass."""
    for item in inputs:
        call(item)
    times, results = [], []
    for i in range(runs):
        start = time.perf_counter()
        results.append(call(inputs[i % len(inputs)]))
        times.append((time.perf_counter() - start) * 1000)
    return times, results


def p(times: list[float], q: int) -> float:
    return statistics.quantiles(times, n=100, method="inclusive")[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "faces")
    parser.add_argument("--deepface-home", default=os.environ.get("DEEPFACE_HOME", str(REPO / "var" / "deepface")))
    args = parser.parse_args()

    jpegs = make_frames(args.data)
    engine = Engine(EngineConfig(deepface_home=args.deepface_home))
    start = time.perf_counter()
    engine.load()
    cold_ms = (time.perf_counter() - start) * 1000
    frames = [decode(jpeg) for jpeg in jpegs]
    start = time.perf_counter()
    engine.detect_and_embed(frames[0])
    first_ms = (time.perf_counter() - start) * 1000

    decode_times, _ = timed(decode, jpegs, args.runs)
    engine_times, engine_faces = timed(engine.detect_and_embed, frames, args.runs)

    # The baseline the engine replaces; nothing else in the project imports DeepFace itself.
    with warnings.catch_warnings():
        from deepface import DeepFace

    def represent(rgb: np.ndarray) -> int:
        try:
            return len(DeepFace.represent(rgb[:, :, ::-1], model_name="Dlib", detector_backend="dlib"))
        except ValueError:  # no face found
            return 0

    deepface_times, deepface_faces = timed(represent, frames, args.runs)

    def found(counts: list[int]) -> str:
        return f"{sum(n == 1 for n in counts)}/{len(counts)} runs found exactly one face"

    rows = [
        ("cold load: import deepface + dlib, build models", f"{cold_ms:.0f}", "", "once per process"),
        ("first detect+embed after load", f"{first_ms:.0f}", "", ""),
        ("JPEG decode 640x480 (Pillow)", f"{p(decode_times, 50):.1f}", f"{p(decode_times, 95):.1f}", ""),
        (
            "engine detect+embed, warm",
            f"{p(engine_times, 50):.0f}",
            f"{p(engine_times, 95):.0f}",
            found([len(f) for f in engine_faces]),
        ),
        (
            "DeepFace.represent(Dlib, dlib), warm",
            f"{p(deepface_times, 50):.0f}",
            f"{p(deepface_times, 95):.0f}",
            found(deepface_faces),
        ),
    ]
    print(f"{len(frames)} frames of 640x480 from {args.data}, {args.runs} timed runs each, {os.cpu_count()} cores\n")
    print("| step | p50 ms | p95 ms | notes |\n| --- | ---: | ---: | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(
        f"\nDeepFace / engine: p50 {p(deepface_times, 50) / p(engine_times, 50):.1f}x, "
        f"p95 {p(deepface_times, 95) / p(engine_times, 95):.1f}x"
    )


if __name__ == "__main__":
    main()
