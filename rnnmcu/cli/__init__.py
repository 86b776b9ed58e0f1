"""The ``rnnmcu`` command line: argument parsing only.

Each command parses and validates its arguments (custom click parameter types) and calls one plain
function that scripts and tests can call too (``rnnmcu.api.*``, the trainer's and the boards'
commands).  Those are imported inside the command, so ``rnnmcu --help`` stays fast and never imports
TensorFlow.

Exit codes (see :mod:`rnnmcu.errors`): 0 ok, 1 mismatch or failed check, 2 usage or bad input,
3 toolchain, 4 serial/device, 130 interrupted.  A user mistake never shows a traceback; an
unexpected exception is reported as a bug (with the traceback under ``-v``).
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import os
import re
import sys
import traceback
from typing import Any, Callable, Sequence

import click

from rnnmcu import __version__
from rnnmcu.errors import InputError, RnnmcuError

log = logging.getLogger("rnnmcu")

PRECISIONS = ("int8", "int16", "float32")

# C99 keywords plus the common reserved spellings: a model name becomes a C prefix.
_C_KEYWORDS = frozenset("""
auto break case char const continue default do double else enum extern float for goto if inline int
long register restrict return short signed sizeof static struct switch typedef union unsigned void
volatile while _Bool _Complex _Imaginary bool true false NULL main
""".split())
_C_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
C_NAME_MAX = 31


# ---------------------------------------------------------------------------------------------
# Parameter types: validate while parsing
# ---------------------------------------------------------------------------------------------

class ExistingFile(click.ParamType):
    """A path to an existing, readable regular file.  ``what`` names it in messages."""

    name = "file"

    def __init__(self, what: str = "file", hint: str | None = None) -> None:
        self.what = what
        self.hint = hint

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        path = os.fspath(value)
        if not os.path.exists(path):
            self.fail(_with_hint(f"{self.what} {path!r} does not exist", self.hint or "check the path"),
                      param, ctx)
        if os.path.isdir(path):
            self.fail(_with_hint(f"{self.what} {path!r} is a directory", f"pass the {self.what} itself"),
                      param, ctx)
        if not os.access(path, os.R_OK):
            self.fail(_with_hint(f"{self.what} {path!r} is not readable", "check its permissions"),
                      param, ctx)
        return path


class DataFile(ExistingFile):
    """An ``.npz`` dataset, fully checked by :func:`rnnmcu.data.load_npz` while parsing."""

    name = "data.npz"

    def __init__(self, require_labels: bool = False) -> None:
        super().__init__("data file", "make a dataset with `rnnmcu data synth -o data.npz`")
        self.require_labels = require_labels

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        path = super().convert(value, param, ctx)
        from rnnmcu.data import load_npz

        try:
            load_npz(path, require_labels=self.require_labels)
        except InputError as e:
            self.fail(str(e), param, ctx)
        return path


class OutputPath(click.ParamType):
    """A file to write: its folder is created if needed; an existing directory is refused."""

    name = "path"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        path = os.fspath(value)
        if os.path.isdir(path):
            self.fail(_with_hint(f"output {path!r} is a directory", "give a file name inside it"), param, ctx)
        _ensure_folder(os.path.dirname(os.path.abspath(path)), param, ctx, self)
        return path


class OutputDir(click.ParamType):
    """A directory to write into: created if missing; an existing regular file is refused."""

    name = "dir"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        path = os.fspath(value)
        if os.path.exists(path) and not os.path.isdir(path):
            self.fail(_with_hint(f"output directory {path!r} exists and is not a directory",
                                 "choose another path, or remove the file"), param, ctx)
        _ensure_folder(os.path.abspath(path), param, ctx, self)
        return path


class CName(click.ParamType):
    """A model name usable as a C identifier prefix."""

    name = "name"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        s = str(value)
        if not _C_IDENT.match(s):
            self.fail(_with_hint(f"{s!r} is not a C identifier (letters, digits and _, not starting with a digit)",
                                 f"try --name {c_identifier(s)}"), param, ctx)
        if s in _C_KEYWORDS or s.startswith("__"):
            self.fail(_with_hint(f"{s!r} is reserved in C", f"try --name {s.strip('_')}_model"), param, ctx)
        if len(s) > C_NAME_MAX:
            self.fail(_with_hint(f"{s!r} is {len(s)} characters long; at most {C_NAME_MAX}",
                                 f"try --name {s[:C_NAME_MAX]}"), param, ctx)
        return s


class Precision(click.Choice):
    """``int8``, ``int16`` or ``float32`` (case-insensitive); ``auto`` too where it is offered."""

    def __init__(self, auto: bool = False) -> None:
        super().__init__(PRECISIONS + (("auto",) if auto else ()), case_sensitive=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        return str(super().convert(value, param, ctx)).lower()


def c_identifier(s: str) -> str:
    """A best-effort C identifier made from ``s`` (for hints)."""
    t = re.sub(r"[^A-Za-z0-9_]", "_", s).strip("_") or "model"
    if t[0].isdigit():
        t = "m_" + t
    return t[:C_NAME_MAX]


def _with_hint(message: str, hint: str) -> str:
    return f"{message}\n  next: {hint}"


def _ensure_folder(folder: str, param: Any, ctx: Any, ptype: click.ParamType) -> None:
    if os.path.isdir(folder):
        return
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        ptype.fail(_with_hint(f"cannot create folder {folder!r} ({e.strerror})",
                              "choose an output path in a writable folder"), param, ctx)


# ---------------------------------------------------------------------------------------------
# The group: global options, error handling, lazily loaded commands
# ---------------------------------------------------------------------------------------------

# name -> (module, attribute, one-line help shown by `rnnmcu --help` without importing the module)
LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "train": ("rnnmcu.cli.train", "train", "Train a recurrent Keras model on a dataset (.npz)."),
    "data": ("rnnmcu.cli.train", "data", "Make and inspect datasets (e.g. `data synth`)."),
    "compare": ("rnnmcu.cli.compare", "compare",
                "Compare rnnmcu with TensorFlow Lite (LiteRT, TFLM) on a model and data set."),
    "boards": ("rnnmcu.cli.board", "boards", "List the boards rnnmcu can build for."),
    "build": ("rnnmcu.cli.board", "build", "Build the firmware for a board with PlatformIO."),
    "flash": ("rnnmcu.cli.board", "flash", "Flash the firmware to a board."),
    "doctor": ("rnnmcu.cli.board", "doctor", "Check compilers, emulators and PlatformIO."),
    "app": ("rnnmcu.cli.stream", "app", "Build the streaming classifier app (sensor in, events out)."),
    "replay": ("rnnmcu.cli.stream", "replay", "Replay a recording into the streaming app at the sensor rate."),
    "stream-eval": ("rnnmcu.cli.stream", "stream_eval", "Event-level metrics of the streaming app on a recording."),
    "stream-data": ("rnnmcu.cli.stream", "stream_data", "Write a long synthetic recording with known gestures."),
    "stream-train": ("rnnmcu.cli.stream", "stream_train", "Train a model for streaming (state across windows)."),
}


def _module_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


class RnnmcuGroup(click.Group):
    """The ``rnnmcu`` group.  Its :meth:`main` maps every outcome to an exit code and a message."""

    verbose: int = 0

    # -- lazy commands ---------------------------------------------------------------------
    def list_commands(self, ctx: click.Context) -> list[str]:
        lazy = [n for n, (mod, _, _) in LAZY_COMMANDS.items() if _module_exists(mod)]
        return sorted(set(super().list_commands(ctx)) | set(lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None or cmd_name not in LAZY_COMMANDS:
            return cmd
        module, attr, _ = LAZY_COMMANDS[cmd_name]
        if not _module_exists(module):
            return None
        mod = importlib.import_module(module)
        cmd = getattr(mod, attr, None)
        if not isinstance(cmd, click.Command):
            raise RnnmcuError(f"{module}.{attr} is not a click command",
                              "this rnnmcu install is broken: reinstall it (make setup)")
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            if name in self.commands:
                cmd = self.commands[name]
                if cmd.hidden:
                    continue
                rows.append((name, cmd.get_short_help_str(formatter.width - 6 - len(name))))
            else:
                rows.append((name, LAZY_COMMANDS[name][2]))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    # -- error handling --------------------------------------------------------------------
    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        RnnmcuGroup.verbose = 0
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) and not isinstance(rv, bool) else 0
        except click.exceptions.Exit as e:
            code = e.exit_code
        except click.UsageError as e:
            code = _report_usage(e)
        except click.ClickException as e:
            _error(e.format_message(), None)
            code = e.exit_code
        except click.Abort as e:
            if isinstance(e.__cause__ or e.__context__, (KeyboardInterrupt, EOFError)):
                _error("interrupted", None)
                code = 130
            else:
                _error("aborted", None)
                code = 1
        except KeyboardInterrupt:
            _error("interrupted", None)
            code = 130
        except RnnmcuError as e:
            _error(e.message, e.hint)
            code = e.exit_code
        except BrokenPipeError:
            code = _broken_pipe()
        except Exception as e:  # noqa: BLE001 - the last line of defence
            code = _report_unexpected(e)
        if standalone_mode:
            sys.exit(code)
        return code


def _error(message: str, hint: str | None) -> None:
    try:
        click.echo(f"error: {message}", err=True)
        if hint:
            click.echo(f"  next: {hint}", err=True)
    except BrokenPipeError:
        pass


def _report_usage(e: click.UsageError) -> int:
    hint = None
    if e.ctx is not None:
        hint = f"see `{e.ctx.command_path} --help`"
    msg = e.format_message()
    if "\n  next: " in msg:  # a parameter type already said what to do
        _error(msg, None)
    else:
        _error(msg, hint)
    return e.exit_code


def _report_unexpected(e: BaseException) -> int:
    # Known non-rnnmcu exceptions that still mean "bad input" rather than a bug.
    ir = sys.modules.get("rnnmcu.ir")
    if ir is not None and isinstance(e, ir.IRError):
        _error(str(e), "reconvert the model with `rnnmcu convert`")
        return InputError.exit_code
    if isinstance(e, MemoryError):
        _error("out of memory", "use fewer or shorter sequences")
        return 1
    if RnnmcuGroup.verbose:
        traceback.print_exc(file=sys.stderr)
    _error(f"unexpected {type(e).__name__}: {e}",
           "this is a bug in rnnmcu " + __version__ + ": please report it with the command line"
           + ("" if RnnmcuGroup.verbose else " and the traceback from `rnnmcu -v ...`"))
    return 1


def _broken_pipe() -> int:
    # The reader went away (e.g. `rnnmcu ... | head`): exit quietly.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 1


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    logger = logging.getLogger("rnnmcu")
    logger.setLevel(level)
    if not any(getattr(h, "_rnnmcu", False) for h in logger.handlers):
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter("%(message)s"))
        h._rnnmcu = True  # type: ignore[attr-defined]
        logger.addHandler(h)
        logger.propagate = False
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group("rnnmcu", cls=RnnmcuGroup, context_settings=CONTEXT_SETTINGS)
@click.option("-v", "--verbose", count=True,
              help="More detail on stderr; -v also shows tracebacks of unexpected errors.")
@click.option("-q", "--quiet", is_flag=True,
              help="Only warnings and errors on stderr.")
@click.version_option(__version__, "-V", "--version", prog_name="rnnmcu")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Tiny recurrent networks from Keras to microcontrollers, proven bit-exact on the device.

    \b
    A typical run:
      rnnmcu data synth -o data.npz
      rnnmcu train data.npz -o model.keras --cell lstm --units 16
      rnnmcu convert model.keras --calib data.npz --precision int8 -o model.rnnmcu
      rnnmcu eval model.rnnmcu --data data.npz
      rnnmcu test --board host --model model.rnnmcu --data data.npz

    Results go to stdout (--json where a script reads them), progress to stderr.
    """
    if verbose and quiet:
        raise click.UsageError("--verbose and --quiet contradict each other", ctx)
    RnnmcuGroup.verbose = verbose
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    ctx.obj["quiet"] = quiet
    _setup_logging(verbose, quiet)


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------

