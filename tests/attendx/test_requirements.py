"""The locks in requirements/locks/ match the ranges in requirements/*.txt they were made from.

Installs use only the locks (scripts/lib.sh, Dockerfile), so a requirement added, removed or narrowed
without running scripts/lock.sh would silently not take effect; these checks fail first, in seconds.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements"
LOCKS = REQUIREMENTS / "locks"
INPUTS = ["base.txt", "local.txt", "production.txt", "tensorflow.txt"]
NO_DEPS_LINE = re.compile(r"^#\s*no-deps:\s*(.+)$")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")
VIA_FILE = re.compile(r"^#\s+(?:via\s+)?-r\s+(\S+)$")


@dataclass
class Pin:
    version: Version
    hashes: list[str] = field(default_factory=list)
    via_files: list[str] = field(default_factory=list)


def direct_requirements(path: Path) -> list[Requirement]:
    """The requirements of one input file and of those it includes with -r."""
    found = []
    for line in path.read_text().splitlines():
        line = line.split(" #")[0].strip()
        if line.startswith("-r"):
            found += direct_requirements(path.parent / line[2:].strip())
        elif line and not line.startswith(("#", "-")):
            found.append(Requirement(line))
    return found


def own_requirement_names(path: Path) -> set[str]:
    """Names required by this file itself, not by the files it includes."""
    lines = (line.split(" #")[0].strip() for line in path.read_text().splitlines())
    return {canonicalize_name(Requirement(line).name) for line in lines if line and not line.startswith(("#", "-"))}


def no_deps_requirements() -> list[Requirement]:
    lines = (REQUIREMENTS / "tensorflow.txt").read_text().splitlines()
    return [Requirement(match[1].strip()) for line in lines if (match := NO_DEPS_LINE.match(line.strip()))]


def read_lock(path: Path) -> dict[str, Pin]:
    pins: dict[str, Pin] = {}
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip().rstrip("\\").strip()
        if match := PIN.match(raw):
            current = pins.setdefault(canonicalize_name(match[1]), Pin(Version(match[2])))
        elif current and line.startswith("--hash="):
            current.hashes.append(line.removeprefix("--hash="))
        elif current and (match := VIA_FILE.match(line)):
            current.via_files.append(match[1])
    return pins


def lock_of(input_name: str) -> dict[str, Pin]:
    path = LOCKS / input_name
    assert path.is_file(), f"{path} is missing: run scripts/lock.sh"
    return read_lock(path)


@pytest.mark.parametrize("input_name", INPUTS)
def test_every_requirement_is_pinned_in_its_lock_inside_its_range(input_name: str) -> None:
    pins = lock_of(input_name)
    for requirement in direct_requirements(REQUIREMENTS / input_name):
        if requirement.marker and not requirement.marker.evaluate():
            continue
        pin = pins.get(canonicalize_name(requirement.name))
        assert pin, f"{requirement} (requirements/{input_name}) is not in its lock: run scripts/lock.sh"
        assert requirement.specifier.contains(pin.version, prereleases=True), (
            f"{requirement.name}=={pin.version} in the lock is outside {requirement} "
            f"(requirements/{input_name}): run scripts/lock.sh"
        )


@pytest.mark.parametrize("input_name", INPUTS)
def test_a_lock_holds_no_requirement_its_inputs_dropped(input_name: str) -> None:
    for name, pin in lock_of(input_name).items():
        for via in pin.via_files:
            assert name in own_requirement_names(REQUIREMENTS.parent / via), (
                f"requirements/locks/{input_name} still installs {name} for {via}, which no longer asks "
                "for it: run scripts/lock.sh"
            )


def test_every_pin_carries_hashes_so_pip_can_check_each_file() -> None:
    for path in sorted(LOCKS.glob("*.txt")):
        for name, pin in read_lock(path).items():
            assert pin.hashes and all(h.startswith("sha256:") for h in pin.hashes), f"{path.name}: {name}"


def test_a_package_has_one_version_in_every_lock_so_locks_install_together() -> None:
    versions: dict[str, dict[str, Version]] = {}
    for path in sorted(LOCKS.glob("*.txt")):
        for name, pin in read_lock(path).items():
            versions.setdefault(name, {})[path.name] = pin.version
    disagreeing = {name: seen for name, seen in versions.items() if len(set(seen.values())) > 1}
    assert not disagreeing, f"run scripts/lock.sh: {disagreeing}"


def test_the_no_deps_packages_are_pinned_and_tensorflow_comes_only_from_tensorflow_cpu() -> None:
    no_deps = read_lock(LOCKS / "tensorflow-no-deps.txt")
    tensorflow = lock_of("tensorflow.txt")
    wanted = no_deps_requirements()
    assert {canonicalize_name(requirement.name) for requirement in wanted} == set(no_deps)
    for requirement in wanted:
        assert requirement.specifier.contains(no_deps[canonicalize_name(requirement.name)].version)
    # tf-keras follows tensorflow-cpu's minor version; the full `tensorflow` wheel must never be installed.
    assert no_deps["tf-keras"].version.release[:2] == tensorflow["tensorflow-cpu"].version.release[:2]
    assert "tensorflow" not in tensorflow and "tensorflow" not in no_deps
