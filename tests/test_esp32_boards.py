"""The ESP32 family (esp32, esp32s3, esp32c3) and the other real boards (nucleo-f446re, pico):
what can be proven here, without PlatformIO's espressif32/ststm32/raspberrypi platforms.

- every generated real-board project, for each of its frameworks, passes `pio project config`;
- its rnnmcu C (runtime, app, a generated model) compiles with -Werror under the cross compiler
  of the same instruction-set family (`*_compile_check`: object files, never firmware);
- the board entry files compile against the stand-in framework headers in tests/stubs/
  (`*_compile_check`, again never firmware);
- the same project sources run bit-exact on the emulated board of the same arch;
- `rnnmcu build --board esp32` fails within seconds here, with exit code 3, naming the project
  folder and `pio run -e esp32`.
"""
from __future__ import annotations

import configparser
import filecmp
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from rnnmcu import ir
from rnnmcu.boards import platformio
from rnnmcu.boards import provision
from rnnmcu.boards.loader import list_boards, load_board
from rnnmcu.codegen import emit, qmodel, qref, quantize
from rnnmcu.errors import InputError

from boards_fixtures import build_and_launch, fake_gen_dir
from codegen_helpers import random_recurrent, in_dtype

REPO = Path(__file__).resolve().parent.parent
STUBS = REPO / "tests" / "stubs"
ESP32_FAMILY = ("esp32", "esp32s3", "esp32c3")
REAL_BOARDS = ("esp32", "esp32s3", "esp32c3", "nucleo-f446re", "pico")
RNNMCU_EXE = Path(sys.executable).with_name("rnnmcu")
# what the Arduino core of each board defines (PlatformIO passes these; the entry branches on them)
ARDUINO_ARCH = {"esp32": "ARDUINO_ARCH_ESP32", "esp32s3": "ARDUINO_ARCH_ESP32",
                "esp32c3": "ARDUINO_ARCH_ESP32", "nucleo-f446re": "ARDUINO_ARCH_STM32",
                "pico": "ARDUINO_ARCH_RP2040"}
# one precision per board keeps the suite fast and still covers all three (float32 on FPU parts)
PRECISION = {"esp32": "float32", "esp32s3": "int16", "esp32c3": "int8", "nucleo-f446re": "float32",
             "pico": "int8"}


def _model(precision: str):
    rng = np.random.default_rng(11)
    layers = [random_recurrent(rng, "lstm", 3, 8, return_sequences=True),
              random_recurrent(rng, "gru", 8, 6),
              ir.Dense(W=rng.normal(0, 1, (2, 6)), b=np.zeros(2))]
    model = ir.Model(name="tiny", input_dim=3, layers=layers)
    x = rng.normal(0, 1, (4, 12, 3)).astype(np.float32)
    return model, quantize.quantize(model, x, None, precision), x


@pytest.fixture(scope="module")
def gen_dirs(tmp_path_factory) -> dict[str, Path]:
    """precision -> a folder of generated model C (the real emitter, a small LSTM+GRU model)."""
    root = tmp_path_factory.mktemp("gen")
    out = {}
    for precision in ("int8", "int16", "float32"):
        model, q, _ = _model(precision)
        emit.generate(model, q, str(root / precision))
        out[precision] = root / precision
    return out


def _ini(proj: Path) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(interpolation=None)
    cp.read(proj / "platformio.ini")
    return cp


def _defines(proj: Path, board: str) -> list[str]:
    """The -D flags of the generated platformio.ini, as PlatformIO passes them to the compiler."""
    flags = _ini(proj)[f"env:{board}"]["build_flags"]
    return [f for line in flags.splitlines() for f in shlex.split(line) if f.startswith("-D")]


def _board_frameworks() -> list[tuple[str, str]]:
    return [(b, fw) for b in REAL_BOARDS for fw in load_board(b).platformio.frameworks]


# --- board data --------------------------------------------------------------------------------

