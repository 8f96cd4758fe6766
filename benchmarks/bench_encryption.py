"""What does encryption at rest (faces.crypto, MultiFernet) cost when a process loads its gallery?

For N enrolled templates (128 float32 each), the time to turn the stored bytes into the gallery's
matrix: the baseline is what the gallery did before encryption (``np.frombuffer`` of plain bytes), the
measured path is ``FaceSample.vector_from_bytes`` on Fernet tokens (decrypt, then frombuffer), both in
this run. Also the time to encrypt N templates (enrollment, key rotation) and the bytes stored per row.
The gallery is loaded once per process and again only when a sample is added or erased.

    .venv/bin/python benchmarks/bench_encryption.py [--sizes 1000 10000 100000]
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from support import OtherCpu, machine_load  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    args = parser.parse_args()

    from cryptography.fernet import Fernet

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "attendx.settings.test")
    os.environ["FACES_ENCRYPTION_KEYS"] = f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}"
    os.environ.setdefault("TEST_SQLITE_PATH", str(Path(tempfile.gettempdir()) / "bench-encryption.sqlite3"))
    import django

    django.setup()
    from faces import crypto
    from faces.models import FaceSample

    rng = np.random.default_rng(7)
    print(f"# bench_encryption ({machine_load()}); two keys configured, the first encrypts")
    print("| templates | plain bytes -> matrix (s) | tokens -> matrix (s) | ratio | encrypt all (s) | bytes/row |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    with OtherCpu() as other:
        for size in args.sizes:
            vectors = rng.standard_normal((size, 128)).astype("<f4")
            plain = [row.tobytes() for row in vectors]
            started = time.perf_counter()
            tokens = [crypto.encrypt(data) for data in plain]
            encrypt_s = time.perf_counter() - started

            started = time.perf_counter()
            baseline = np.vstack([np.frombuffer(data, dtype="<f4") for data in plain])
            baseline_s = time.perf_counter() - started
            started = time.perf_counter()
            measured = np.vstack([FaceSample.vector_from_bytes(token) for token in tokens])
            measured_s = time.perf_counter() - started

            assert np.array_equal(baseline, measured)
            row = (size, baseline_s, measured_s, measured_s / baseline_s, encrypt_s, len(tokens[0]))
            print("| {:,} | {:.3f} | {:.3f} | {:.1f}x | {:.2f} | {} (plain {}) |".format(*row, len(plain[0])))
    print(f"\nOther processes used {other.cores:.2f} cores on average meanwhile.")


if __name__ == "__main__":
    main()
