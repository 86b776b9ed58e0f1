"""The wheel: built from a copy of the source tree, unpacked, and imported from outside the checkout.

Checks that the folder mapping (trainer/ -> rnnmcu.trainer, ...) holds in the wheel, that every
sub-package ships, that the firmware C sources and board files ship as package data, that tests/
and bench/ do not ship, and that the console script and dependency pins are declared.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAPPING = {"rnnmcu": "rnnmcu", "rnnmcu.trainer": "trainer", "rnnmcu.codegen": "codegen",
           "rnnmcu.firmware": "firmware", "rnnmcu.boards": "boards"}
# Build artefacts excluded from package data (pyproject exclude-package-data).
BUILD_ARTEFACTS = (".pyc", ".o", ".a", ".elf", ".bin", ".map", ".d")
SOURCE_ITEMS = ["pyproject.toml", "setup.py", "README.md", *MAPPING.values()]


def source_packages() -> list[str]:
    """Every folder with an __init__.py under a mapped root, as a dotted name in the wheel."""
    out = []
    for pkg, folder in MAPPING.items():
        base = ROOT / folder
        if not (base / "__init__.py").is_file():
            continue
        for init in sorted(base.rglob("__init__.py")):
            rel = init.parent.relative_to(base)
            if "__pycache__" in rel.parts or any(not (base / Path(*rel.parts[:i]) / "__init__.py").is_file()
                                                 for i in range(len(rel.parts))):
                continue
            out.append(".".join([pkg, *rel.parts]))
    return out


def data_files(folder: str) -> list[str]:
    """Every file under ``folder`` that must ship: all but hidden paths, caches and build artefacts."""
    base = ROOT / folder
    out = []
    for p in base.rglob("*"):
        rel = p.relative_to(base)
        if (p.is_file() and "__pycache__" not in rel.parts and not any(part.startswith(".") for part in rel.parts)
                and p.suffix not in BUILD_ARTEFACTS):
            out.append(str(rel))
    return sorted(out)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        import setuptools
    except ImportError:
        pytest.fail("setuptools is not installed in this venv: run `make setup`")
    major = int(setuptools.__version__.split(".")[0])
    assert major >= 69, f"setuptools {setuptools.__version__} is too old to build rnnmcu (>= 69): run `make setup`"
    src = tmp_path_factory.mktemp("src")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pio", "*.egg-info", "build", "*.o")
    for item in SOURCE_ITEMS:
        p = ROOT / item
        if p.is_dir():
            shutil.copytree(p, src / item, ignore=ignore)
        elif p.exists():
            shutil.copy2(p, src / item)
    dist = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--disable-pip-version-check",
         "-q", "-w", str(dist), str(src)],
        capture_output=True, text=True, timeout=600, cwd=src)
    assert proc.returncode == 0, f"wheel build failed:\n{proc.stdout}\n{proc.stderr}"
    wheels = list(dist.glob("rnnmcu-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def unpacked(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    return site


def test_wheel_contents(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    tops = {n.split("/")[0] for n in names}
    assert tops == {"rnnmcu", next(t for t in tops if t.endswith(".dist-info"))}, tops
    assert not any(n.startswith(("tests/", "bench/", "rnnmcu/tests/")) for n in names)
    for pkg in source_packages():
        init = pkg.replace(".", "/") + "/__init__.py"
        assert init in names, f"package {pkg} is missing from the wheel"
    fw = data_files("firmware")
    assert any(f.endswith(".c") for f in fw), "firmware/ has no C sources"
    for f in fw:
        assert f"rnnmcu/firmware/{f}" in names, f"firmware/{f} is not shipped"
    boards = data_files("boards")
    assert any(f.endswith(".toml") for f in boards), "boards/ has no board files"
    for f in boards:
        assert f"rnnmcu/boards/{f}" in names, f"boards/{f} is not shipped"
    assert not any(n.endswith(BUILD_ARTEFACTS) for n in names), "build artefacts in the wheel"


def test_wheel_metadata(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        info = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        meta = z.read(info).decode()
        eps = z.read(info.replace("METADATA", "entry_points.txt")).decode()
    assert "rnnmcu = rnnmcu.cli:main" in eps
    assert "Requires-Python: >=3.11" in meta
    for pin in ("numpy<3,>=2", "tensorflow<2.22,>=2.21", "keras<4,>=3.15", "click<9,>=8.1", "pyserial<4,>=3.5",
                "platformio<7,>=6.1", "scons<5,>=4.7"):
        assert f"Requires-Dist: {pin}" in meta, f"{pin} not pinned in METADATA"
    assert "extra == \"dev\"" in meta


def test_import_from_outside_checkout(unpacked: Path, tmp_path: Path) -> None:
    pkgs = source_packages()
    fw = data_files("firmware")
    code = textwrap.dedent(f"""
        import importlib, importlib.resources, os, sys
        site = {str(unpacked)!r}
        from rnnmcu.cli import main
        assert main(["--help"], standalone_mode=False) == 0
        assert "tensorflow" not in sys.modules
        for name in {pkgs!r}:
            m = importlib.import_module(name)
            assert os.path.realpath(m.__file__).startswith(os.path.realpath(site)), (name, m.__file__)
        fw = importlib.resources.files("rnnmcu.firmware")
        for rel in {fw!r}:
            assert fw.joinpath(rel).is_file(), rel
        print("IMPORTED", len({pkgs!r}))
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONPATH"] = str(unpacked)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"IMPORTED {len(pkgs)}" in proc.stdout


def test_editable_install_maps_folders() -> None:
    """The dev venv (make setup) imports every mapped package from its folder in this checkout."""
    code = textwrap.dedent(f"""
        import importlib, os
        for pkg, folder in {MAPPING!r}.items():
            if not os.path.isfile(os.path.join({str(ROOT)!r}, folder, "__init__.py")):
                continue
            m = importlib.import_module(pkg)
            want = os.path.realpath(os.path.join({str(ROOT)!r}, folder))
            got = os.path.realpath(os.path.dirname(m.__file__))
            assert got == want, (pkg, got, want)
        print("OK")
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd="/", env=env)
    assert proc.returncode == 0, ("is rnnmcu installed editable? run `make setup`\n" + proc.stdout + proc.stderr)
