"""How fast is faces.engine against the plain dlib pipeline and DeepFace.represent(Dlib, dlib)?

Frames are real photos from the shared face set, fitted and padded to 640x480 and JPEG-encoded in
memory, plus the six-face group photo. Every pipeline gets the same decoded frames in the same
process, in the same order. The engine runs dlib's network on onnxruntime (the graph converted at
install time) with 1 and 2 threads, after yuface found the faces (the shipped configuration); "HOG +
onnxruntime" swaps in dlib's HOG detector; "plain dlib" is HOG, the 5-point alignment and dlib's own
ResNet inference, which is what the engine was before.
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
import psutil  # noqa: E402
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
    process = psutil.Process()
    rss_before = process.memory_info().rss
    engine = Engine(EngineConfig(deepface_home=args.deepface_home, onnx_threads=1))
    start = time.perf_counter()
    engine.load()
    cold_ms = (time.perf_counter() - start) * 1000
    rss_loaded = process.memory_info().rss
    assert engine.descriptor == "onnxruntime", "the converted model is missing: run faces_install_weights"
    frames = [decode(jpeg) for jpeg in jpegs]
    start = time.perf_counter()
    engine.detect_and_embed(frames[0])
    first_ms = (time.perf_counter() - start) * 1000
    with Image.open(args.data / "_group" / "multiface.jpg") as photo:
        group = [np.asarray(ImageOps.exif_transpose(photo).convert("RGB"))]

    decode_times, _ = timed(decode, jpegs, args.runs)
    engine_times, engine_faces = timed(engine.detect_and_embed, frames, args.runs)
    group_times, group_faces = timed(engine.detect_and_embed, group, max(10, args.runs // 4))
    two_threads = Engine(EngineConfig(deepface_home=args.deepface_home, onnx_threads=2))
    two_times, _ = timed(two_threads.detect_and_embed, frames, args.runs)
    hog = Engine(EngineConfig(deepface_home=args.deepface_home, detector_backend="dlib"))
    hog_times, _ = timed(hog.detect_and_embed, frames, args.runs)
    plain = Engine(EngineConfig(deepface_home=args.deepface_home, detector_backend="dlib", descriptor="dlib"))
    plain_times, plain_faces = timed(plain.detect_and_embed, frames, args.runs)
    plain_group_times, _ = timed(plain.detect_and_embed, group, max(10, args.runs // 4))
    rss_all = process.memory_info().rss

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
        ("cold load: import deepface + dlib + onnxruntime, build models", f"{cold_ms:.0f}", "", "once per process"),
        ("first detect+embed after load", f"{first_ms:.0f}", "", ""),
        ("JPEG decode 640x480 (Pillow)", f"{p(decode_times, 50):.1f}", f"{p(decode_times, 95):.1f}", ""),
        (
            "engine detect+embed (yuface 320 + onnxruntime, 1 thread)",
            f"{p(engine_times, 50):.1f}",
            f"{p(engine_times, 95):.1f}",
            found([len(f) for f in engine_faces]),
        ),
        ("engine, onnxruntime 2 threads", f"{p(two_times, 50):.1f}", f"{p(two_times, 95):.1f}", ""),
        ("HOG + onnxruntime (1 thread)", f"{p(hog_times, 50):.1f}", f"{p(hog_times, 95):.1f}", ""),
        (
            "plain dlib pipeline (HOG + 5 points + dlib ResNet)",
            f"{p(plain_times, 50):.1f}",
            f"{p(plain_times, 95):.1f}",
            found([len(f) for f in plain_faces]),
        ),
        (
            "engine, six-face group photo",
            f"{p(group_times, 50):.1f}",
            f"{p(group_times, 95):.1f}",
            f"{group[0].shape[1]}x{group[0].shape[0]}, {len(group_faces[0])} faces",
        ),
        ("plain dlib, six-face group photo", f"{p(plain_group_times, 50):.1f}", f"{p(plain_group_times, 95):.1f}", ""),
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
    mb = 1024 * 1024
    print(
        f"\nresident memory: {rss_before / mb:.0f} MB before the engine, {rss_loaded / mb:.0f} MB with it loaded, "
        f"{rss_all / mb:.0f} MB with four engines (and deepface) after every run"
    )
    print(
        f"plain dlib / engine: p50 {p(plain_times, 50) / p(engine_times, 50):.1f}x; "
        f"DeepFace / engine: p50 {p(deepface_times, 50) / p(engine_times, 50):.1f}x, "
        f"p95 {p(deepface_times, 95) / p(engine_times, 95):.1f}x"
    )


if __name__ == "__main__":
    main()
