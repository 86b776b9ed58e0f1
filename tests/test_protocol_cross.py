"""The firmware app (and the fake model) compile warning-free on every project compiler, and the
app's objects need no division, modulo or floating-point helpers from libgcc (Debian's lx106
libgcc lacks __udivsi3/__umodsi3 and soft-float)."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import protocol_helpers as S  # tests/ is on sys.path under pytest

TARGETS = {
    # id: (compiler key in conftest's c_compilers, nm, flags)
    "gcc": ("gcc", "nm", ["-O2"]),
    "clang": ("clang", "nm", ["-O2"]),
    "cortex-m4f": ("arm", "arm-none-eabi-nm",
                   ["-O2", "-mthumb", "-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"]),
    "cortex-m0": ("arm", "arm-none-eabi-nm", ["-Os", "-mthumb", "-mcpu=cortex-m0"]),
    "rv32imc": ("riscv", "riscv64-unknown-elf-nm", ["-O2", "-march=rv32imc", "-mabi=ilp32", "--specs=picolibc.specs"]),
    "rv32i": ("riscv", "riscv64-unknown-elf-nm", ["-Os", "-march=rv32i", "-mabi=ilp32", "--specs=picolibc.specs"]),
    "lx106": ("xtensa", "xtensa-lx106-elf-nm", ["-O2", "-mlongcalls", "-mtext-section-literals"]),
    "lx106-Os": ("xtensa", "xtensa-lx106-elf-nm", ["-Os", "-mlongcalls"]),
}

# libgcc helpers the app must never need: integer division/modulo and any float/double helper
FORBIDDEN = re.compile(
    r"^_?__(?:u?(?:div|mod)[sdt]i3|udivmod[sd]i4|aeabi_(?:u?idiv(?:mod)?|[fd]\w+|[ui]?[l]?2[fd]|"
    r"uldivmod|ldivmod)|\w*[sd]f\d?|float\w*|fix\w*|extend\w*|trunc\w*)$")


@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("maxp", [4096, 65535], ids=["payload4096", "payload65535"])
def test_app_compiles_clean_without_div_or_float(tmp_path: Path, c_compilers, target: str,
                                                 maxp: int) -> None:
    key, nm, flags = TARGETS[target]
    cc = c_compilers[key]
    assert shutil.which(nm), f"{nm} not installed (it comes with the {key} compiler package)"
    defines = [f"-DRNNMCU_PROTO_MAX_PAYLOAD={maxp}"]
    for src in [*S.app_sources(), S.FAKE_MODEL]:
        obj = tmp_path / (src.stem + ".o")
        S.compile_c(obj, [src], cc=cc, flags=[*flags, *defines, "-c", "-o", str(obj)], link=False)
        if src.parent != S.APP:
            continue  # the fake model is test code; only the app must stay integer-only
        undef = subprocess.run([nm, "-u", str(obj)], capture_output=True, text=True, check=True)
        names = [line.split()[-1] for line in undef.stdout.splitlines() if line.strip()]
        bad = [n for n in names if FORBIDDEN.match(n)]
        assert not bad, f"{src.name} on {target} needs libgcc helpers {bad}"


def test_forbidden_pattern_catches_the_helpers() -> None:
    for name in ["__udivsi3", "__umodsi3", "__divsi3", "__aeabi_uidiv", "__aeabi_idivmod",
                 "__aeabi_fmul", "__addsf3", "__floatsisf", "__fixsfsi", "__muldf3", "__extendsfdf2"]:
        assert FORBIDDEN.match(name), name
    for name in ["memcpy", "memmove", "strlen", "rnnmcu_app_model", "rnnmcu_port_write",
                 "__mulsi3", "rnnmcu_board_info"]:
        assert not FORBIDDEN.match(name), name


def test_app_includes_nothing_board_specific() -> None:
    allowed = {"stddef.h", "stdint.h", "string.h", "rnnmcu_model_iface.h", "rnnmcu_port.h",
               "rnnmcu_trace.h",  # the runtime's TRACE hooks (empty unless a TRACE build)
               "rnnmcu_facts.h"}  # the constants shared with Python (generated from rnnmcu/facts.py)
    for path in sorted(S.APP.glob("*.[ch]")):
        for inc in re.findall(r'#include\s+[<"]([^>"]+)[>"]', path.read_text()):
            assert inc in allowed or (S.APP / inc).exists(), f"{path.name} includes {inc}"
        code = re.sub(r"/\*.*?\*/", "", path.read_text(), flags=re.S)
        assert "float" not in code and "double" not in code, path.name
        assert "malloc" not in code, path.name


def test_host_board_builds_with_clang(tmp_path: Path, c_compilers) -> None:
    exe = S.build_host(tmp_path, cc=c_compilers["clang"])
    res = subprocess.run([str(exe)], input=b"", capture_output=True, timeout=10)
    assert res.returncode == 0 and res.stdout.startswith(b"rnnmcu ready fake 5eed1234\n")
