"""Write a HIL report (the dict from runner.run_hil) as JSON and as JUnit XML, atomically
(``write_json(path, report)``, ``write_junit(path, report)``):
a temporary file beside the target, then os.replace, so no half-written report is ever left."""
from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from rnnmcu.atomic import atomic_file
from rnnmcu.errors import InputError


def _check_args(path: object, report: object) -> None:
    if not isinstance(report, dict) or not isinstance(path, (str, os.PathLike)):
        raise TypeError("call write_json/write_junit(path, report): the path comes first, then the "
                        "report dict from run_hil")


def _atomic_write(path: str | os.PathLike[str], data: bytes) -> Path:
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"cannot write {target}: folder {parent} does not exist",
                         "create the folder first or choose another path")
    if target.is_dir():
        raise InputError(f"cannot write {target}: it is a folder", "give a file name")
    try:
        with atomic_file(target, "wb") as fh:
            fh.write(data)
    except PermissionError as exc:
        raise InputError(f"cannot write {target}: {exc}", "choose a writable folder") from exc
    return target


def _json_default(v: Any) -> Any:
    if hasattr(v, "item"):
        return v.item()
    if hasattr(v, "tolist"):
        return v.tolist()
    raise TypeError(f"{type(v).__name__} is not JSON serialisable")


def report_json(report: dict) -> str:
    return json.dumps(report, indent=2, default=_json_default, allow_nan=False) + "\n"


def write_json(path: str | os.PathLike[str], report: dict) -> Path:
    """Write ``report`` as indented JSON to ``path`` (atomically)."""
    _check_args(path, report)
    return _atomic_write(path, report_json(report).encode("utf-8"))


def _mismatch_line(m: dict) -> str:
    return (f"{m['phase']} pass, step {m['step']}, output {m['index']}: expected {m['expected']}, "
            f"got {m['got']}")


def report_junit(report: dict) -> bytes:
    dev = report.get("device", {})
    seqs = report.get("sequences", [])
    failures = sum(1 for s in seqs if not s["passed"])
    total_time = f"{report.get('summary', {}).get('elapsed_s', 0.0):.6f}"
    root = ET.Element("testsuites", name=report.get("suite", "rnnmcu-hil"), tests=str(len(seqs)),
                      failures=str(failures), errors="0", time=total_time)
    suite = ET.SubElement(root, "testsuite", name=report.get("suite", "rnnmcu-hil"),
                          tests=str(len(seqs)), failures=str(failures), errors="0", skipped="0",
                          time=total_time)
    props = ET.SubElement(suite, "properties")
    for key in ("model_name", "board", "model_hash_hex", "precision_name", "counter_kind_name",
                "build_info"):
        if key in dev:
            ET.SubElement(props, "property", name=key, value=str(dev[key]))
    classname = f"{report.get('suite', 'rnnmcu-hil')}.{dev.get('board', 'device')}"
    for s in seqs:
        case = ET.SubElement(suite, "testcase", classname=classname, name=s["name"],
                             time=f"{s.get('time_s', 0.0):.6f}")
        if not s["passed"]:
            shown = s.get("mismatches", [])
            total = s.get("mismatches_total", len(shown))
            first = shown[0] if shown else None
            msg = f"{total} output values differ from the reference"
            if first:
                msg += f"; first: {_mismatch_line(first)}"
            fail = ET.SubElement(case, "failure", type="mismatch", message=msg)
            lines = [_mismatch_line(m) for m in shown]
            if total > len(shown):
                lines.append(f"... {total - len(shown)} more")
            fail.text = "\n".join(lines)
        out = [f"length {s['length']}", f"step: {s.get('step')}", f"run: {s.get('run')}"]
        if s.get("bench"):
            out.append(f"bench: {s['bench']}")
        ET.SubElement(case, "system-out").text = "\n".join(out)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_junit(path: str | os.PathLike[str], report: dict) -> Path:
    """Write ``report`` as JUnit XML (one testcase per sequence) to ``path`` (atomically)."""
    _check_args(path, report)
    return _atomic_write(path, report_junit(report))
