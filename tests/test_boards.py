"""Board registry, dev platform data, provisioning, project generation and the board commands
(no emulator here: see test_emulator_boards.py)."""
from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from rnnmcu import target
from rnnmcu.boards import emulator, platformio
from rnnmcu.cli import board as board_cli
from rnnmcu.boards import loader, provision
from rnnmcu.boards.loader import list_boards, load_board, load_board_file
from rnnmcu.errors import InputError, ToolchainError
from rnnmcu.hil import Device, open_transport

from boards_fixtures import EMULATED_BOARDS, fake_firmware, fake_gen_dir  # noqa: F401

GOOD = (Path(loader.__file__).parent / "qemu-m4.toml").read_text()


def write_board(tmp_path: Path, text: str, name: str = "qemu-m4") -> Path:
    p = tmp_path / f"{name}.toml"
    p.write_text(text)
    return p


def test_every_board_loads_with_its_entry_files():
    boards = list_boards()
    names = [b.name for b in boards]
    assert len(names) == len(set(names))
    assert {"host", *EMULATED_BOARDS} <= set(names)
    fw = platformio.firmware_root()
    for b in boards:
        assert (fw / "boards" / b.entry).is_dir(), b.name
        if b.emulated:
            assert b.emulator is not None and b.counter.kind == "instructions"
            assert b.flash_bytes > 0 and b.ram_bytes > 0


def test_dev_platform_board_json_agrees_with_the_board_files():
    pdir = loader.platform_dir()
    manifest = json.loads((pdir / "platform.json").read_text())
    assert manifest["name"] == loader.DEV_PLATFORM and manifest["version"]
    for name in EMULATED_BOARDS:
        b = load_board(name)
        bj = json.loads((pdir / "boards" / f"{b.platformio.board}.json").read_text())
        assert bj["build"]["cpu_flags"] == list(b.cpu_flags), name
        assert bj["upload"]["maximum_size"] == b.flash_bytes, name
        assert bj["upload"]["maximum_ram_size"] == b.ram_bytes, name
        assert (platformio.firmware_root() / "boards" / b.entry / bj["build"]["ldscript"]).is_file()


@pytest.mark.parametrize("edit, key", [
    (lambda t: t.replace('arch = "arm"', 'arch = "arm"\narhc = "x"'), "arhc"),
    (lambda t: t.replace("clock_hz = 25000000", 'clock_hz = "fast"'), "clock_hz"),
    (lambda t: t.replace('kind = "instructions"', 'kind = "ticks"'), "counter.kind"),
    (lambda t: t.replace("flash_bytes = 1048576\n", ""), "budget.flash_bytes"),
    (lambda t: t.replace('"-kernel", "{firmware}"', '"-kernel", "fw.elf"'), "emulator.command"),
    (lambda t: t.replace('name = "qemu-m4"', 'name = "other"'), "name"),
    (lambda t: t.replace("has_fpu = true", "has_fpu = 1"), "has_fpu"),
    (lambda t: t.replace('platform = "rnnmcu-emu"', 'platform = "ststm32"'), "platformio.platform"),
])
def test_schema_errors_name_the_file_and_the_key(tmp_path, edit, key):
    path = write_board(tmp_path, edit(GOOD))
    with pytest.raises(InputError) as exc:
        load_board_file(path)
    assert str(path) in exc.value.message and f"'{key}'" in exc.value.message


def test_broken_toml_and_unknown_board_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="not valid TOML"):
        load_board_file(write_board(tmp_path, "name = [\n"))
    with pytest.raises(InputError, match="unknown board 'nope'") as exc:
        load_board("nope")
    assert "qemu-m4" in exc.value.hint
    assert exc.value.exit_code == 2


