"""The CLI frame: parsing, validation while parsing, exit codes, no tracebacks for user mistakes,
lazy commands, and that `rnnmcu --help` does not import TensorFlow.

Commands call plain functions in ``rnnmcu.api``; here a stand-in module records the calls, so these
tests check the CLI's own contract (arguments in, exit code and output out) and nothing else.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import rnnmcu.cli as cli
from rnnmcu.cli import main
from rnnmcu.errors import CheckFailed, DeviceError, InputError, RnnmcuError, ToolchainError

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, list(args), env=env)


def assert_user_error(r: Any, code: int, *fragments: str) -> None:
    assert r.exit_code == code, (r.exit_code, r.output)
    assert "Traceback" not in r.output
    assert r.stderr.startswith("error: "), r.stderr
    assert "next: " in r.stderr, r.stderr
    for f in fragments:
        assert f in r.stderr, f"{f!r} not in {r.stderr!r}"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    keras = tmp_path / "m.keras"
    keras.write_bytes(b"stand-in")
    model = tmp_path / "m.rnnmcu"
    model.write_bytes(b"stand-in")
    data = tmp_path / "d.npz"
    np.savez(data, x=np.zeros((2, 3, 1), np.float32), y=np.array([0, 1]))
    return {"keras": str(keras), "model": str(model), "data": str(data), "dir": str(tmp_path)}


class FakeApi(types.ModuleType):
    """A stand-in ``rnnmcu.api`` that records calls and returns (or raises) what a test sets."""

    def __init__(self) -> None:
        super().__init__("rnnmcu.api")
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.result: Any = None
        self.raises: BaseException | None = None
        for name in ("convert", "evaluate", "generate", "hil_test"):
            setattr(self, name, self._make(name))

    def _make(self, name: str) -> Any:
        def fn(*args: Any, **options: Any) -> Any:
            # options the command passes by name are recorded when set (e.g. "wide=True")
            self.calls.append((name, args + tuple(f"{k}={v!r}" for k, v in sorted(options.items()) if v)))
            if self.raises is not None:
                raise self.raises
            return self.result

        return fn


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    fake = FakeApi()
    monkeypatch.setitem(sys.modules, "rnnmcu.api", fake)
    return fake


# ---------------------------------------------------------------------------------------------
# Help, version, startup cost
# ---------------------------------------------------------------------------------------------

def test_help_lists_commands() -> None:
    r = run("--help")
    assert r.exit_code == 0
    for name in ("convert", "eval", "generate", "test"):
        assert name in r.stdout
    assert r.stderr == ""


def test_version() -> None:
    import rnnmcu

    r = run("--version")
    assert r.exit_code == 0 and rnnmcu.__version__ in r.stdout


@pytest.mark.parametrize("argv", [["--help"], ["convert", "--help"], ["eval", "--help"],
                                  ["generate", "--help"], ["test", "--help"], ["--version"]])
def test_help_does_not_import_tensorflow(argv: list[str]) -> None:
    code = (
        "import sys\n"
        "from rnnmcu.cli import main\n"
        f"rc = main({argv!r}, prog_name='rnnmcu', standalone_mode=False)\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras', 'platformio', 'matplotlib') if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy))\n"
        "sys.exit(rc)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert "HEAVY=\n" in p.stdout, f"`rnnmcu {' '.join(argv)}` imported {p.stdout.splitlines()[-1]}"


def test_python_dash_m_and_console_script() -> None:
    p = subprocess.run([sys.executable, "-m", "rnnmcu", "--help"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "Usage: rnnmcu" in p.stdout, p.stderr
    script = Path(sys.executable).parent / "rnnmcu"
    assert script.exists(), f"no console script at {script}: reinstall with `make setup`"
    p = subprocess.run([str(script), "definitely-not-a-command"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert p.stderr.startswith("error: ") and "Traceback" not in p.stderr


# ---------------------------------------------------------------------------------------------
# Usage errors: exit 2, a message and a next step, never a traceback
# ---------------------------------------------------------------------------------------------

def test_unknown_command() -> None:
    assert_user_error(run("frobnicate"), 2, "No such command", "rnnmcu --help")


def test_unknown_option() -> None:
    assert_user_error(run("convert", "--bogus"), 2, "--bogus")


def test_missing_required_option(files: dict[str, str], api: FakeApi) -> None:
    r = run("convert", files["keras"], "--precision", "int8", "-o", "x.rnnmcu")
    assert_user_error(r, 2, "--calib", "convert --help")
    assert api.calls == []


def test_bad_precision(files: dict[str, str], api: FakeApi) -> None:
    r = run("convert", files["keras"], "--calib", files["data"], "--precision", "int4", "-o", "o.rnnmcu")
    assert_user_error(r, 2, "int4", "int8", "int16", "float32")


def test_precision_case_insensitive(files: dict[str, str], api: FakeApi, tmp_path: Path) -> None:
    api.result = {}
    r = run("convert", files["keras"], "--calib", files["data"], "--precision", "INT16", "-o", str(tmp_path / "o.rnnmcu"))
    assert r.exit_code == 0, r.output
    assert api.calls[0][1][2] == "int16"


def test_missing_model_file(files: dict[str, str], tmp_path: Path, api: FakeApi) -> None:
    r = run("convert", str(tmp_path / "nope.keras"), "--calib", files["data"], "--precision", "int8", "-o", "o")
    assert_user_error(r, 2, "nope.keras", "does not exist", "rnnmcu train")
    assert api.calls == []


def test_model_is_directory(tmp_path: Path) -> None:
    assert_user_error(run("generate", str(tmp_path), "-o", str(tmp_path / "g")), 2, "is a directory")


@pytest.mark.parametrize("name,fragment", [
    ("3axis", "not a C identifier"), ("my-model", "try --name my_model"), ("int", "reserved in C"),
    ("__x", "reserved"), ("a" * 40, "at most 31"), ("", "not a C identifier"),
])
def test_bad_model_name(files: dict[str, str], api: FakeApi, name: str, fragment: str) -> None:
    r = run("convert", files["keras"], "--calib", files["data"], "--precision", "int8", "-o", "o.rnnmcu",
            "--name", name)
    assert_user_error(r, 2, fragment)
    assert api.calls == []


def test_output_is_directory(files: dict[str, str], api: FakeApi) -> None:
    r = run("convert", files["keras"], "--calib", files["data"], "--precision", "int8", "-o", files["dir"])
    assert_user_error(r, 2, "is a directory")


def test_generate_output_is_a_file(files: dict[str, str], api: FakeApi) -> None:
    assert_user_error(run("generate", files["model"], "-o", files["data"]), 2, "not a directory")


def test_max_seqs_must_be_positive(files: dict[str, str], api: FakeApi) -> None:
    r = run("test", "--board", "host", "--model", files["model"], "--data", files["data"], "--max-seqs", "0")
    assert_user_error(r, 2, "--max-seqs")


def test_verbose_and_quiet_conflict() -> None:
    assert_user_error(run("-v", "--quiet", "generate", "--help"), 2, "contradict")


# ---------------------------------------------------------------------------------------------
# Commands call the plain functions with exactly these arguments
# ---------------------------------------------------------------------------------------------

def test_convert_calls_api_and_prints(files: dict[str, str], api: FakeApi, tmp_path: Path) -> None:
    out = tmp_path / "new" / "sub" / "m.rnnmcu"
    api.result = {"name": "m", "precision": "int8", "flash_bytes": 1234, "layers": [{"type": "lstm"}],
                  "scale": np.float32(0.5), "nested": {"a": 1}}
    r = run("convert", files["keras"], "--calib", files["data"], "--precision", "int8", "-o", str(out),
            "--name", "gesture")
    assert r.exit_code == 0, r.output
    assert api.calls == [("convert", (files["keras"], files["data"], "int8", str(out), "gesture",
                                      "min_agreement=0.995"))]
    assert out.parent.is_dir(), "the output folder is created"
    assert "flash_bytes" in r.stdout and "1234" in r.stdout and "nested.a" in r.stdout
    r = run("convert", files["keras"], "--calib", files["data"], "--precision", "float32", "-o", str(out), "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["scale"] == 0.5 and doc["layers"] == [{"type": "lstm"}]
    assert api.calls[-1][1][4] is None  # no --name: the API picks one


def test_eval_calls_api(files: dict[str, str], api: FakeApi) -> None:
    api.result = {"accuracy": 0.9, "agreement_with_float": 1.0, "saturations": 0}
    r = run("eval", files["model"], "--data", files["data"], "--keras", files["keras"], "--json")
    assert r.exit_code == 0, r.output
    assert api.calls == [("evaluate", (files["model"], files["data"], files["keras"]))]
    assert json.loads(r.stdout)["accuracy"] == 0.9
    r = run("eval", files["model"], "--data", files["data"])
    assert api.calls[-1] == ("evaluate", (files["model"], files["data"], None))
    assert "accuracy" in r.stdout


def test_generate_prints_files(files: dict[str, str], api: FakeApi, tmp_path: Path) -> None:
    out = tmp_path / "gen"
    api.result = [out / "m.c", out / "m.h"]
    r = run("generate", files["model"], "-o", str(out))
    assert r.exit_code == 0, r.output
    assert api.calls == [("generate", (files["model"], str(out)))]
    api.calls.clear()
    assert run("generate", files["model"], "-o", str(out), "--wide-weights").exit_code == 0
    assert api.calls == [("generate", (files["model"], str(out), "wide=True"))]
    api.calls.clear()
    assert run("generate", files["model"], "-o", str(out), "--input-projections", "8").exit_code == 0
    assert api.calls == [("generate", (files["model"], str(out), "input_projections=8"))]
    assert r.stdout.split() == [str(out / "m.c"), str(out / "m.h")]
    assert out.is_dir()
    r = run("generate", files["model"], "-o", str(out), "--json")
    assert json.loads(r.stdout) == {"files": [str(out / "m.c"), str(out / "m.h")]}


def test_hil_test_passed_and_failed(files: dict[str, str], api: FakeApi, tmp_path: Path) -> None:
    junit, report = tmp_path / "r" / "j.xml", tmp_path / "r" / "r.json"
    api.result = {"passed": True, "sequences": 2, "mismatches": 0}
    r = run("test", "--board", "host", "--model", files["model"], "--data", files["data"],
            "--junit", str(junit), "--report", str(report), "--max-seqs", "5")
    assert r.exit_code == 0, r.output
    assert api.calls == [("hil_test", ("host", files["model"], files["data"], None, str(junit), str(report), 5))]
    assert "PASSED" in r.stdout
    api.calls.clear()
    r = run("test", "--board", "qemu-lx106", "--model", files["model"], "--data", files["data"],
            "--input-projections", "16")
    assert api.calls == [("hil_test", ("qemu-lx106", files["model"], files["data"], None, None, None, None,
                                       "input_projections=16"))]
    api.result = {"passed": True, "sequences": [{"index": i, "mismatches": []} for i in range(150)]}
    r = run("test", "--board", "host", "--model", files["model"], "--data", files["data"])
    assert "150 entries (--json shows them)" in r.stdout and "'index'" not in r.stdout
    api.result = {"passed": False, "sequences": 2, "mismatches": 1}
    r = run("test", "--board", "host", "--model", files["model"], "--data", files["data"], "--json")
    assert r.exit_code == 1
    assert json.loads(r.stdout)["mismatches"] == 1
    assert "did not match" in r.stderr and "Traceback" not in r.output


def test_port_and_board_from_environment(files: dict[str, str], api: FakeApi) -> None:
    api.result = {"passed": True}
    r = run("test", "--model", files["model"], "--data", files["data"],
            env={"RNNMCU_PORT": "socket://127.0.0.1:4444", "RNNMCU_BOARD": "m4"})
    assert r.exit_code == 0, r.output
    assert api.calls[0][1][:4] == ("m4", files["model"], files["data"], "socket://127.0.0.1:4444")
    r = run("test", "--board", "host", "--port", "loop://", "--model", files["model"], "--data", files["data"],
            env={"RNNMCU_PORT": "socket://127.0.0.1:4444"})
    assert api.calls[1][1][3] == "loop://"


# ---------------------------------------------------------------------------------------------
# Errors raised by the plain functions
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("exc,code", [
    (InputError("the model has a Conv1D layer", "use LSTM, GRU or SimpleRNN"), 2),
    (CheckFailed("3 outputs differ", "see report.json"), 1),
    (ToolchainError("arm-none-eabi-gcc not found", "make setup"), 3),
    (DeviceError("no reply from /dev/ttyUSB0 within 2 s", "check the cable"), 4),
    (RnnmcuError("generic failure", "try again"), 1),
])
def test_rnnmcu_errors_map_to_exit_codes(files: dict[str, str], api: FakeApi, exc: RnnmcuError, code: int) -> None:
    api.raises = exc
    r = run("eval", files["model"], "--data", files["data"])
    assert_user_error(r, code, exc.message, f"next: {exc.hint}")
    assert r.stdout == ""


def test_keyboard_interrupt_is_130(files: dict[str, str], api: FakeApi) -> None:
    api.raises = KeyboardInterrupt()
    r = run("eval", files["model"], "--data", files["data"])
    assert r.exit_code == 130
    assert "interrupted" in r.stderr and "Traceback" not in r.output


def test_unexpected_exception_is_a_bug_without_traceback(files: dict[str, str], api: FakeApi) -> None:
    api.raises = ZeroDivisionError("oops")
    r = run("eval", files["model"], "--data", files["data"])
    assert r.exit_code == 1
    assert "Traceback" not in r.output
    assert "unexpected ZeroDivisionError: oops" in r.stderr and "this is a bug" in r.stderr
    assert "rnnmcu -v" in r.stderr


def test_unexpected_exception_with_verbose_shows_traceback(files: dict[str, str], api: FakeApi) -> None:
    api.raises = ZeroDivisionError("oops")
    r = run("-v", "eval", files["model"], "--data", files["data"])
    assert r.exit_code == 1
    assert "Traceback" in r.stderr and "this is a bug" in r.stderr


def test_corrupt_model_file_is_input_error(files: dict[str, str], api: FakeApi) -> None:
    from rnnmcu.ir import IRError

    api.raises = IRError("m.rnnmcu: not a readable rnnmcu model file")
    assert_user_error(run("eval", files["model"], "--data", files["data"]), 2, "not a readable", "rnnmcu convert")


def test_missing_api_module(files: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rnnmcu.api", None)
    r = run("eval", files["model"], "--data", files["data"])
    assert_user_error(r, 1, "no rnnmcu.api")


def test_main_callable_without_standalone_returns_code(files: dict[str, str], api: FakeApi) -> None:
    api.raises = DeviceError("gone", "replug")
    assert main(["eval", files["model"], "--data", files["data"]], standalone_mode=False) == 4
    assert main(["--help"], standalone_mode=False) == 0


# ---------------------------------------------------------------------------------------------
# Lazily loaded commands (trainer, boards)
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def lazy_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    mod = tmp_path / "rnnmcu_fake_lazy_cmds.py"
    mod.write_text(
        "import click\n"
        "@click.command()\n"
        "@click.argument('word')\n"
        "def shout(word):\n"
        "    '''Shout a word (a lazily imported test command).'''\n"
        "    click.echo(word.upper())\n"
        "notacommand = 42\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(cli.LAZY_COMMANDS, "shout", ("rnnmcu_fake_lazy_cmds", "shout", "Shout a word."))
    monkeypatch.setitem(cli.LAZY_COMMANDS, "broken", ("rnnmcu_fake_lazy_cmds", "notacommand", "Broken."))
    monkeypatch.setitem(cli.LAZY_COMMANDS, "absent", ("rnnmcu_no_such_module_xyz", "absent", "Absent."))
    monkeypatch.delitem(sys.modules, "rnnmcu_fake_lazy_cmds", raising=False)
    return "rnnmcu_fake_lazy_cmds"


def test_lazy_command_listed_without_import(lazy_module: str) -> None:
    r = run("--help")
    assert r.exit_code == 0
    assert "shout" in r.stdout and "Shout a word." in r.stdout
    assert "absent" not in r.stdout, "a command whose module has not landed is not listed"
    assert lazy_module not in sys.modules, "--help must not import lazy command modules"


def test_lazy_command_runs(lazy_module: str) -> None:
    r = run("shout", "hey")
    assert r.exit_code == 0 and r.stdout == "HEY\n"
    assert_user_error(run("absent"), 2, "No such command")
    assert_user_error(run("broken"), 1, "not a click command")


def test_registered_lazy_commands_point_at_the_agreed_modules() -> None:
    assert cli.LAZY_COMMANDS["train"][:2] == ("rnnmcu.cli.train", "train")
    assert cli.LAZY_COMMANDS["data"][:2] == ("rnnmcu.cli.train", "data")
    assert cli.LAZY_COMMANDS["compare"][:2] == ("rnnmcu.cli.compare", "compare")
    for name in ("boards", "build", "flash", "doctor"):
        assert cli.LAZY_COMMANDS[name][:2] == ("rnnmcu.cli.board", name)


def test_landed_lazy_commands_load() -> None:
    """Every lazy command whose part has landed loads and shows its help; the others are not listed."""
    listed = main.list_commands(main.make_context("rnnmcu", ["--help"], resilient_parsing=True))
    for name, (module, _, _) in cli.LAZY_COMMANDS.items():
        if cli._module_exists(module):
            assert name in listed
            r = run(name, "--help")
            assert r.exit_code == 0, (name, r.output)
        else:
            assert name not in listed


# ---------------------------------------------------------------------------------------------
# The shared fixtures in conftest.py (used by every part's tests)
# ---------------------------------------------------------------------------------------------

def test_c_compilers_fixture_finds_libc_headers(c_compilers: Any, tmp_path: Path) -> None:
    src = tmp_path / "t.c"
    src.write_text("#include <stdint.h>\n#include <string.h>\nint f(void) { return (int)strlen(\"ab\"); }\n")
    arch = {"arm": ["-mthumb", "-mcpu=cortex-m4"], "riscv": ["-march=rv32imc", "-mabi=ilp32"], "xtensa": ["-mlongcalls"]}
    for name in ("gcc", "clang", "arm", "riscv", "xtensa"):
        cmd = [c_compilers[name], *c_compilers.libc_flags(name), *arch.get(name, []), "-std=c99", "-Wall", "-Werror",
               "-c", str(src), "-o", str(tmp_path / f"{name}.o")]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, f"{' '.join(cmd)}\n{p.stderr}"


def test_emulators_fixture(emulators: Any) -> None:
    for name in ("arm", "riscv32", "xtensa"):
        assert Path(emulators[name]).is_file()


def test_tool_map_fails_clearly_for_a_missing_tool() -> None:
    from conftest import ToolMap

    tools = ToolMap("C compiler", {"nope": ("rnnmcu-no-such-cc", "some-debian-package")})
    with pytest.raises(pytest.fail.Exception, match="some-debian-package"):
        tools["nope"]


def test_tmp_workdir_is_cwd(tmp_workdir: Path, seed: int) -> None:
    assert Path.cwd() == tmp_workdir
    assert isinstance(seed, int) and np.random.randint(1 << 30) == np.random.RandomState(seed).randint(1 << 30)
