"""On-device streaming classification: the shipped app, the replay link and stream evaluation.

    from rnnmcu import stream
    opts = stream.StreamOptions(rate_hz=50, smooth="ema:8192", threshold=0.6, idle_class="idle")
    info = stream.app("qemu-m4", "m.rnnmcu", "out/app", opts)       # project + firmware + figures
    with stream.ReplayLink(open_transport(url)) as link:              # a board running the app
        result = link.replay(xq, masked, rate_hz=50)                  # events + device counters

Plain functions (the click commands in rnnmcu.cli.stream only parse arguments).  No numerics here:
the policy, its host simulation and the event metrics are rnnmcu.stream.policy; the model
reference is rnnmcu.codegen.qref.

The replay link (firmware/stream/STREAM.md): frames as in firmware/PROTOCOL.md.  SAMPLE (0x10)
carries ``seq32:u32, flags:u8 (bit 0 masked), values`` in the model's input encoding (quantised on
the host by the same rule as ``<name>_quantize_input``); the device answers EVENT (0x20) frames as
they fire, STATS (0x11 -> 0x91) with its counters, RESTART (0x12 -> 0x92).
"""
from __future__ import annotations

import os
import struct
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnmcu import facts, footprint
from rnnmcu.errors import CheckFailed, DeviceError, InputError

ST_SAMPLE, ST_STATS, ST_RESTART, ST_EVENT, ST_REPLY = (facts.STREAM_CODES[k] for k in (
    "SAMPLE", "STATS", "RESTART", "EVENT", "REPLY"))
STATS_FIELDS = ("received", "next_seq", "gaps", "bad_frames", "samples", "steps", "masked", "events",
                "resets", "errors", "ticks_max", "ticks_total_lo", "ticks_total_hi", "ticks_last",
                "clock_hz", "rate_mhz", "selftest_ticks")
_STATS = struct.Struct("<" + "I" * len(STATS_FIELDS) + "BH")
_EVENT = struct.Struct("<IIhiI")
# instructions per multiply-accumulate of the portable int8 kernels per arch (32 units, measured under
# QEMU -icount: bench/step_cost.py --variants int8-portable);
# `rnnmcu app --dry-run` gives an estimate from these, the built app measures itself
INSTR_PER_MAC = {"arm": 8.0, "riscv32": 9.0, "xtensa": 17.0}
POLICY_OVERHEAD_INSTR = 400   # policy, stream bookkeeping, counter reads (measured: a few hundred)


def _say(msg: str) -> None:
    print(f"rnnmcu: {msg}", file=sys.stderr, flush=True)


@dataclass
class StreamOptions:
    rate_hz: float = 50.0
    reset: str = "never"               # never | every:N | idle:K
    smooth: str = "ema:8192"           # none | ema:ALPHA_Q15 | majority:K
    threshold: float = 0.5             # output units (a probability for a softmax model)
    holdoff: int = 0                   # steps
    idle_class: str | None = None      # NAME | INDEX

    def __post_init__(self) -> None:
        if not 0.001 <= self.rate_hz <= 100000:
            raise InputError(f"--rate {self.rate_hz} Hz is out of range", "use a sensor rate like --rate 50")
        if self.holdoff < 0:
            raise InputError(f"--holdoff {self.holdoff} is negative", "give a step count >= 0")


def load_model(model_path: str):
    from rnnmcu.codegen import qmodel

    if not os.path.isfile(model_path):
        raise InputError(f"model file {model_path} does not exist", "convert one with rnnmcu convert")
    model, q = qmodel.load(model_path)
    if q.precision == "float32":
        raise InputError("the streaming app is integer-only and this model is float32",
                         "convert it with --precision int8 or int16")
    if model.needs_window:
        raise InputError(f"model {model.name} needs whole windows (Bidirectional or go_backwards): "
                         "it cannot classify a stream one sample at a time",
                         "train a unidirectional model for streaming (rnnmcu stream-train)")
    return model, q


def policy_config(model, q, opts: StreamOptions):
    from rnnmcu.stream import policy as stream_policy

    try:
        return stream_policy.make_config(
            model.output_dim, reset=opts.reset, smooth=opts.smooth, threshold=opts.threshold,
            holdoff=opts.holdoff, idle_class=opts.idle_class, s_out=q.s_out, precision=q.precision,
            class_names=model.class_names)
    except stream_policy.PolicyError as exc:
        raise InputError(str(exc), "see `rnnmcu app --help` for the option spellings") from exc