def _jsonable(v: Any) -> Any:
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a dependency
        np = None  # type: ignore[assignment]
    if np is not None:
        if isinstance(v, np.generic):
            return v.item()
        if isinstance(v, np.ndarray):
            return v.tolist()
    if isinstance(v, (set, frozenset, tuple)):
        return list(v)
    if isinstance(v, os.PathLike):
        return os.fspath(v)
    return str(v)


def _flatten(d: Any, prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    if isinstance(d, dict):
        for k, v in d.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict) and v:
                rows.extend(_flatten(v, key))
            else:
                rows.append((key, _fmt(v)))
    else:
        rows.append((prefix or "result", _fmt(d)))
    return rows


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        if any(isinstance(x, (dict, list, tuple)) for x in v):
            return f"{len(v)} entries (--json shows them)"
        if len(v) > 12:
            return ", ".join(_fmt(x) for x in v[:12]) + f", ... ({len(v)} items)"
        return ", ".join(_fmt(x) for x in v)
    try:
        import numpy as np

        if isinstance(v, np.generic):
            return _fmt(v.item())
        if isinstance(v, np.ndarray):
            return _fmt(v.tolist())
    except ImportError:  # pragma: no cover
        pass
    return str(v)


def emit(result: Any, as_json: bool, title: str | None = None) -> None:
    """Print a command's result to stdout: a JSON document, or an aligned two-column table."""
    if as_json:
        click.echo(json.dumps(result, indent=2, default=_jsonable, sort_keys=False))
        return
    if title:
        click.echo(title)
    rows = _flatten(result)
    width = max((len(k) for k, _ in rows), default=0)
    for k, v in rows:
        click.echo(f"  {k.ljust(width)}  {v}")


