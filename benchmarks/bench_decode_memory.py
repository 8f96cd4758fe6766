"""How much memory does decoding the worst upload we allow add to a worker? Target: at most 150 MB.

For check-in frames (FACES MAX_FRAME_PIXELS) and enrollment photos (MAX_PIXELS), the largest file
the limits let through in each format and mode (PNG RGB, RGBA, 16-bit grey, 16-bit RGBA, palette;
WebP; baseline, progressive and CMYK JPEG) is generated, at most MAX_UPLOAD_BYTES, plus the issue's
6000x6000 PNG. Each file is decoded in a fresh interpreter: once by ``faces.images.decode_photo``
with the settings' limits, once by the baseline the old code amounted to,
``np.asarray(Image.open(file).convert("RGB"))``. Peak RSS added = VmHWM after the decode minus
VmRSS before reading the file, with the peak restarted through /proc/self/clear_refs (Linux).
"""

import argparse
import io
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support import REPO, OtherCpu, machine_load  # noqa: E402

TARGET_MB = 150
SUFFIXES = {"PNG": ".png", "issue": ".png", "WebP": ".webp", "JPEG": ".jpg"}

CHILD = """
import json, sys, time
from pathlib import Path

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024

mode, path, limits = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
import numpy as np
from PIL import Image
from faces.images import ImageRejected, decode_photo

Image.MAX_IMAGE_PIXELS = None if mode == "baseline" else Image.MAX_IMAGE_PIXELS
try:
    Path("/proc/self/clear_refs").write_text("5")
except OSError:
    pass
before = status("VmRSS")
start = time.perf_counter()
data = path.read_bytes()
if mode == "baseline":
    result = list(np.asarray(Image.open(path).convert("RGB")).shape)
else:
    try:
        result = list(decode_photo(data, filename=path.name, **limits).rgb.shape)
    except ImageRejected as error:
        result = error.code
elapsed = (time.perf_counter() - start) * 1000
print(json.dumps({"added_mb": status("VmHWM") - before, "ms": elapsed, "result": result}))
"""


def faces_settings() -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "attendx.settings.base")
    from django.conf import settings

    return settings.FACES