def test_esp32_family_board_files():
    ids = {"esp32": "esp32dev", "esp32s3": "esp32-s3-devkitc-1", "esp32c3": "esp32-c3-devkitm-1"}
    for name in ESP32_FAMILY:
        b = load_board(name)
        assert b.kind == "real" and b.platformio.platform == "espressif32"
        assert b.platformio.board == ids[name]
        assert b.platformio.frameworks == ("arduino", "espidf") and b.framework == "arduino"
        assert b.uart.baud == 921600 and b.uart.fallback_baud == 115200
        assert b.counter.kind == "cycles" and b.counter.scale == 1
        assert b.platformio.options["board_build.f_cpu"] == f"{b.clock_hz}L"
        assert b.platformio.options["upload_speed"] == "921600"
        assert 0 < b.flash_bytes <= 1572864 and b.ram_bytes == 327680
        assert b.compile_check is not None
    assert load_board("esp32c3").arch == "riscv32" and not load_board("esp32c3").has_fpu
    assert load_board("esp32").arch == load_board("esp32s3").arch == "xtensa"
    assert load_board("nucleo-f446re").platformio.board == "nucleo_f446re"
    pico = load_board("pico")
    assert pico.counter.kind == "none" and "microseconds" in pico.notes  # said, not faked
    assert {b.name for b in list_boards() if b.kind == "real"} == set(REAL_BOARDS)


def test_with_framework_switches_entry_and_refuses_unknown_ones():
    b = load_board("esp32").with_framework("espidf")
    assert b.entry == "espidf" and b.framework == "espidf"
    assert load_board("esp32").with_framework(None).entry == "arduino"
    with pytest.raises(InputError, match="does not build with framework 'espidf'.*arduino"):
        load_board("pico").with_framework("espidf")


# --- generated projects --------------------------------------------------------------------------

