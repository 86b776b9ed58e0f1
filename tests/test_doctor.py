"""`rnnmcu doctor` on this machine: the cross compilers and QEMU are found, the PlatformIO
platforms of the real boards are missing (no internet) with the next step named, and every
board's readiness is in the one table."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from rnnmcu.boards.loader import list_boards

RNNMCU_EXE = Path(sys.executable).with_name("rnnmcu")
CROSS = ("arm-none-eabi-gcc", "riscv64-unknown-elf-gcc", "xtensa-lx106-elf-gcc",
         "arm-none-eabi-g++", "riscv64-unknown-elf-g++", "xtensa-lx106-elf-g++")
QEMU = ("qemu-system-arm", "qemu-system-riscv32", "qemu-system-xtensa")


def _doctor(*args: str) -> str:
    r = subprocess.run([str(RNNMCU_EXE), "doctor", *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _rows(text: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(what, name) -> (status, details) from the table."""
    lines = text.splitlines()
    header, rule = lines[0], lines[1]
    starts = [i for i, c in enumerate(rule) if c == "-" and (i == 0 or rule[i - 1] == " ")]
    assert [header[s:].split("  ")[0].strip() for s in starts] == ["what", "name", "status",
                                                                    "details / next step"]
    rows = {}
    for line in lines[2:]:
        cells = [line[a:b].strip() for a, b in zip(starts, starts[1:] + [len(line)])]
        rows[(cells[0], cells[1])] = (cells[2], cells[3])
    return rows


def test_doctor_table_lists_tools_platforms_and_every_board():
    rows = _rows(_doctor())
    assert rows[("platformio", "platformio")][0] == "ok"
    for cc in CROSS:
        status, detail = rows[("compiler", cc)]
        assert status == "ok" and "12." in detail, (cc, detail)
    for qemu in QEMU:
        status, detail = rows[("emulator", qemu)]
        assert status == "ok" and "QEMU emulator version" in detail
    assert rows[("platform", "rnnmcu-emu")][0] == "ok"
    status, detail = rows[("platform", "espressif32")]
    assert status == "MISSING"
    assert "pio pkg install -g -p espressif32" in detail and "esp32, esp32c3, esp32s3" in detail
    assert any(what == "serial port" for what, _ in rows)
    for b in list_boards():
        status, detail = rows[(f"board ({b.kind})", b.name)]
        if b.kind == "real":
            assert status == "NOT READY" and "MISSING PlatformIO platform" in detail
            assert f"offline compile check ({b.compile_check.cc}): available" in detail
            assert f"pio run -e {b.name}" in detail
        else:
            assert status == "ready", (b.name, detail)


def test_doctor_json_for_scripts():
    report = json.loads(_doctor("--json"))
    assert set(report) == {"platformio", "platforms", "tools", "serial_ports", "boards"}
    for tool in CROSS + QEMU:
        assert report["tools"][tool]["path"], tool
    assert report["tools"]["qemu-system-xtensa"]["kind"] == "emulator"
    assert report["tools"]["xtensa-lx106-elf-gcc"]["kind"] == "compiler"
    assert "esp32 (compile check)" in report["tools"]["xtensa-lx106-elf-gcc"]["boards"]
    esp = report["platforms"]["espressif32"]
    assert not esp["installed"] and esp["boards"] == ["esp32", "esp32c3", "esp32s3"]
    assert "pio pkg install -g -p espressif32" in esp["next"]
    assert "espressif32" not in report["platformio"]["platforms"]
    boards = report["boards"]
    assert {b.name for b in list_boards()} == set(boards)
    for name in ("host", "qemu-m4", "qemu-rv32", "qemu-lx106"):
        assert boards[name]["ready"] and not boards[name]["missing"]
    for name in ("esp32", "esp32s3", "esp32c3"):
        b = boards[name]
        assert not b["ready"] and b["missing"] == ["PlatformIO platform espressif32"]
        assert b["frameworks"] == ["arduino", "espidf"] and b["compile_check"]["ready"]
    assert boards["esp32c3"]["compile_check"]["compiler"] == "riscv64-unknown-elf-gcc"
