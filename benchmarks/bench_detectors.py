"""Which face detector should replace dlib's HOG? Recall, speed and verification accuracy, against HOG in one run.

HOG runs as ``Engine._detect`` runs it: on a copy at most ``detect_max_side`` (1024) px long, upsampled
once when the doubled copy stays within that limit, scores >= ``min_detector_score`` (0.4). Every
detector sees the engine's working copy (at most ``max_side``, 1280 px), and what follows detection is
the engine's: dlib's 5-point predictor on the box, the 150 px chip (padding 0.25), dlib's ResNet,
cosine distance of L2-normalised vectors, accepted below the default accept distance (0.07).

- recall: single-face photos that give exactly one face, faces in the three group photos, faces on
  the six no-face photos;
- small faces: each single-face photo shrunk so that its face (HOG's box on the full photo) is 40, 56
  or 80 px wide, centred on a black 1280x720 frame, as an IP camera sees a room; a face counts when a
  box overlaps it by IoU >= 0.3;
- speed: the single-face photos fitted on black 640x480 and 1280x720 frames (JPEG q90 in memory), the
  detectors timed in turn on each frame, so that load on the shared machine hits them alike;
- accuracy: the 409 pairs of pairs.csv, and how far each photo's embedding moves from the HOG path's.

    .venv/bin/python benchmarks/bench_detectors.py
    .venv/bin/python benchmarks/bench_detectors.py --blazeface var/models/face_detection_short_range.tflite

The BlazeFace model is optional (face_detection_short_range.tflite from the mediapipe==0.10.21 wheel:
``pip download --no-deps mediapipe==0.10.21`` and unzip that one file); without it its rows are left out.
"""

import argparse
import csv
import io
import itertools
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import dlib  # noqa: E402
import numpy as np  # noqa: E402
from blazeface import BlazeFaceDetector  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402
from support import FACES, OtherCpu, machine_load, pct  # noqa: E402

from faces.detectors import Detection, YuFaceDetector  # noqa: E402
from faces.engine import CHIP_PADDING, CHIP_SIZE, EngineConfig  # noqa: E402
from faces.engine import YUFACE_MIN_SCORE as KIOSK_MIN_SCORE  # noqa: E402

# The default FACES ACCEPT_DISTANCE (attendx/settings/base.py); this script runs without Django.
ACCEPT_DISTANCE = 0.07
SMALL_FACES = (40, 56, 80)
CAMERA = (1280, 720)
KIOSK = (640, 480)
MIN_IOU = 0.3


class EngineHog:
    """dlib's HOG as faces.engine runs it, boxes in the input's pixels."""

    def __init__(self, config: EngineConfig) -> None:
        self.limit = config.detect_max_side
        self.min_score = config.min_detector_score
        self.hog = dlib.get_frontal_face_detector()

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        height, width = rgb.shape[:2]
        scale = min(1.0, self.limit / max(height, width))
        small = resized(rgb, scale) if scale < 1 else rgb
        upsample = 1 if 2 * max(small.shape[:2]) <= self.limit else 0
        rects, scores, _ = self.hog.run(small, upsample, self.min_score)
        found = [
            (tuple(round(v / scale) for v in (r.left(), r.top(), r.right(), r.bottom())), float(s))
            for r, s in zip(rects, scores, strict=True)
        ]
        return sorted(found, key=lambda item: item[0][2] - item[0][0], reverse=True)


@dataclass
class Contender:
    name: str
    detect: Callable[[np.ndarray], list[Detection]]
    timed: bool = True  # variants of another row's detector are only scored for accuracy
    times: dict[str, list[float]] = field(default_factory=lambda: {"kiosk": [], "camera": []})