def test_provision_is_idempotent_and_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNMCU_PIO_CORE", str(tmp_path / "core"))
    core = provision.provision()
    pkg = core / "packages" / "tool-scons"
    piopm = json.loads((pkg / ".piopm").read_text())
    assert piopm["spec"]["owner"] == "platformio" and piopm["name"] == "tool-scons"
    assert (pkg / "scons.py").is_file()
    before = {p.name: p.stat().st_mtime_ns for p in pkg.iterdir()}
    assert provision.provision() == core  # the second run checks and writes nothing
    assert {p.name: p.stat().st_mtime_ns for p in pkg.iterdir()} == before
    env = provision.pio_environment({})
    assert env["PLATFORMIO_CORE_DIR"] == str(core)
    assert env["PLATFORMIO_SETTING_ENABLE_TELEMETRY"] == "No"
    assert env["PLATFORMIO_DISABLE_UPGRADE_CHECK"] == "true"


def test_generated_project_is_complete_and_parsed_by_platformio(tmp_path):
    gen = fake_gen_dir(tmp_path / "gen")
    proj = platformio.generate_project("qemu-rv32", gen, tmp_path / "proj")
    assert sorted(p.name for p in (proj / "src").iterdir()) == [
        "board_qemu_rv32.c", "board_qemu_rv32.ld", "fake_model.c"]
    lib = proj / "lib" / "rnnmcu"
    assert json.loads((lib / "library.json").read_text())["name"] == "rnnmcu"
    assert (lib / "src" / "rnnmcu_app.c").is_file() and (lib / "src" / "rnnmcu_port.h").is_file()
    ini = (proj / "platformio.ini").read_text()
    assert f"platform = symlink://{loader.platform_dir().resolve()}" in ini
    for flag in ("-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", "-march=rv32imc_zicsr"):
        assert flag in ini
    r = subprocess.run(platformio.pio_command() + ["project", "config", "-d", str(proj), "--json-output"],
                       env=provision.pio_environment(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    config = dict(json.loads(r.stdout))
    assert dict(config["env:qemu-rv32"])["board"] == "rnnmcu_qemu_rv32"


def test_project_generation_errors_leave_nothing_half_written(tmp_path):
    out = tmp_path / "proj"
    with pytest.raises(InputError, match="does not exist"):
        platformio.generate_project("qemu-m4", tmp_path / "missing", out)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no generated C files"):
        platformio.generate_project("qemu-m4", empty, out)
    (empty / "x.c").write_text("int x;\n")
    with pytest.raises(InputError, match="rnnmcu_app_model"):
        platformio.generate_project("qemu-m4", empty, out)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [empty]  # no staging folder left behind


def test_real_board_without_its_platform_fails_fast_naming_the_project(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNMCU_PIO_CORE", str(tmp_path / "core"))
    if platformio.registry_unreachable() is None:  # online: test the offline path all the same
        monkeypatch.setenv("RNNMCU_OFFLINE", "1")
    proj = platformio.generate_project("esp32", fake_gen_dir(tmp_path / "gen"), tmp_path / "p")
    ini = (proj / "platformio.ini").read_text()
    assert "platform = espressif32" in ini and "framework = arduino" in ini
    assert "-DRNNMCU_BOARD_NAME=\\\"esp32\\\"" not in ini  # quoted once, for PlatformIO
    ran = []  # fails fast: `pio run` (which retries a dead registry for a minute) is never started
    with monkeypatch.context() as m:
        m.setattr(platformio.subprocess, "run", lambda *a, **k: ran.append(a))
        with pytest.raises(ToolchainError) as exc:
            platformio.build(proj, "esp32")
    assert ran == []
    assert str(proj) in str(exc.value) and "pio run -e esp32" in str(exc.value)
    assert exc.value.exit_code == 3
    with pytest.raises(ToolchainError, match="espressif32"):
        board_cli.flash_firmware("esp32", "/dev/ttyUSB0", proj)


def test_flash_refuses_emulated_and_host_boards(tmp_path):
    for name in ("qemu-m4", "host"):
        with pytest.raises(InputError, match="nothing to flash"):
            board_cli.flash_firmware(name, "/dev/ttyUSB0", tmp_path)


def test_host_board_builds_natively_and_answers_over_spawn(tmp_path):
    gen = fake_gen_dir(tmp_path / "gen")
    proj = platformio.generate_project("host", gen, tmp_path / "proj")
    assert not (proj / "platformio.ini").exists()
    result = platformio.build(proj, "host")
    assert result.firmware_path.is_file() and result.flash_bytes > 0
    with Device(open_transport(platformio.transport_url(result))) as dev:
        info = dev.sync()
        assert info.board == "host" and info.model_name == "fake"


def test_missing_qemu_names_the_debian_package(tmp_path):
    b = load_board("qemu-rv32")
    fake = dataclasses.replace(b, emulator=dataclasses.replace(
        b.emulator, command=("qemu-system-doesnotexist",) + b.emulator.command[1:]))
    fw = tmp_path / "fw.elf"
    fw.write_bytes(b"\x7fELF")
    with pytest.raises(ToolchainError, match="apt-get install qemu-system-misc") as exc:
        with emulator.launch(fake, fw):
            pass
    assert exc.value.exit_code == 3


def test_qemu_exiting_early_shows_its_message(tmp_path):
    bad = tmp_path / "garbage.elf"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(InputError, match="not an ELF file"):
        with emulator.launch(load_board("qemu-m4"), bad):
            pass
    # an ELF for another machine: QEMU refuses it once the link is opened
    wrong = Path("/bin/true").resolve()
    with pytest.raises(ToolchainError, match="exited") as exc:
        with emulator.launch(load_board("qemu-m4"), wrong) as url:
            with Device(open_transport(url), timeout=0.5) as dev:
                dev.sync(attempts=2)
    assert "Lockup" in str(exc.value)  # QEMU's own words


def test_boards_command_table_and_json():
    runner = CliRunner()
    r = runner.invoke(board_cli.boards, [])
    assert r.exit_code == 0
    assert "qemu-m4" in r.output and "instructions/40" in r.output
    r = runner.invoke(board_cli.boards, ["--json"])
    rows = json.loads(r.output)
    assert {row["name"] for row in rows} >= set(EMULATED_BOARDS)


def test_doctor_reports_emulated_boards_ready():
    report = board_cli.doctor_report()
    for name in EMULATED_BOARDS:
        assert report["boards"][name]["ready"], report["boards"][name]
    assert not report["boards"]["esp32"]["ready"] or "espressif32" in report["platformio"]["platforms"]
    assert "qemu-m4" in board_cli.doctor_text(report)


def test_a_firmware_over_budget_is_a_clear_input_error(tmp_path):
    b = dataclasses.replace(load_board("qemu-lx106"), ram_bytes=1000)
    with pytest.raises(InputError, match="does not fit qemu-lx106: RAM 16,436 bytes > budget 1,000") as exc:
        platformio._check_fit(b, 4000, 16436, tmp_path / "firmware.elf")
    assert "smaller model" in exc.value.hint
    platformio._check_fit(load_board("qemu-lx106"), 4000, 16436, tmp_path / "firmware.elf")


def test_elf_sizes_match_the_size_tool(tmp_path, fake_firmware):
    result = fake_firmware("qemu-m4")
    out = subprocess.run(["arm-none-eabi-size", "-B", "-d", str(result.firmware_path)],
                         capture_output=True, text=True, check=True).stdout.splitlines()[1].split()
    text, data, bss = (int(v) for v in out[:3])
    assert (result.flash_bytes, result.ram_bytes) == (text + data, data + bss)


def test_qemu_monitor_only_when_asked(tmp_path):
    """QEMU runs without a monitor; target.running(monitor=PATH) gives it one on a Unix socket
    (bench/footprint.py reads the painted stack through it)."""
    b = load_board("qemu-m4")
    fw = tmp_path / "fw.elf"
    plain = emulator.emulator_command(b, fw, 1234)
    assert plain[plain.index("-monitor") + 1] == "none"
    with_mon = emulator.emulator_command(b, fw, 1234, monitor=str(tmp_path / "m.sock"))
    assert with_mon[with_mon.index("-monitor") + 1] == f"unix:{tmp_path / 'm.sock'},server=on,wait=off"
    assert with_mon.count("-monitor") == 1 and emulator.QEMU_FLAGS.count("none") >= 1
    with pytest.raises(InputError, match="no QEMU monitor"):
        with target.running(load_board("host"), fw, monitor=str(tmp_path / "m.sock")):
            pass
