"""Click commands of the streaming classifier: `rnnmcu app`, `replay`, `stream-eval`,
`stream-data`, `stream-train`.  Each only parses arguments and calls a plain function
(rnnmcu.stream: the app, replay and eval in __init__, policy, data, train)."""
from __future__ import annotations

import json
import tempfile
from typing import Any

import click

from rnnmcu import facts
from rnnmcu.cli import ExistingFile, OutputDir, OutputPath
from rnnmcu.errors import CheckFailed

# the cells stream-train builds: Keras' own layers (a stateful peephole cell has no Keras layer)
STREAM_CELLS = [c.cli for c in facts.CELLS if not c.peephole]
MODEL_HINT = "convert a Keras model first: rnnmcu convert MODEL.keras --calib DATA.npz -o MODEL.rnnmcu"
RECORDING_HINT = "write a recording with `rnnmcu stream-data rec.npz`, or pass your own"


def _policy_options(f):
    for opt in reversed([
        click.option("--rate", "rate_hz", type=click.FloatRange(0.001, 100000), default=50.0, show_default=True,
                     help="Sensor sample rate in Hz."),
        click.option("--reset", default="never", show_default=True,
                     help="Model state reset: never, every:N (steps) or idle:K (after K inactive steps)."),
        click.option("--smooth", default="ema:8192", show_default=True,
                     help="Score smoothing: none, ema:ALPHA_Q15 (32768 = 1.0) or majority:K."),
        click.option("--threshold", type=float, default=0.5, show_default=True,
                     help="Confidence threshold in output units (a probability for a softmax model)."),
        click.option("--holdoff", type=click.IntRange(0), default=0, show_default=True,
                     help="Minimum steps between two events."),
        click.option("--idle-class", default=None, help="Class NAME or INDEX that never fires an event."),
    ]):
        f = opt(f)
    return f


def _opts(kw: dict[str, Any]):
    from rnnmcu.stream import StreamOptions

    return StreamOptions(rate_hz=kw.pop("rate_hz"), reset=kw.pop("reset"), smooth=kw.pop("smooth"),
                         threshold=kw.pop("threshold"), holdoff=kw.pop("holdoff"),
                         idle_class=kw.pop("idle_class"))


def _print(obj: dict[str, Any], as_json: bool, keys: list[str]) -> None:
    if as_json:
        click.echo(json.dumps(obj, indent=2, default=str))
        return
    for k in keys:
        if k in obj and obj[k] is not None:
            click.echo(f"{k}: {obj[k]}")


FIGURE_KEYS = ["board", "model", "precision", "rate_hz", "macs_per_step", "instr_per_sample", "instr_source",
               "clock_hz", "budget_instr_per_sample", "cpu_load_percent", "compute_us_per_sample",
               "latency_steps", "latency_ms", "event_latency_ms", "project", "firmware", "flash_bytes",
               "ram_bytes"]


@click.command("app")
@click.option("--board", required=True, help="Board name (rnnmcu boards).")
@click.option("--model", "model_path", required=True, type=ExistingFile("model file", MODEL_HINT),
              help="Converted model (.rnnmcu).")
@click.option("-o", "--out", "out_dir", default="rnnmcu-app", show_default=True, type=OutputDir(),
              help="Output folder.")
@click.option("--framework", default=None, help="Framework of a real board (arduino, espidf).")
@click.option("--dry-run", is_flag=True, help="Only print latency and CPU load figures.")
@click.option("--no-build", is_flag=True, help="Generate the project, do not build it.")
@click.option("--wide-weights", "wide", is_flag=True,
              help="int16 recurrent weights: faster on Cortex-M with DSP, twice the weight flash "
                   "(as `rnnmcu build --wide-weights`).")
@click.option("--json", "as_json", is_flag=True)
@_policy_options
def app_cmd(board: str, model_path: str, out_dir: str, framework: str | None, dry_run: bool,
            no_build: bool, wide: bool, as_json: bool, **kw: Any) -> None:
    """Firmware that classifies a sensor stream and prints events (the app users ship)."""
    from rnnmcu import stream

    info = stream.app(board, model_path, out_dir, _opts(kw), framework=framework, dry_run=dry_run,
                      build=not no_build, wide=wide)
    _print(info, as_json, FIGURE_KEYS)


app = app_cmd


@click.command("replay")
@click.argument("data", type=ExistingFile("recording", RECORDING_HINT))
@click.option("--model", "model_path", default=None, type=ExistingFile("model file", MODEL_HINT),
              help="Model the app was built from.")
@click.option("--port", default=None, help="Serial URL of a board running the app (pyserial URL).")
@click.option("--board", default=None, help="Emulated or host board: build the app, start it, replay, "
                                             "and compare the events with the host simulation.")
@click.option("--replay-rate", type=float, default=None,
              help="Pace samples at this rate (Hz); default: --rate; 0: as fast as the link takes them.")