def _api(name: str) -> Callable[..., Any]:
    """``rnnmcu.api.<name>``, imported when a command runs."""
    try:
        api = importlib.import_module("rnnmcu.api")
    except ModuleNotFoundError as e:
        if e.name not in ("rnnmcu.api", "rnnmcu"):
            raise
        raise RnnmcuError("this rnnmcu install has no rnnmcu.api module",
                          "reinstall rnnmcu (make setup)") from None
    fn = getattr(api, name, None)
    if fn is None:
        raise RnnmcuError(f"this rnnmcu install has no rnnmcu.api.{name}", "reinstall rnnmcu (make setup)")
    return fn


json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
# the converted model a command reads (eval, inspect, generate)
model_argument = click.argument("model_path", metavar="MODEL.rnnmcu",
                                type=ExistingFile("rnnmcu model", "make one with `rnnmcu convert`"))


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------

@main.command(context_settings=CONTEXT_SETTINGS)
@click.argument("keras_path", metavar="MODEL.keras",
                type=ExistingFile("Keras model", "train one with `rnnmcu train DATA.npz -o model.keras`"))
@click.option("--calib", "calib_path", required=True, type=DataFile(), metavar="DATA.npz",
              help="Calibration data (.npz): windows the model will see on the device.")
@click.option("--precision", required=True, type=Precision(auto=True),
              help="Numeric format on the device: int8 (int8 weights and activations, 8x8; 16-bit "
                   "inputs, GRU state, head and outputs), int16 (int8 weights, int16 activations: 16x8, the more "
                   "accurate), float32, or auto (the cheapest of these three that meets --min-agreement "
                   "on a held-out fifth of the calibration data).")