class Pipeline:
    """The engine's steps after detection, with dlib's own models."""

    def __init__(self, weights: Path) -> None:
        self.predictor = dlib.shape_predictor(str(weights / "shape_predictor_5_face_landmarks.dat"))
        self.resnet = dlib.face_recognition_model_v1(str(weights / "dlib_face_recognition_resnet_model_v1.dat"))

    def chip(self, rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        landmarks = self.predictor(rgb, dlib.rectangle(*box))
        return dlib.get_face_chip(rgb, landmarks, size=CHIP_SIZE, padding=CHIP_PADDING)

    def embed(self, rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        vector = np.asarray(self.resnet.compute_face_descriptor(self.chip(rgb, box)), dtype=np.float64)
        return vector / np.linalg.norm(vector)


def resized(rgb: np.ndarray, scale: float) -> np.ndarray:
    height, width = rgb.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def load_photo(path: Path, max_side: int) -> np.ndarray:
    """The photo as the engine works on it: RGB, at most ``max_side`` px long."""
    with Image.open(path) as image:
        rgb = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    scale = min(1.0, max_side / max(rgb.shape[:2]))
    return np.ascontiguousarray(resized(rgb, scale) if scale < 1 else rgb)


def fitted(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The photo fitted and centred on a black frame, through JPEG q90 as a camera would send it."""
    image = Image.fromarray(rgb)
    image.thumbnail(size)
    frame = Image.new("RGB", size)
    frame.paste(image, ((size[0] - image.width) // 2, (size[1] - image.height) // 2))
    buffer = io.BytesIO()
    frame.save(buffer, "JPEG", quality=90)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB"))


def small_face_frame(rgb: np.ndarray, box, face_px: int) -> tuple[np.ndarray, np.ndarray]:
    """The photo shrunk so its face is ``face_px`` wide, centred on a black 1280x720 frame (cropped around
    the face if still larger); the face's box in the frame."""
    scale = face_px / (box[2] - box[0] + 1)
    small = resized(rgb, scale)
    width, height = CAMERA
    crop_w, crop_h = min(width, small.shape[1]), min(height, small.shape[0])
    face = np.array(box, dtype=np.float64) * scale
    x0 = int(np.clip((face[0] + face[2]) / 2 - crop_w / 2, 0, small.shape[1] - crop_w))
    y0 = int(np.clip((face[1] + face[3]) / 2 - crop_h / 2, 0, small.shape[0] - crop_h))
    left, top = (width - crop_w) // 2, (height - crop_h) // 2
    frame = np.zeros((height, width, 3), np.uint8)
    frame[top : top + crop_h, left : left + crop_w] = small[y0 : y0 + crop_h, x0 : x0 + crop_w]
    return frame, face + np.array([left - x0, top - y0] * 2)


def iou(a, b) -> float:
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def timed_ms(call: Callable, item) -> float:
    start = time.perf_counter()
    call(item)
    return (time.perf_counter() - start) * 1000


def verification(embeddings: dict[str, np.ndarray | None], pairs: list[dict[str, str]], threshold: float) -> dict:
    right = false_accepts = false_rejects = 0
    same, different = [], []
    for pair in pairs:
        a, b = embeddings[pair["file_a"]], embeddings[pair["file_b"]]
        is_same = pair["same_person"] == "yes"
        if a is None or b is None:  # no face found: the photo cannot match
            false_rejects += is_same
            right += not is_same
            continue
        distance = float(1 - a @ b)
        (same if is_same else different).append(distance)
        accepted = distance < threshold
        right += accepted == is_same
        false_accepts += accepted and not is_same
        false_rejects += is_same and not accepted
    return {
        "accuracy": 100 * right / len(pairs),
        "right": right,
        "false_accepts": false_accepts,
        "false_rejects": false_rejects,
        "farthest_same": max(same, default=float("nan")),
        "nearest_different": min(different, default=float("nan")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=130, help="timed calls per detector and frame size")
    parser.add_argument("--data", type=Path, default=FACES)
    parser.add_argument("--deepface-home", default=os.environ.get("DEEPFACE_HOME", str(REPO / "var" / "deepface")))
    parser.add_argument("--blazeface", type=Path, default=REPO / "var" / "models" / "face_detection_short_range.tflite")
    args = parser.parse_args()

    config = EngineConfig(deepface_home=args.deepface_home)
    pipeline = Pipeline(Path(args.deepface_home) / ".deepface" / "weights")
    with open(args.data / "manifest.csv", newline="") as handle:
        manifest = list(csv.DictReader(handle))
    with open(args.data / "pairs.csv", newline="") as handle:
        pairs = list(csv.DictReader(handle))
    photos = {row["file"]: load_photo(args.data / row["file"], config.max_side) for row in manifest}

    hog = EngineHog(config)
    contenders = [
        Contender("dlib HOG (engine)", hog.detect),
        Contender("yuface, 320 px", YuFaceDetector(max_side=320).detect),
        Contender(
            "yuface, 320 px, min score 0.86 (engine, photos and kiosks)",
            YuFaceDetector(max_side=320, min_score=KIOSK_MIN_SCORE).detect,
        ),
        Contender("yuface, 480 px", YuFaceDetector(max_side=480).detect),
        Contender("yuface, 640 px", YuFaceDetector(max_side=640).detect),
    ]
    if args.blazeface.is_file():
        contenders.append(Contender("BlazeFace short-range", BlazeFaceDetector(args.blazeface).detect))
    else:
        print(f"BlazeFace left out: {args.blazeface} is missing\n")
    contenders.append(Contender("yuface, 320 px, raw box", YuFaceDetector(adjust=None).detect, timed=False))
    timed = [c for c in contenders if c.timed]

    singles = [row["file"] for row in manifest if row["faces_in_image"] == "1"]
    empty = [row["file"] for row in manifest if row["faces_in_image"] == "0"]
    groups = ("_group/two_people.jpg", "_group/couple.jpg", "_group/multiface.jpg")
    found = {c.name: {name: c.detect(photos[name]) for name in photos} for c in timed}

    # Small faces: the ground truth is HOG's box on the full photo (one face there).
    truth = {name: found[timed[0].name][name] for name in singles if len(found[timed[0].name][name]) == 1}
    small_frames = [
        (face_px, *small_face_frame(photos[name], truth[name][0][0], face_px))
        for name in truth
        for face_px in SMALL_FACES
    ]

    kiosk_frames = [fitted(photos[name], KIOSK) for name in singles]
    camera_frames = [fitted(photos[name], CAMERA) for name in singles]
    for contender, frame in itertools.product(timed, kiosk_frames + camera_frames):
        contender.detect(frame)  # warm-up pass
    load_before = machine_load()
    with OtherCpu() as other:
        for i in range(args.runs):
            for label, frames in (("kiosk", kiosk_frames), ("camera", camera_frames)):
                for contender in timed:
                    contender.times[label].append(timed_ms(contender.detect, frames[i % len(frames)]))
        # The engine's steps between detection and the network, on HOG's box.
        align_times = []
        for i in range(args.runs):
            frame = kiosk_frames[i % len(kiosk_frames)]
            boxes = hog.detect(frame)
            if boxes:
                start = time.perf_counter()
                pipeline.chip(frame, boxes[0][0])
                align_times.append((time.perf_counter() - start) * 1000)
    load_after = machine_load()

    print(
        f"{len(photos)} photos from {args.data}; {args.runs} timed calls per detector and frame size, "
        f"interleaved; {os.cpu_count()} cores"
    )
    print(f"before timing: {load_before}; after: {load_after}; while timing: {other}\n")
    hog_times = timed[0].times
    print(
        "| detector | single-face photos with exactly one face | group photos (2, 2, 6) | faces on no-face photos "
        "| small faces found 40 / 56 / 80 px (of "
        f"{len(truth)} each) | other boxes on small-face frames | 640x480 p50 ms | p95 ms | 1280x720 p50 ms "
        "| p95 ms | HOG / detector, p50 640x480 | HOG / detector, p50 1280x720 |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for contender in timed:
        results = found[contender.name]
        exact = sum(len(results[name]) == 1 for name in singles)
        per_group = [len(results[name]) for name in groups]
        false_faces = sum(len(results[name]) for name in empty)
        hits, others = dict.fromkeys(SMALL_FACES, 0), 0
        for face_px, frame, face in small_frames:
            boxes = [box for box, _ in contender.detect(frame)]
            matched = [box for box in boxes if iou(box, face) >= MIN_IOU]
            hits[face_px] += bool(matched)
            others += len(boxes) - min(1, len(matched))
        kiosk, camera = contender.times["kiosk"], contender.times["camera"]
        print(
            f"| {contender.name} | {exact}/{len(singles)} | {', '.join(map(str, per_group))} | {false_faces} "
            f"| {' / '.join(str(hits[px]) for px in SMALL_FACES)} | {others} "
            f"| {pct(kiosk, 50):.1f} | {pct(kiosk, 95):.1f} | {pct(camera, 50):.1f} | {pct(camera, 95):.1f} "
            f"| {pct(hog_times['kiosk'], 50) / pct(kiosk, 50):.1f}x "
            f"| {pct(hog_times['camera'], 50) / pct(camera, 50):.1f}x |"
        )
    print(
        "\n5-point landmarks + 150 px chip on the largest face of a 640x480 frame: "
        f"p50 {pct(align_times, 50):.2f} ms, p95 {pct(align_times, 95):.2f} ms"
    )

    # Accuracy through the whole pipeline: each photo's largest face.
    files = sorted({pair["file_a"] for pair in pairs} | {pair["file_b"] for pair in pairs})
    embeddings: dict[str, dict[str, np.ndarray | None]] = {}
    for contender in contenders:
        embeddings[contender.name] = {}
        for name in files:
            boxes = found[contender.name][name] if contender.timed else contender.detect(photos[name])
            embeddings[contender.name][name] = pipeline.embed(photos[name], boxes[0][0]) if boxes else None
    print(
        f"\nVerification on {len(pairs)} pairs ({sum(p['same_person'] == 'yes' for p in pairs)} same person), "
        f"{len(files)} photos, accepted below {ACCEPT_DISTANCE}:\n"
    )
    print(
        "| detector | photos without a face | accuracy | false accepts | false rejects | farthest same person "
        "| nearest different people | distance to the HOG path's embedding: median | p95 | max |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    reference = embeddings[timed[0].name]
    for contender in contenders:
        vectors = embeddings[contender.name]
        score = verification(vectors, pairs, ACCEPT_DISTANCE)
        moved = [
            float(1 - vectors[name] @ reference[name])
            for name in files
            if vectors[name] is not None and reference[name] is not None
        ]
        print(
            f"| {contender.name} | {sum(v is None for v in vectors.values())} "
            f"| {score['accuracy']:.2f}% ({score['right']}/{len(pairs)}) | {score['false_accepts']} "
            f"| {score['false_rejects']} | {score['farthest_same']:.4f} | {score['nearest_different']:.4f} "
            f"| {np.median(moved):.4f} | {pct(moved, 95):.4f} | {max(moved):.4f} |"
        )


if __name__ == "__main__":
    main()