def test_every_real_board_project_passes_pio_project_config(tmp_path, gen_dirs):
    projects = {}
    for board, fw in _board_frameworks():
        projects[(board, fw)] = platformio.generate_project(board, gen_dirs["int8"],
                                                            tmp_path / f"{board}-{fw}", framework=fw)
    env = provision.pio_environment()
    procs = {key: subprocess.Popen(platformio.pio_command() + ["project", "config", "-d", str(p),
                                                               "--json-output"],
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for key, p in projects.items()}
    for (board, fw), proc in procs.items():
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, f"{board}/{fw}: {err}"
        config = dict(json.loads(out))
        env_cfg = dict(config[f"env:{board}"])
        b = load_board(board)
        assert dict(config["platformio"])["default_envs"] == [board]
        assert env_cfg["platform"] == b.platformio.platform and env_cfg["board"] == b.platformio.board
        assert env_cfg["framework"] == [fw]
        assert env_cfg["monitor_speed"] == b.uart.baud
        assert env_cfg["lib_deps"] == ["rnnmcu", platformio.MODEL_LIB]
        flags = env_cfg["build_flags"]
        assert "-O2" in flags and "-Ilib/rnnmcu/src" in flags and f"-DRNNMCU_BAUD={b.uart.baud}" in flags
        assert env_cfg["build_src_flags"] == list(platformio.ENTRY_FLAGS)
        if board in ESP32_FAMILY:
            assert env_cfg["upload_speed"] == 921600
            assert env_cfg["board_build.f_cpu"] == f"{b.clock_hz}L"
        assert int(env_cfg["board_upload.maximum_size"]) == b.flash_bytes


def test_framework_project_layout(tmp_path, gen_dirs):
    ard = platformio.generate_project("esp32", gen_dirs["int8"], tmp_path / "ard")
    assert sorted(p.name for p in (ard / "src").iterdir()) == ["board_arduino.cpp"]
    model_lib = ard / "lib" / platformio.MODEL_LIB
    assert json.loads((model_lib / "library.json").read_text())["build"]["flags"] == list(platformio.C_FLAGS)
    assert any("rnnmcu_app_model" in p.read_text() for p in (model_lib / "src").glob("*.c"))
    assert "pio run -e esp32" in (ard / "README.txt").read_text()
    assert not (ard / "CMakeLists.txt").exists()

    idf = platformio.generate_project("esp32s3", gen_dirs["int8"], tmp_path / "idf", framework="espidf",
                                      baud=115200)
    assert sorted(p.name for p in (idf / "src").iterdir()) == ["CMakeLists.txt", "board_espidf.c"]
    top = (idf / "CMakeLists.txt").read_text()
    assert "include($ENV{IDF_PATH}/tools/cmake/project.cmake)" in top and "project(rnnmcu_esp32s3)" in top
    assert "idf_component_register(SRCS ${app_sources})" in (idf / "src" / "CMakeLists.txt").read_text()
    sdk = (idf / "sdkconfig.defaults").read_text().splitlines()
    for line in ("CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ_240=y", "CONFIG_ESP32S3_DEFAULT_CPU_FREQ_240=y",
                 "CONFIG_ESP_CONSOLE_UART_BAUDRATE=115200", "CONFIG_LOG_DEFAULT_LEVEL_NONE=y",
                 "# CONFIG_ESP_TASK_WDT_INIT is not set", "CONFIG_PARTITION_TABLE_SINGLE_APP_LARGE=y",
                 "CONFIG_ESPTOOLPY_FLASHSIZE_8MB=y"):
        assert line in sdk
    cfg = _ini(idf)["env:esp32s3"]
    assert cfg["board_build.partitions"] == platformio.ESPIDF_PARTITIONS
    assert cfg["monitor_speed"] == "115200" and "-DRNNMCU_BAUD=115200" in cfg["build_flags"]
    # switching the framework in place leaves no file of the other one behind
    platformio.generate_project("esp32s3", gen_dirs["int8"], idf, framework="arduino")
    assert not (idf / "CMakeLists.txt").exists() and not (idf / "sdkconfig.defaults").exists()
    assert sorted(p.name for p in (idf / "src").iterdir()) == ["board_arduino.cpp"]


# --- compile checks (object files, never firmware) ---------------------------------------------

@pytest.mark.parametrize("board", REAL_BOARDS)
def test_model_and_runtime_compile_check(tmp_path, gen_dirs, board):
    """The project's rnnmcu C with -std=c99 -Wall -Wextra -Werror under the same-family cross
    compiler (xtensa-lx106 for the Xtensa ESP32s, rv32imc for the C3, arm-none-eabi for ARM)."""
    proj = platformio.generate_project(board, gen_dirs[PRECISION[board]], tmp_path / "p")
    result = platformio.compile_check(proj, board, tmp_path / "obj")
    assert result.compiler == load_board(board).compile_check.cc
    names = {o.name for o in result.objects}
    assert "rnnmcu__rnnmcu_app.o" in names and any(n.startswith(platformio.MODEL_LIB) for n in names)
    assert result.text_bytes > 1000
    machine = subprocess.run([result.compiler.replace("-gcc", "-readelf"), "-h", str(result.objects[0])],
                             capture_output=True, text=True, check=True).stdout
    assert {"xtensa": "Tensilica Xtensa", "riscv32": "RISC-V", "arm": "ARM"}[load_board(board).arch] in machine


def _compile(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("board", REAL_BOARDS)
def test_arduino_entry_compile_check(tmp_path, board):
    """board_arduino.cpp with the board's cross g++ against tests/stubs/arduino, with the -D
    flags of the generated platformio.ini.  A compile check, not firmware."""
    b = load_board(board)
    proj = platformio.generate_project(board, fake_gen_dir(tmp_path / "gen"), tmp_path / "p",
                                       framework="arduino")
    argv = [b.compile_check.cxx, "-std=gnu++17", "-fno-exceptions", "-fno-rtti", "-Wall", "-Wextra",
            "-Werror", *b.compile_check.flags, f"-I{STUBS / 'arduino'}",
            f"-I{proj / 'lib' / 'rnnmcu' / 'src'}", f"-D{ARDUINO_ARCH[board]}", *_defines(proj, board),
            "-c", str(proj / "src" / "board_arduino.cpp"), "-o", str(tmp_path / "entry.o")]
    r = _compile(argv)
    assert r.returncode == 0, r.stderr
    symbols = subprocess.run([b.compile_check.cc.replace("-gcc", "-nm"), "-C", str(tmp_path / "entry.o")],
                             capture_output=True, text=True, check=True).stdout
    for sym in ("setup()", "loop()", "rnnmcu_board_info", "rnnmcu_port_write", "rnnmcu_port_counter"):
        assert sym in symbols, sym


@pytest.mark.parametrize("board", ESP32_FAMILY)
def test_espidf_entry_compile_check(tmp_path, board):
    """board_espidf.c with the board's cross gcc against tests/stubs/espidf (ESP-IDF v5 API),
    with the -D flags of platformio.ini and the CPU clock of the generated sdkconfig.defaults."""
    b = load_board(board)
    proj = platformio.generate_project(board, fake_gen_dir(tmp_path / "gen"), tmp_path / "p",
                                       framework="espidf")
    sdk = dict(line.split("=", 1) for line in (proj / "sdkconfig.defaults").read_text().splitlines()
               if line.startswith("CONFIG_"))
    mhz = next(k.rsplit("_", 1)[1] for k in sdk if k.startswith("CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ_"))
    assert int(mhz) * 1_000_000 == b.clock_hz
    argv = [b.compile_check.cc, "-std=gnu17", "-Wall", "-Wextra", "-Werror", *b.compile_check.flags,
            f"-I{STUBS / 'espidf'}", f"-I{proj / 'lib' / 'rnnmcu' / 'src'}", *_defines(proj, board),
            f"-DCONFIG_ESP_DEFAULT_CPU_FREQ_MHZ={mhz}", "-c", str(proj / "src" / "board_espidf.c"),
            "-o", str(tmp_path / "entry.o")]
    r = _compile(argv)
    assert r.returncode == 0, r.stderr
    symbols = subprocess.run([b.compile_check.cc.replace("-gcc", "-nm"), str(tmp_path / "entry.o")],
                             capture_output=True, text=True, check=True).stdout
    for sym in ("app_main", "rnnmcu_board_info", "uart_driver_install", "esp_cpu_get_cycle_count"):
        assert sym in symbols, sym


def test_pico_entry_refuses_to_claim_a_cycle_counter_compile_check(tmp_path):
    """The M0+ has no cycle counter: a board file that says 'cycles' does not compile."""
    b = load_board("pico")
    proj = platformio.generate_project("pico", fake_gen_dir(tmp_path / "gen"), tmp_path / "p")
    defines = [d for d in _defines(proj, "pico") if not d.startswith("-DRNNMCU_COUNTER_KIND")]
    r = _compile([b.compile_check.cxx, "-std=gnu++17", *b.compile_check.flags, f"-I{STUBS / 'arduino'}",
                  f"-I{proj / 'lib' / 'rnnmcu' / 'src'}", "-DARDUINO_ARCH_RP2040", *defines,
                  "-DRNNMCU_COUNTER_KIND=1", "-fsyntax-only", str(proj / "src" / "board_arduino.cpp")])
    assert r.returncode != 0 and "has no cycle counter" in r.stderr


# --- the same app on the emulated board of the same arch ----------------------------------------

def _same_sources(real_proj: Path, emu_proj: Path, gen: Path) -> None:
    runtime = sorted(p.name for p in (real_proj / "lib" / "rnnmcu" / "src").glob("*.[ch]"))
    match, mismatch, errors = filecmp.cmpfiles(real_proj / "lib" / "rnnmcu" / "src",
                                               emu_proj / "lib" / "rnnmcu" / "src", runtime, shallow=False)
    assert not mismatch and not errors and match == runtime
    models = sorted(p.name for p in gen.iterdir())
    match, mismatch, errors = filecmp.cmpfiles(real_proj / "lib" / platformio.MODEL_LIB / "src",
                                               emu_proj / "src", models, shallow=False)
    assert not mismatch and not errors and match == models


@pytest.mark.emulator
def test_c3_project_sources_run_bit_exact_on_qemu_rv32(tmp_path, gen_dirs):
    """ESP32-C3 and qemu-rv32 share the RV32IMC instruction set: the C3 project's runtime, app
    and model are byte for byte the sources the emulated board builds and runs, bit-exact."""
    gen = gen_dirs["int8"]
    _same_sources(platformio.generate_project("esp32c3", gen, tmp_path / "c3"),
                  platformio.generate_project("qemu-rv32", gen, tmp_path / "rv32"), gen)
    model, q, x = _model("int8")
    xq = qref.quantize_inputs(q, x)
    expected = qref.forward(q, xq, None)
    with build_and_launch("qemu-rv32", gen, tmp_path) as (dev, _result):
        info = dev.sync()
        assert info.model_hash == q.hash32 and info.board == "qemu-rv32"
        for i in range(len(xq)):
            got = dev.run(xq[i].astype(in_dtype(q)))
            np.testing.assert_array_equal(np.asarray(got).reshape(-1), expected[i].reshape(-1))


@pytest.mark.emulator
def test_esp32_project_app_runs_on_qemu_lx106(tmp_path):
    """ESP32/ESP32-S3 and qemu-lx106 are Xtensa: the same app and runtime sources answer the
    protocol on the emulated LX106.  (With the protocol test model: a generated integer model
    does not link there yet, Debian's lx106 libgcc lacks __muldi3 and the qemu-lx106 entry
    does not provide it.  Its C compiles for Xtensa: test_model_and_runtime_compile_check.)"""
    gen = fake_gen_dir(tmp_path / "gen")
    _same_sources(platformio.generate_project("esp32", gen, tmp_path / "esp32"),
                  platformio.generate_project("qemu-lx106", gen, tmp_path / "lx106"), gen)
    with build_and_launch("qemu-lx106", gen, tmp_path) as (dev, _result):
        info = dev.sync()
        assert info.board == "qemu-lx106" and info.model_name == "fake"
        dev.reset()


# --- rnnmcu build offline ----------------------------------------------------------------------

def _offline_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, RNNMCU_PIO_CORE=str(tmp_path / "core"))
    if platformio.registry_unreachable() is None:  # online machine: prove the offline path anyway
        env["RNNMCU_OFFLINE"] = "1"
    return env


def test_rnnmcu_build_esp32_offline_fails_fast_with_exit_3(tmp_path):
    model, q, _ = _model("int8")
    mpath = tmp_path / "m.rnnmcu"
    qmodel.save(str(mpath), model, q)
    out = tmp_path / "fw-esp32"
    r = subprocess.run([str(RNNMCU_EXE), "build", "--board", "esp32", "--model", str(mpath), "-o", str(out)],
                       env=_offline_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert r.returncode == 3, r.stderr
    assert str(out) in r.stderr and "pio run -e esp32" in r.stderr and "online" in r.stderr
    assert r.stdout == ""  # no success line for a build that was not done
    assert (out / "platformio.ini").is_file() and not (out / ".pio").exists()


def test_rnnmcu_build_espidf_framework_offline_writes_the_idf_project(tmp_path, monkeypatch):
    from rnnmcu.cli import main

    model, q, _ = _model("int16")
    mpath = tmp_path / "m.rnnmcu"
    qmodel.save(str(mpath), model, q)
    for k, v in _offline_env(tmp_path).items():
        monkeypatch.setenv(k, v)
    out = tmp_path / "fw"
    r = CliRunner().invoke(main, ["build", "--board", "esp32c3", "--framework", "espidf", "--baud", "115200",
                                  "--model", str(mpath), "-o", str(out)])
    assert r.exit_code == 3
    assert "pio run -e esp32c3" in r.output and str(out) in r.output
    assert (out / "src" / "board_espidf.c").is_file() and (out / "CMakeLists.txt").is_file()
    assert "CONFIG_ESP_CONSOLE_UART_BAUDRATE=115200" in (out / "sdkconfig.defaults").read_text()
    r = CliRunner().invoke(main, ["build", "--board", "pico", "--framework", "espidf",
                                  "--model", str(mpath), "-o", str(tmp_path / "p")])
    assert r.exit_code == 2 and "does not build with framework 'espidf'" in r.output


def test_flash_finds_the_board_from_the_project_and_fails_fast_offline(tmp_path, monkeypatch):
    from rnnmcu.cli import board as board_cli
    from rnnmcu.errors import ToolchainError

    for k, v in _offline_env(tmp_path).items():
        monkeypatch.setenv(k, v)
    proj = platformio.generate_project("esp32s3", fake_gen_dir(tmp_path / "gen"), tmp_path / "p")
    assert board_cli.project_board(proj) == "esp32s3"
    ran = []  # fails fast: `pio run -t upload` (which would retry the registry) is never started
    monkeypatch.setattr(platformio.subprocess, "run", lambda *a, **k: ran.append(a))
    with pytest.raises(ToolchainError) as exc:
        board_cli.flash_firmware(None, "/dev/ttyUSB0", proj)
    assert ran == []
    assert "pio run -e esp32s3 -t upload --upload-port /dev/ttyUSB0" in str(exc.value)