@click.option("--min-agreement", type=click.FloatRange(0.0, 1.0, min_open=True), default=0.995, show_default=True,
              help="With --precision auto: the argmax agreement with float the choice must reach.")
@click.option("-o", "--output", "out_path", required=True, type=OutputPath(), metavar="MODEL.rnnmcu",
              help="Where to write the converted model.")
@click.option("--name", type=CName(), default=None,
              help="C name prefix of the generated code (default: from the file name).")
@json_option
def convert(keras_path: str, calib_path: str, precision: str, min_agreement: float, out_path: str,
            name: str | None, as_json: bool) -> None:
    """Convert a Keras model into a quantised rnnmcu model.

    \b
    Examples:
      rnnmcu convert model.keras --calib data.npz --precision int8 -o model.rnnmcu
      rnnmcu convert model.keras --calib data.npz --precision auto --min-agreement 0.999 -o model.rnnmcu
    """
    summary = _api("convert")(keras_path, calib_path, precision, out_path, name, min_agreement=min_agreement)
    emit(summary, as_json, title=f"converted {keras_path} -> {out_path}")


@main.command("eval", context_settings=CONTEXT_SETTINGS)
@model_argument
@click.option("--data", "data_path", required=True, type=DataFile(), metavar="DATA.npz",
              help="Windows to evaluate on (.npz).")
@click.option("--keras", "keras_path", type=ExistingFile("Keras model"), default=None, metavar="MODEL.keras",
              help="Also compare with the original Keras model.")