def figures(board, model, q, cfg, opts: StreamOptions, instr_per_sample: int | None = None) -> dict[str, Any]:
    """Latency and CPU load at the configured rate.  Without a measured ``instr_per_sample`` the
    instructions come from the model's multiply-accumulates and the arch's typical cost."""
    from rnnmcu.stream import policy as stream_policy

    latency_steps = stream_policy.min_latency_steps(cfg, q.output_max)
    macs = footprint.macs_per_step(model)
    measured = instr_per_sample is not None
    if not measured:
        per_mac = INSTR_PER_MAC.get(board.arch)
        instr_per_sample = None if per_mac is None else int(macs * per_mac + POLICY_OVERHEAD_INSTR)
    out: dict[str, Any] = {
        "board": board.name, "model": model.name, "precision": q.precision, "rate_hz": opts.rate_hz,
        "macs_per_step": macs, "instr_per_sample": instr_per_sample,
        "instr_source": "measured on the board" if measured else "estimate (MACs x typical instructions per MAC)",
        "clock_hz": board.clock_hz, "latency_steps": latency_steps,
        "latency_ms": round(1000.0 * latency_steps / opts.rate_hz, 3),
        "policy": cfg.to_dict()}
    if board.clock_hz and instr_per_sample is not None:
        budget = board.clock_hz / opts.rate_hz
        out.update({"budget_instr_per_sample": int(budget),
                    "cpu_load_percent": round(100.0 * instr_per_sample / budget, 4),
                    "compute_us_per_sample": round(1e6 * instr_per_sample / board.clock_hz, 2),
                    "event_latency_ms": round(1000.0 * latency_steps / opts.rate_hz
                                              + 1000.0 * instr_per_sample / board.clock_hz, 3)})
    return out


def write_sources(model, q, cfg, opts: StreamOptions, gen_dir: str, wide: bool = False) -> list[str]:
    """The model C (rnnmcu generate; ``wide``: int16 recurrent weights) plus
    rnnmcu_stream_config.{h,c} into ``gen_dir``."""
    import rnnmcu
    from rnnmcu.codegen import emit
    from rnnmcu.stream import policy as stream_policy

    files = list(emit.generate(model, q, gen_dir, wide=wide))
    banner = (f"/* Generated by rnnmcu {rnnmcu.__version__} — do not edit.  Streaming policy for model "
              f"{model.name} ({q.precision}, hash {q.hash[:16]}): rnnmcu app {opts.smooth} "
              f"reset {opts.reset} threshold {opts.threshold} holdoff {opts.holdoff} "
              f"rate {opts.rate_hz} Hz */\n")
    latency = stream_policy.min_latency_steps(cfg, q.output_max)
    for name, text in stream_policy.config_files(model.name, q.precision, cfg,
                                                 rate_mhz=int(round(opts.rate_hz * 1000)),
                                                 latency_steps=latency, banner=banner,
                                                 out_elem=q.output_bits // 8).items():
        path = os.path.join(gen_dir, name)
        with open(path, "w") as f:
            f.write(text)
        files.append(path)
    return files


def app(board_name: str, model_path: str, out_dir: str, opts: StreamOptions, *,
        framework: str | None = None, dry_run: bool = False, build: bool = True,
        wide: bool = False) -> dict[str, Any]:
    """Generate (and build) the streaming firmware for a board.  ``dry_run``: only the figures;
    ``wide``: int16 recurrent weights (rnnmcu build --wide-weights)."""
    from rnnmcu.boards import platformio
    from rnnmcu.boards.loader import load_board

    b = load_board(board_name).with_framework(framework)
    model, q = load_model(model_path)
    cfg = policy_config(model, q, opts)
    info = figures(b, model, q, cfg, opts)
    if dry_run:
        info["dry_run"] = True
        return info
    out = Path(out_dir)
    gen = out / "gen"
    gen.mkdir(parents=True, exist_ok=True)
    write_sources(model, q, cfg, opts, str(gen), wide)
    proj = platformio.generate_project(b, gen, out / "project", framework=framework, app="stream")
    info["project"] = str(proj)
    if build:
        _say(f"building the streaming app for {b.name}")
        res = platformio.build(proj, b, framework=framework)
        info.update({"firmware": str(res.firmware_path), "flash_bytes": res.flash_bytes,
                     "ram_bytes": res.ram_bytes})
    return info


# --- the replay link --------------------------------------------------------------------------

@dataclass
class ReplayResult:
    banner: dict[str, str]
    events: list[dict[str, int]]
    stats: dict[str, int]
    sent: int
    seconds: float
    late_sends: int = 0                    # samples the host itself sent late (host load)
    stats_reply_s: float = 0.0             # STATS round trip after the last sample
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"banner": self.banner, "events": self.events, "stats": self.stats, "sent": self.sent,
                "seconds": round(self.seconds, 3), "late_sends": self.late_sends,
                "stats_reply_s": round(self.stats_reply_s, 4), **self.extra}