@click.option("--baud", type=int, default=115200, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@_policy_options
def replay(data: str, model_path: str | None, port: str | None, board: str | None, replay_rate: float | None,
           baud: int, as_json: bool, **kw: Any) -> None:
    """Replay a recording (.npz) into the streaming app at the sensor rate; print its events."""
    from rnnmcu import stream
    from rnnmcu.errors import InputError

    opts = _opts(kw)
    rate = opts.rate_hz if replay_rate is None else (replay_rate or None)
    if board is not None:
        if model_path is None:
            raise InputError("--board needs --model", "pass the .rnnmcu file to build the app from")
        with tempfile.TemporaryDirectory(prefix="rnnmcu-replay-") as work:
            out = stream.run_on_board(board, model_path, data, opts, work, port=port, replay_rate=rate)
    elif port is not None:
        out = stream.replay_port(port, data, model_path, rate_hz=rate, baud=baud)
    else:
        raise InputError("rnnmcu replay needs --port URL (a board running the app) or --board NAME",
                         "e.g. rnnmcu replay rec.npz --model m.rnnmcu --board qemu-m4")
    if as_json:
        click.echo(json.dumps(out, indent=2, default=str))
    else:
        for e in out["events"]:
            click.echo(f"event sample={e['sample']} class={e['cls']} confidence={e['confidence']}")
        st = out["stats"]
        click.echo(f"samples sent {out['sent']}, received {st['received']}, gaps {st['gaps']}, "
                   f"bad frames {st['bad_frames']}, events {st['events']}, resets {st['resets']}")
        ku = out.get("keep_up", {})
        if "keeps_up" in ku:
            click.echo(f"instructions per sample: max {ku['instr_per_sample_max']}, mean {ku['instr_per_sample_mean']}"
                       f" of {ku['budget_instr_per_sample']} ({ku['cpu_load_percent_max']}% load)")
        if "events_equal" in out:
            click.echo(f"events equal the host simulation: {out['events_equal']}")
        if "metrics" in out:
            click.echo("metrics: " + json.dumps({k: v for k, v in out["metrics"].items() if k != "per_class"}))
    if out.get("events_equal") is False:
        raise CheckFailed("the board's events differ from the host simulation of the same policy",
                          "rerun with --json to see both lists")
    if out["stats"]["gaps"] or out["stats"]["bad_frames"]:
        raise CheckFailed(f"{out['stats']['gaps']} samples were dropped and {out['stats']['bad_frames']} "
                          "frames were damaged on the link", "lower the rate or raise the baud rate")


@click.command("stream-eval")
@click.argument("model_path", type=ExistingFile("model file", MODEL_HINT))
@click.argument("data", type=ExistingFile("recording", RECORDING_HINT))
@click.option("--json", "as_json", is_flag=True)
@_policy_options
def stream_eval(model_path: str, data: str, as_json: bool, **kw: Any) -> None:
    """Event-level metrics of the streaming policy on a long recording (eval --stream)."""
    from rnnmcu import stream

    out = stream.stream_eval(model_path, data, _opts(kw))
    if as_json:
        click.echo(json.dumps(out, indent=2, default=str))
        return
    m = out["metrics"]
    click.echo(f"{out['model']} ({out['precision']}) on {out['samples']} samples ({m['hours'] * 3600:.1f} s): "
               f"detected {m['detected']}/{m['gestures']} (recall {m['recall']:.3f}), "
               f"false alarms {m['false_alarms']} ({m['false_alarms_per_hour']}/h; wrong class "
               f"{m['wrong_class']}, repeats {m['repeats']}), latency mean {m['latency_ms_mean']} ms "
               f"(median {m['latency_samples_median']} samples, max {m['latency_samples_max']})")


@click.command("stream-data")
@click.argument("out_path", type=OutputPath())
@click.option("--classes", type=int, default=5, show_default=True)
@click.option("--gestures", type=int, default=20, show_default=True)
@click.option("--channels", type=int, default=6, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def stream_data(out_path: str, classes: int, gestures: int, channels: int, seed: int) -> None:
    """A long synthetic IMU recording with gestures at known times (.npz)."""
    from rnnmcu.stream import data as sd

    click.echo(json.dumps(sd.write_stream(out_path, classes=classes, gestures=gestures, channels=channels,
                                          seed=seed)))


@click.command("stream-train")
@click.argument("data", nargs=-1, required=True, type=ExistingFile("recording", RECORDING_HINT))
@click.option("-o", "--out", "out_path", required=True, help="Keras model to write (.keras).")
@click.option("--cell", type=click.Choice(STREAM_CELLS), default="gru", show_default=True,
              help="The recurrent cell (the names of rnnmcu train --cell; Keras' own layers only).")
@click.option("--units", type=int, default=16, show_default=True)
@click.option("--window", type=int, default=64, show_default=True, help="Steps per training window.")
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--labels", type=click.Choice(["step", "sequence"]), default="step", show_default=True,
              help="Per-step labels, or one label per window with state carried across windows.")
@click.option("--seed", type=int, default=0, show_default=True)
def stream_train(data: tuple[str, ...], out_path: str, cell: str, units: int, window: int, epochs: int,
                 labels: str, seed: int) -> None:
    """Train for streaming on long recordings (state carried across consecutive windows)."""
    from rnnmcu.stream import train as st

    click.echo(json.dumps(st.train_stream(list(data), out_path, cell=cell, units=units, window=window,
                                          epochs=epochs, labels=labels, seed=seed), default=str))