@json_option
def eval_cmd(model_path: str, data_path: str, keras_path: str | None, as_json: bool) -> None:
    """Measure a converted model on the host: accuracy, agreement with float, saturations.

    \b
    Example:
      rnnmcu eval model.rnnmcu --data data.npz --keras model.keras
    """
    metrics = _api("evaluate")(model_path, data_path, keras_path)
    emit(metrics, as_json, title=f"evaluation of {model_path} on {data_path}")


@main.command("inspect", context_settings=CONTEXT_SETTINGS)
@model_argument
@click.option("--data", "data_path", required=True, type=DataFile(), metavar="DATA.npz",
              help="Sequences to inspect (.npz; its test split if it has one).")
@click.option("--keras", "keras_path", type=ExistingFile("Keras model"), default=None, metavar="MODEL.keras",
              help="Also compare the float reference with the original Keras model.")
@click.option("--board", default=None, metavar="BOARD",
              help="Also check the device's own intermediate tensors (a TRACE build, built and started "
                   "here for host and qemu-* boards) against the integer reference, bit for bit.")
@click.option("--port", default=None, metavar="URL",
              help="A TRACE build already running on this port (rnnmcu build --trace); needs --board.")
@click.option("--max-seqs", type=click.IntRange(1), default=None, metavar="N", help="Inspect at most N sequences.")
@click.option("--device-seqs", type=click.IntRange(1), default=2, show_default=True, metavar="N",
              help="Sequences traced on the device (each step of each layer is one request).")
@click.option("--plot", type=OutputPath(), default=None, metavar="FILE.png",
              help="Write a PNG: error over the steps per layer, each tensor's values against its integer range.")
@json_option
def inspect_cmd(model_path: str, data_path: str, keras_path: str | None, board: str | None, port: str | None,
                max_seqs: int | None, device_seqs: int, plot: str | None, as_json: bool) -> None:
    """Where a quantised model drifts from float: per layer, per tensor, per step.

    Runs the float and the integer reference side by side and compares every internal tensor
    (gate pre-activations, gates, the candidate, c, h, layer outputs): the error per step, the
    calibrated range against the range used, saturations and where they happen, the step where
    each tensor starts to drift, and per sequence the first step at which the class flips.
    With --board the device's own tensors are checked against the reference bit for bit.

    \b
    Examples:
      rnnmcu inspect model.rnnmcu --data data.npz --plot drift.png
      rnnmcu inspect model.rnnmcu --data data.npz --board qemu-m4
    """
    rep = _api("inspect")(model_path, data_path, keras_path, max_seqs=max_seqs, plot=plot, board=board,
                          port=port, device_seqs=device_seqs)
    if as_json:
        emit(rep, True)
        return
    _print_inspect(rep)
    dev = rep.get("device")
    if dev is not None and not dev["bit_exact"]:
        raise click.exceptions.Exit(1)


def _print_inspect(rep: dict) -> None:
    from rnnmcu.codegen.inspect import DRIFT_REL

    click.echo(f"inspection of {rep['model']} ({rep['precision']}) on {rep['data']}: "
               f"{rep['sequences']} sequences x {rep['steps']} steps")
    head = (f"  {'tensor':10} {'calibrated':>10} {'used':>9} {'max err':>9} {'rms err':>9} {'rel err':>8} "
            f"{'saturated':>9} {'drifts at':>9}")
    click.echo(head)
    for name, t in rep["tensors"].items():
        drift = "-" if t["drift_step"] is None else str(t["drift_step"])
        click.echo(f"  {name:10} {t['calibrated_range']:10.4g} {t['used_range']:9.4g} {t['max_abs_error']:9.3g} "
                   f"{t['rms_error']:9.3g} {t['relative_error']:8.2%} {t['saturations']:9d} {drift:>9}")
    out = rep["outputs"]
    ds = rep.get("drift_starts")
    click.echo("  drift starts: " + (f"{ds['tensor']} at step {ds['step']} (relative error over "
                                      f"{ds['threshold']:.0%})" if ds else
                                      f"nowhere (every tensor stays within {DRIFT_REL:.0%} of its RMS)"))
    click.echo(f"  final class agrees with float on {out['final_agreement']:.2%} of the sequences; "
               f"the class flips at some step in {out['sequences_flipped']}"
               + (f" (median first flip at step {out['first_flip_median']:.0f})" if out["first_flip_median"] is not None else ""))
    if "keras_max_abs_error_vs_float_reference" in rep:
        click.echo(f"  Keras vs the float reference: max abs error {rep['keras_max_abs_error_vs_float_reference']:.3g}")
    dev = rep.get("device")
    if dev is not None:
        verdict = "bit-exact" if dev["bit_exact"] else f"{dev['mismatches']} values differ"
        click.echo(f"  device ({dev['board']}): {dev['values_checked']} intermediate values over {dev['steps']} "
                   f"steps of {len(dev['sequences'])} sequences: {verdict}")
        for name, t in dev["tensors"].items():
            if t["mismatches"]:
                m = t["first_mismatch"]
                click.echo(f"    {name}: {t['mismatches']} differ, first at sequence {m['sequence']} step {m['step']} "
                           f"index {m['index']} (expected {m['expected']}, got {m['got']})")
    if rep.get("plot"):
        click.echo(f"  plot: {rep['plot']}")