def parse_banner(text: str) -> dict[str, str]:
    words = text.strip().split()
    if len(words) < 4 or words[:2] != ["rnnmcu", "stream"]:
        raise DeviceError(f"the device did not introduce itself as the streaming app: {text[:120]!r}",
                          "flash the firmware built by `rnnmcu app`, not the test firmware")
    out = {"model": words[2], "hash": words[3]}
    for w in words[4:]:
        if "=" in w:
            k, v = w.split("=", 1)
            out[k] = v
    return out


class ReplayLink:
    """Samples to a board running the streaming app over a Transport; events and counters back."""

    def __init__(self, transport) -> None:
        from rnnmcu.hil import codec

        self.t = transport
        self.codec = codec
        self.reader = codec.FrameReader()
        self.banner: dict[str, str] | None = None
        self.events: list[dict[str, int]] = []
        self._replies: list[Any] = []
        self._pre = bytearray()

    def __enter__(self) -> "ReplayLink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.t.close()

    def wait_banner(self, timeout: float = 10.0) -> dict[str, str]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            data = self.t.read(4096, 0.05)
            if not data:
                continue
            self._pre += data
            if b"\x00" in self._pre:
                text, _, rest = bytes(self._pre).partition(b"\x00")
                line = text.decode("ascii", "replace")
                idx = line.rfind("rnnmcu stream")
                self.banner = parse_banner(line[idx:] if idx >= 0 else line)
                self._feed(rest)
                return self.banner
        raise DeviceError(f"no streaming-app banner within {timeout:.0f} s (got {bytes(self._pre[:80])!r})",
                          f"is the board running the app built by `rnnmcu app`? ({self.t.describe()})")

    def _feed(self, data: bytes) -> None:
        for chunk in self.reader.feed(data):
            try:
                fr = self.codec.decode_frame(chunk)
            except self.codec.ProtocolError:
                continue  # a damaged reply: the counters in STATS still tell what happened
            if fr.type == ST_EVENT and len(fr.payload) == _EVENT.size:
                sample, seq, cls, conf, ticks = _EVENT.unpack(fr.payload)
                self.events.append({"sample": sample, "seq": seq, "cls": cls, "confidence": conf,
                                    "ticks": ticks})
            else:
                self._replies.append(fr)

    def _poll(self, timeout: float) -> None:
        data = self.t.read(4096, max(timeout, 0.0))
        if data:
            self._feed(data)

    def _request(self, type_: int, timeout: float = 10.0):
        self.t.write(self.codec.encode_frame(type_, 0, b""))
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for i, fr in enumerate(self._replies):
                if fr.type == (type_ | ST_REPLY):
                    return self._replies.pop(i)
            self._poll(0.02)
        raise DeviceError(f"no reply to request 0x{type_:02x} within {timeout:.0f} s",
                          f"the device may be stuck or not running the streaming app ({self.t.describe()})")

    def stats(self) -> dict[str, int]:
        fr = self._request(ST_STATS)
        if len(fr.payload) != _STATS.size:
            raise DeviceError(f"STATS reply of {len(fr.payload)} bytes, expected {_STATS.size}",
                              "the firmware and this rnnmcu disagree: rebuild the app")
        vals = _STATS.unpack(fr.payload)
        out = dict(zip(STATS_FIELDS + ("counter_kind", "counter_scale"), vals))
        out["ticks_total"] = out.pop("ticks_total_lo") + (out.pop("ticks_total_hi") << 32)
        return out

    def restart(self) -> None:
        self._request(ST_RESTART)
        self.events.clear()

    @staticmethod
    def sample_frame(codec, seq: int, masked: bool, values: bytes) -> bytes:
        return codec.encode_frame(ST_SAMPLE, seq & 0xFF, struct.pack("<IB", seq, 1 if masked else 0) + values)

    def replay(self, xq, masked, *, elem_size: int, rate_hz: float | None, skip: set[int] | None = None,
               progress: bool = False) -> ReplayResult:
        """Send every sample (``skip``: seq numbers not sent, to prove the device notices gaps),
        paced at ``rate_hz`` (None: as fast as the link takes them), collect events, read STATS."""
        import numpy as np

        if self.banner is None:
            self.wait_banner()
        dt = {1: "<i1", 2: "<i2"}[elem_size]
        rows = np.asarray(xq).astype(dt)
        n = len(rows)
        period = 0.0 if not rate_hz else 1.0 / rate_hz
        t0 = time.monotonic()
        late = 0
        sent = 0
        for i in range(n):
            if period:
                due = t0 + i * period
                while True:
                    now = time.monotonic()
                    if now >= due:
                        break
                    self._poll(min(due - now, 0.05))
                if now - due > period:
                    late += 1
            if skip and i in skip:
                continue
            self.t.write(self.sample_frame(self.codec, i, bool(masked[i]), rows[i].tobytes()))
            sent += 1
            if not period and i % 64 == 63:
                self._poll(0.0)
            if progress and i % 1000 == 999:
                _say(f"{i + 1}/{n} samples, {len(self.events)} events")
        t_last = time.monotonic()
        st = self.stats()
        reply_s = time.monotonic() - t_last
        return ReplayResult(self.banner or {}, list(self.events), st, sent, t_last - t0, late, reply_s)


