"""Package discovery for rnnmcu's folder mapping; all other metadata is in pyproject.toml.

Each top-level folder maps to a sub-package of ``rnnmcu``.  Every folder below a mapped root that
holds an ``__init__.py`` becomes a package, so sub-packages added later ship without editing this
file.  Folders without ``__init__.py`` (C sources, board data) ship as package data instead.
"""
from __future__ import annotations

import os

from setuptools import setup

ROOTS = {
    "rnnmcu": "rnnmcu",
    "rnnmcu.trainer": "trainer",
    "rnnmcu.codegen": "codegen",
    "rnnmcu.firmware": "firmware",
    "rnnmcu.boards": "boards",
}


def discover(roots: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    here = os.path.dirname(os.path.abspath(__file__))
    packages: list[str] = []
    package_dir: dict[str, str] = {}
    for name, folder in roots.items():
        base = os.path.join(here, folder)
        if not os.path.isfile(os.path.join(base, "__init__.py")):
            continue  # a part that has not landed yet
        package_dir[name] = folder
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
            if "__init__.py" not in filenames:
                dirnames[:] = []  # a data folder: nothing below it is a package
                continue
            rel = os.path.relpath(dirpath, base)
            packages.append(name if rel == "." else name + "." + rel.replace(os.sep, "."))
    return packages, package_dir


PACKAGES, PACKAGE_DIR = discover(ROOTS)

setup(packages=PACKAGES, package_dir=PACKAGE_DIR)
