"""The sensor side of the streaming app: the portable IMU drivers against simulated register
maps (host), and the ESP32 sensor entries (Arduino: Wire + hardware timer; ESP-IDF: I2C master
driver + gptimer) compiled with the boards' cross compilers against stand-in framework headers."""
from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import numpy as np
import pytest

from rnnmcu import ir, stream
from rnnmcu.boards import platformio
from rnnmcu.boards.loader import load_board
from rnnmcu.codegen import qmodel, quantize

from codegen_helpers import random_recurrent

REPO = Path(__file__).resolve().parent.parent
STREAM = REPO / "firmware" / "stream"
STUBS = REPO / "tests" / "stubs"
MY_STUBS = REPO / "tests" / "c" / "stream_stubs"


def test_imu_drivers_against_simulated_register_maps(tmp_path):
    exe = tmp_path / "imu"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", "-fsanitize=address,undefined",
                    "-fno-sanitize-recover", f"-I{STREAM}", str(REPO / "tests" / "c" / "stream_imu_fake.c"),
                    str(STREAM / "rnnmcu_imu.c"), "-o", str(exe)], check=True)
    r = subprocess.run([str(exe)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr


@pytest.fixture(scope="module")
def stream_gen(tmp_path_factory) -> Path:
    """The generated model C plus the stream configuration, for an int8 6-channel model."""
    root = tmp_path_factory.mktemp("sgen")
    rng = np.random.default_rng(4)
    m = ir.Model(name="imu6", input_dim=6, layers=[random_recurrent(rng, "gru", 6, 8),
                                                   ir.Dense(W=rng.normal(0, 1, (3, 8)), b=np.zeros(3))],
                 class_names=["idle", "a", "b"])
    q = quantize.quantize(m, rng.normal(0, 1, (2, 20, 6)).astype(np.float32), None, "int8")
    path = root / "imu6.rnnmcu"
    qmodel.save(str(path), m, q)
    opts = stream.StreamOptions(rate_hz=100, idle_class="idle")
    model, qq = stream.load_model(str(path))
    stream.write_sources(model, qq, stream.policy_config(model, qq, opts), opts, str(root / "gen"))
    return root / "gen"


def _defines(proj: Path, board: str) -> list[str]:
    import configparser

    cp = configparser.ConfigParser(interpolation=None)
    cp.read(proj / "platformio.ini")
    flags = cp[f"env:{board}"]["build_flags"]
    return [f for line in flags.splitlines() for f in shlex.split(line) if f.startswith("-D")]


@pytest.mark.parametrize("board,core2", [("esp32", False), ("esp32c3", True)])
def test_arduino_sensor_entry_compile_check(tmp_path, stream_gen, board, core2):
    b = load_board(board)
    proj = platformio.generate_project(board, stream_gen, tmp_path / "p", framework="arduino", app="stream")
    assert (proj / "src" / "board_arduino_stream.cpp").is_file() and not (proj / "src" / "board_arduino.cpp").exists()
    lib = proj / "lib" / "rnnmcu" / "src"
    assert (lib / "rnnmcu_stream_app.c").is_file() and not (lib / "rnnmcu_app.c").exists()
    argv = [b.compile_check.cxx, "-std=gnu++17", "-fno-exceptions", "-fno-rtti", "-Wall", "-Wextra", "-Werror",
            *b.compile_check.flags, f"-I{MY_STUBS / 'arduino'}", f"-I{STUBS / 'arduino'}", f"-I{lib}",
            "-DARDUINO_ARCH_ESP32", *(["-DRNNMCU_STUB_CORE2"] if core2 else []), *_defines(proj, board),
            "-c", str(proj / "src" / "board_arduino_stream.cpp"), "-o", str(tmp_path / "entry.o")]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    syms = subprocess.run([b.compile_check.cc.replace("-gcc", "-nm"), "-C", str(tmp_path / "entry.o")],
                          capture_output=True, text=True, check=True).stdout
    for sym in ("setup()", "loop()", "rnnmcu_imu_probe", "rnnmcu_stream_push", "rnnmcu_stream_quantize",
                "TwoWire::requestFrom", "timerAttachInterrupt"):
        assert sym in syms, sym
    # the runtime, the stream app, the drivers and the model: compile check of the whole project C
    cc = platformio.compile_check(proj, board, tmp_path / "obj")
    names = {o.name for o in cc.objects}
    assert {"rnnmcu__rnnmcu_policy.o", "rnnmcu__rnnmcu_imu.o", "rnnmcu_model__rnnmcu_stream_config.o"} <= names


def test_espidf_sensor_entry_compile_check(tmp_path, stream_gen):
    board = "esp32"
    b = load_board(board)
    proj = platformio.generate_project(board, stream_gen, tmp_path / "p", framework="espidf", app="stream")
    lib = proj / "lib" / "rnnmcu" / "src"
    argv = [b.compile_check.cc, "-std=gnu17", "-Wall", "-Wextra", "-Werror", *b.compile_check.flags,
            f"-I{MY_STUBS / 'espidf'}", f"-I{STUBS / 'espidf'}", f"-I{lib}", *_defines(proj, board),
            "-DCONFIG_ESP_DEFAULT_CPU_FREQ_MHZ=240", "-c", str(proj / "src" / "board_espidf_stream.c"),
            "-o", str(tmp_path / "entry.o")]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    syms = subprocess.run([b.compile_check.cc.replace("-gcc", "-nm"), str(tmp_path / "entry.o")],
                          capture_output=True, text=True, check=True).stdout
    for sym in ("app_main", "i2c_master_write_read_device", "gptimer_set_alarm_action", "ulTaskNotifyTake"):
        assert sym in syms, sym