def keep_up(stats: dict[str, int], rate_hz: float) -> dict[str, Any]:
    """Does the device keep up at ``rate_hz``: the worst sample's instructions against the budget
    clock / rate (instructions = counter ticks x counter scale)."""
    scale = max(int(stats.get("counter_scale", 1)), 1)
    worst = stats["ticks_max"] * scale
    mean = stats["ticks_total"] * scale / max(stats["steps"], 1)
    clock = stats["clock_hz"]
    out: dict[str, Any] = {"instr_per_sample_max": worst, "instr_per_sample_mean": round(mean, 1),
                           "clock_hz": clock, "rate_hz": rate_hz}
    if clock and stats.get("counter_kind", 0):
        budget = clock / rate_hz
        out.update({"budget_instr_per_sample": int(budget), "cpu_load_percent_max": round(100 * worst / budget, 4),
                    "keeps_up": worst < budget})
    return out


def load_stream(path: str) -> dict[str, Any]:
    """A recording: ``.npz`` with ``x_stream`` (N, F) (rnnmcu stream-data) or a 2-D ``x``;
    ``onsets``/``ends``/``classes``/``rate_hz`` when present."""
    import numpy as np

    if not os.path.isfile(path):
        raise InputError(f"recording {path} does not exist", "make one with rnnmcu stream-data")
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} is not a readable .npz recording: {exc}",
                         "write it with numpy.savez or rnnmcu stream-data") from exc
    with z:
        key = "x_stream" if "x_stream" in z.files else "x"
        if key not in z.files or z[key].ndim != 2:
            raise InputError(f"{path} holds no (N, F) array x_stream (or 2-D x)",
                             "a recording is one long stream of samples: rnnmcu stream-data writes one")
        out = {k: z[k] for k in z.files}
    out["x"] = out[key].astype(np.float32)
    return out


def check_inputs(model, x) -> None:
    if x.shape[1] != model.input_dim:
        raise InputError(f"the recording has {x.shape[1]} channels, model {model.name} takes {model.input_dim}",
                         "replay a recording of the sensor the model was trained on")