def smooth(side: int, mode: str) -> Image.Image:
    """Smooth synthetic pixels of ``side`` x ``side`` (an alpha ramp for RGBA): big, yet small to store."""
    small = max(2, side // 16)
    y, x = np.mgrid[0:small, 0:small]
    bands = [x * 255 // (small - 1), y * 255 // (small - 1), (x + y) * 255 // (2 * small - 2)]
    if mode == "RGBA":
        bands.append(255 - x * 200 // (small - 1))
    seed = Image.fromarray(np.dstack(bands).astype(np.uint8))
    image = seed.resize((side, side), Image.Resampling.BILINEAR)
    return image.convert(mode) if mode != image.mode else image


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_palette_with_transparency(side: int) -> bytes:
    image = smooth(side, "L")
    image.putpalette([value for grey in range(256) for value in (grey, 255 - grey, grey // 2)])
    return encode(image, "PNG", transparency=bytes(range(256)), compress_level=9)


def png_sixteen_bit_grey(side: int) -> bytes:
    grey = np.asarray(smooth(side, "L"), dtype=np.uint16) * 257
    return encode(Image.fromarray(grey.astype("<u2")), "PNG", compress_level=9)


def png_sixteen_bit_rgba(side: int) -> bytes:
    """Pillow cannot write 16 bits per channel in colour: a minimal PNG writer (colour type 6, depth 16)."""
    pixels = (np.asarray(smooth(side, "RGBA"), dtype=np.uint16) * 257).astype(">u2").reshape(side, side * 4)
    pixels = pixels.view(np.uint8)
    rows = np.hstack([np.zeros((side, 1), dtype=np.uint8), pixels])

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", side, side, 16, 6, 0, 0, 0)
    idat = zlib.compress(rows.tobytes(), 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def side_for(pixels: float) -> int:
    return max(1, math.isqrt(int(pixels)))


def cases(max_pixels: int, budget: int) -> list[tuple[str, int, callable]]:
    """(case, side of the square, bytes maker): the largest each format and mode may be under these limits."""
    full = {"PNG": 4, "PNG 16-bit grey": 2, "PNG palette": 1, "WebP": 16, "JPEG 4:2:0": 3, "JPEG 4:4:4": 6, "CMYK": 8}

    def largest(kind: str) -> int:
        return side_for(min(max_pixels, budget / full[kind]))

    return [
        ("PNG RGB", largest("PNG"), lambda s: encode(smooth(s, "RGB"), "PNG", compress_level=9)),
        ("PNG RGBA (alpha ramp)", largest("PNG"), lambda s: encode(smooth(s, "RGBA"), "PNG", compress_level=9)),
        ("PNG 16-bit grey", largest("PNG 16-bit grey"), png_sixteen_bit_grey),
        ("PNG 16-bit RGBA", largest("PNG"), png_sixteen_bit_rgba),
        ("PNG palette + transparency", largest("PNG palette"), png_palette_with_transparency),
        ("WebP RGB", largest("WebP"), lambda s: encode(smooth(s, "RGB"), "WEBP", quality=80)),
        ("WebP RGBA", largest("WebP"), lambda s: encode(smooth(s, "RGBA"), "WEBP", quality=80)),
        ("JPEG baseline, largest", side_for(max_pixels), lambda s: encode(smooth(s, "RGB"), "JPEG", quality=90)),
        (
            "JPEG baseline, largest draft cannot shrink",
            min(side_for(max_pixels), 2559),
            lambda s: encode(smooth(s, "RGB"), "JPEG", quality=90),
        ),
        (
            "JPEG progressive 4:2:0",
            largest("JPEG 4:2:0"),
            lambda s: encode(smooth(s, "RGB"), "JPEG", quality=90, progressive=True),
        ),
        (
            "JPEG progressive 4:4:4",
            largest("JPEG 4:4:4"),
            lambda s: encode(smooth(s, "RGB"), "JPEG", quality=90, progressive=True, subsampling=0),
        ),
        (
            "JPEG CMYK progressive",
            largest("CMYK"),
            lambda s: encode(smooth(s, "CMYK"), "JPEG", quality=90, progressive=True),
        ),
        ("issue 9: 6000x6000 PNG", 6000, lambda s: encode(Image.new("RGB", (s, s), (200, 180, 160)), "PNG")),
    ]


def measure(mode: str, path: Path, limits: dict) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(path), json.dumps(limits)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"{mode} decode of {path.name} failed:\n{done.stderr}")
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["frame", "photo"], help="measure one kind of upload")
    args = parser.parse_args()
    faces = faces_settings()
    kinds = {"frame": faces["MAX_FRAME_PIXELS"], "photo": faces["MAX_PIXELS"]}
    print(f"Machine: {machine_load()}, Python {sys.version.split()[0]}")
    print(
        f"Limits: MAX_UPLOAD_BYTES {faces['MAX_UPLOAD_BYTES']}, MAX_FRAME_PIXELS {faces['MAX_FRAME_PIXELS']}, "
        f"MAX_PIXELS {faces['MAX_PIXELS']}, MAX_DECODE_BYTES {faces['MAX_DECODE_BYTES']}, MAX_SIDE {faces['MAX_SIDE']}"
    )
    rows, worst = [], 0.0
    with tempfile.TemporaryDirectory(prefix="attendx-decode-") as name, OtherCpu() as others:
        for kind, max_pixels in kinds.items():
            if args.only and kind != args.only:
                continue
            limits = {
                "max_bytes": faces["MAX_UPLOAD_BYTES"],
                "max_pixels": max_pixels,
                "max_decode_bytes": faces["MAX_DECODE_BYTES"],
                "max_side": faces["MAX_SIDE"],
            }
            for case, side, make in cases(max_pixels, faces["MAX_DECODE_BYTES"]):
                path = Path(name) / f"{kind}-{len(rows)}{SUFFIXES[case.split()[0]]}"
                path.write_bytes(make(side))
                size = path.stat().st_size
                if size > faces["MAX_UPLOAD_BYTES"]:
                    raise RuntimeError(f"{case}: {size} bytes is over MAX_UPLOAD_BYTES; make smoother pixels")
                new, old = measure("new", path, limits), measure("baseline", path, limits)
                result = "x".join(map(str, new["result"][:2])) if isinstance(new["result"], list) else new["result"]
                worst = max(worst, new["added_mb"])
                rows.append((kind, case, size, side * side, result, new, old))
                path.unlink()
    print()
    print(
        "| upload | case | bytes | declared pixels | decoded to | peak RSS added MB | decode ms | "
        "baseline MB | baseline ms | baseline / new MB |"
    )
    print("| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for kind, case, size, pixels, result, new, old in rows:
        print(
            f"| {kind} | {case} | {size:,} | {pixels / 1e6:.1f} MP | {result} | {new['added_mb']:.0f} | "
            f"{new['ms']:.0f} | {old['added_mb']:.0f} | {old['ms']:.0f} | {old['added_mb'] / new['added_mb']:.1f}x |"
        )
    print()
    verdict = "met" if worst <= TARGET_MB else "MISSED"
    print(f"Worst peak added: {worst:.0f} MB (target <= {TARGET_MB} MB: {verdict}).")
    print(f"Other processes used {others.cores:.2f} cores on average during the run.")


if __name__ == "__main__":
    main()