@main.command(context_settings=CONTEXT_SETTINGS)
@model_argument
@click.option("-o", "--output", "out_dir", required=True, type=OutputDir(), metavar="DIR",
              help="Directory for the generated C files.")
@click.option("--wide-weights", "wide", is_flag=True,
              help="Recurrent weights as int16 (twice their flash, faster on Cortex-M with DSP).")
@click.option("--input-projections", "input_projections", type=int, default=0, metavar="N",
              help="run() computes the first layer's W x N steps at a time (as `rnnmcu build "
                   "--input-projections`; 0: off).")
@json_option
def generate(model_path: str, out_dir: str, wide: bool, input_projections: int, as_json: bool) -> None:
    """Generate portable C99 for a converted model.

    \b
    Example:
      rnnmcu generate model.rnnmcu -o gen/
    """
    files = _api("generate")(model_path, out_dir, wide=wide, input_projections=input_projections)
    files = [os.fspath(f) for f in files]
    if as_json:
        emit({"files": files}, True)
    else:
        for f in files:
            click.echo(f)


@main.command("test", context_settings=CONTEXT_SETTINGS)
@click.option("--board", required=True, envvar="RNNMCU_BOARD", show_envvar=True,
              help="Board to test on (see `rnnmcu boards`), e.g. host.")
@click.option("--model", "model_path", required=True, metavar="MODEL.rnnmcu",
              type=ExistingFile("rnnmcu model", "make one with `rnnmcu convert`"))
@click.option("--data", "data_path", required=True, type=DataFile(), metavar="DATA.npz",
              help="Test sequences (.npz).")
@click.option("--port", default=None, envvar="RNNMCU_PORT", show_envvar=True, metavar="URL",
              help="Serial port or pyserial URL (/dev/ttyUSB0, socket://host:port); default: the board's.")
@click.option("--junit", type=OutputPath(), default=None, metavar="FILE.xml", help="Write a JUnit XML report.")
@click.option("--report", type=OutputPath(), default=None, metavar="FILE.json", help="Write a JSON report.")
@click.option("--max-seqs", type=click.IntRange(min=1), default=None, metavar="N",
              help="Send at most N sequences.")
@click.option("--wide-weights", "wide", is_flag=True,
              help="Build the firmware with int16 recurrent weights (as `rnnmcu build --wide-weights`).")
@click.option("--input-projections", "input_projections", type=int, default=0, metavar="N",
              help="Build the firmware with run() computing the first layer's W x N steps at a time "
                   "(as `rnnmcu build --input-projections`).")
@json_option
def test_cmd(board: str, model_path: str, data_path: str, port: str | None, junit: str | None,
             report: str | None, max_seqs: int | None, wide: bool, input_projections: int,
             as_json: bool) -> None:
    """Hardware-in-the-loop test: the device's outputs must equal the reference bit for bit.

    Exits 1 when any output differs.

    \b
    Example:
      rnnmcu test --board host --model model.rnnmcu --data data.npz --junit hil.xml
    """
    result = _api("hil_test")(board, model_path, data_path, port, junit, report, max_seqs, wide=wide,
                              input_projections=input_projections)
    passed = bool(result.get("passed")) if isinstance(result, dict) else False
    emit(result, as_json, title=f"hil test on {board}: {'PASSED' if passed else 'FAILED'}")
    if not passed:
        _error(f"the device on {board} did not match the reference",
               f"see the report{' ' + report if report else ''} for the first differing output")
        raise click.exceptions.Exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