def run_on_board(board_name: str, model_path: str, data_path: str, opts: StreamOptions, workdir: str, *,
                 port: str | None = None, replay_rate: float | None = None,
                 skip: set[int] | None = None) -> dict[str, Any]:
    """Build the streaming app for an emulated (or host) board, start it, replay a recording
    through it and compare its events with the host simulation of the same policy."""
    from rnnmcu import target
    from rnnmcu.boards.loader import load_board
    from rnnmcu.stream import policy as stream_policy
    from rnnmcu.hil.transport import open_transport

    b = load_board(board_name)
    model, q = load_model(model_path)
    rec = load_stream(data_path)
    x = rec["x"]
    check_inputs(model, x)
    cfg = policy_config(model, q, opts)
    sim = stream_policy.simulate_model(model, q, cfg, x)
    elem = q.input_bits // 8  # the replay link carries the model's inputs

    def go(t) -> dict[str, Any]:
        with ReplayLink(t) as link:
            link.wait_banner()
            res = link.replay(sim["xq"], sim["masked"], elem_size=elem, rate_hz=replay_rate, skip=skip)
        return res.to_dict()

    if port is not None:
        out = go(open_transport(port, baudrate=b.uart.baud))
    else:
        if b.kind == "real":
            raise InputError(f"{b.name} is a real board: pass --port", "flash the app, then --port PORT")
        info = app(board_name, model_path, workdir, opts)
        with target.running(b, info["firmware"]) as url:
            out = go(open_transport(url))
    expected = [e.to_dict() for e in sim["events"]]
    got = [{"sample": e["sample"], "cls": e["cls"], "confidence": e["confidence"]} for e in out["events"]]
    want = [{"sample": e["sample"], "cls": e["cls"], "confidence": e["confidence"]} for e in expected]
    out.update({"expected_events": expected, "events_equal": got == want, "expected_resets": sim["resets"],
                "keep_up": keep_up(out["stats"], opts.rate_hz), "board": b.name,
                "samples": int(len(x))})
    if {"onsets", "ends", "classes"} <= set(rec):
        out["metrics"] = stream_policy.event_metrics(
            want, rec["onsets"], rec["ends"], rec["classes"], n_samples=len(x),
            rate_hz=float(rec.get("rate_hz", opts.rate_hz)), idle_class=cfg.idle_class)
    return out


def replay_port(port: str, data_path: str, model_path: str | None, *, rate_hz: float | None,
                baud: int = 115200) -> dict[str, Any]:
    """`rnnmcu replay DATA --port URL`: pace a recording into a board already running the app."""
    from rnnmcu.stream import policy as stream_policy
    from rnnmcu.hil.transport import open_transport

    rec = load_stream(data_path)
    x = rec["x"]
    if model_path is None:
        raise InputError("rnnmcu replay needs the model (--model M.rnnmcu) to quantise the samples",
                         "pass the .rnnmcu file the app was built from")
    model, q = load_model(model_path)
    check_inputs(model, x)
    xq, masked = stream_policy.quantize_stream(model, q, x)
    with ReplayLink(open_transport(port, baudrate=baud)) as link:
        banner = link.wait_banner()
        if banner.get("hash") != f"{q.hash32:08x}":
            raise CheckFailed(f"the device runs model {banner.get('model')} ({banner.get('hash')}), "
                              f"not {model.name} ({q.hash32:08x})", "flash the app built from this model")
        res = link.replay(xq, masked, elem_size=q.input_bits // 8, rate_hz=rate_hz,
                          progress=True)
    out = res.to_dict()
    out["keep_up"] = keep_up(res.stats, rate_hz or float(res.stats["rate_mhz"]) / 1000.0 or 1.0)
    return out


def stream_eval(model_path: str, data_path: str, opts: StreamOptions) -> dict[str, Any]:
    """Host simulation of the streaming app on a long recording, with event-level metrics."""
    from rnnmcu.stream import policy as stream_policy

    model, q = load_model(model_path)
    rec = load_stream(data_path)
    x = rec["x"]
    check_inputs(model, x)
    if not {"onsets", "ends", "classes"} <= set(rec):
        raise InputError(f"{data_path} has no ground truth (onsets, ends, classes)",
                         "make a labelled recording with rnnmcu stream-data")
    cfg = policy_config(model, q, opts)
    sim = stream_policy.simulate_model(model, q, cfg, x)
    events = [e.to_dict() for e in sim["events"]]
    rate = float(rec["rate_hz"]) if "rate_hz" in rec else opts.rate_hz
    metrics = stream_policy.event_metrics(events, rec["onsets"], rec["ends"], rec["classes"],
                                          n_samples=len(x), rate_hz=rate, idle_class=cfg.idle_class)
    return {"model": model.name, "precision": q.precision, "samples": int(len(x)), "rate_hz": rate,
            "resets": sim["resets"], "policy": cfg.to_dict(), "metrics": metrics, "events": events}
