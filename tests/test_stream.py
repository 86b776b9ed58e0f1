"""The streaming classifier: the C policy against its Python twin, the stream app on the host
board and on QEMU (events equal the host simulation, no dropped samples, keeps up), recordings
with known gestures and the event metrics, the CLI."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from rnnmcu import ir, stream
from rnnmcu.codegen import qmodel, quantize
from rnnmcu.stream import policy as stream_policy
from rnnmcu.stream.policy import Policy, PolicyConfig, PolicyError
from rnnmcu.stream import data as stream_data

from codegen_helpers import random_recurrent

REPO = Path(__file__).resolve().parent.parent
STREAM_SRC = REPO / "firmware" / "stream"


# --- the policy: C == Python -------------------------------------------------------------------

@pytest.fixture(scope="module")
def policy_exe(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("policy") / "policy_driver"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", "-fsanitize=undefined",
                    "-fno-sanitize-recover", f"-I{STREAM_SRC}", str(REPO / "tests" / "c" / "stream_policy_driver.c"),
                    str(STREAM_SRC / "rnnmcu_policy.c"), "-o", str(out)], check=True)
    return out


def _scores(rng: np.random.Generator, T: int, n: int, lo: int, hi: int) -> np.ndarray:
    """Piecewise 'gestures': a class dominates for a while, with noise, so events happen."""
    y = rng.integers(lo // 4, hi // 4, (T, n))
    t = 0
    while t < T:
        d = int(rng.integers(3, 40))
        c = int(rng.integers(0, n))
        y[t:t + d, c] = rng.integers(hi // 2, hi + 1, min(d, T - t))
        t += d + int(rng.integers(0, 20))
    return np.clip(y, lo, hi)


def _run_c(exe: Path, cfg: PolicyConfig, y: np.ndarray, elem: int) -> list[tuple]:
    head = (f"{cfg.n_classes} {stream_policy.SMOOTH_CODES[cfg.smooth]} {stream_policy.RESET_CODES[cfg.reset]} "
            f"{cfg.k} {cfg.idle_class} {cfg.alpha_q15} {cfg.threshold} {cfg.holdoff} {cfg.reset_n} {elem} {len(y)}\n")
    body = "\n".join(" ".join(str(int(v)) for v in row) for row in y)
    r = subprocess.run([str(exe)], input=head + body + "\n", capture_output=True, text=True, check=True)
    return [tuple(int(v) if v.lstrip("-").isdigit() else v for v in line.split()) for line in r.stdout.splitlines()]


def _run_py(cfg: PolicyConfig, y: np.ndarray) -> list[tuple]:
    p = Policy(cfg)
    out: list[tuple] = []
    for t, row in enumerate(y):
        ev, reset = p.update(row)
        if ev is not None:
            out.append(("E", t, ev[0], ev[1]))
        if reset:
            out.append(("R", t))
    return out


CONFIGS = [
    dict(smooth="ema", alpha_q15=8192, threshold=60, holdoff=0, idle_class=0, reset="never"),
    dict(smooth="ema", alpha_q15=32768, threshold=-5, holdoff=7, idle_class=-1, reset="every", reset_n=50),
    dict(smooth="ema", alpha_q15=300, threshold=1, holdoff=3, idle_class=2, reset="idle", reset_n=5),
    dict(smooth="majority", k=5, threshold=50, holdoff=0, idle_class=0, reset="idle", reset_n=10),
    dict(smooth="majority", k=8, threshold=100, holdoff=12, idle_class=-1, reset="never"),
    dict(smooth="majority", k=1, threshold=-32768, holdoff=1, idle_class=1, reset="every", reset_n=3),
    dict(smooth="none", threshold=70, holdoff=5, idle_class=0, reset="idle", reset_n=1),
]


@pytest.mark.parametrize("elem", [1, 2])
@pytest.mark.parametrize("ci", range(len(CONFIGS)))
def test_c_policy_is_bit_exact_with_the_python_twin(policy_exe, ci, elem):
    rng = np.random.default_rng(100 + ci * 3 + elem)
    n = int(rng.integers(2, 7))
    lo, hi = (-128, 127) if elem == 1 else (-32768, 32767)
    kw = dict(CONFIGS[ci])
    if kw["idle_class"] >= n:
        kw["idle_class"] = n - 1
    cfg = PolicyConfig(n_classes=n, **kw)
    y = _scores(rng, 1500, n, lo, hi)
    want = _run_py(cfg, y)
    assert any(w[0] == "E" for w in want), "the test stream should fire events"
    assert _run_c(policy_exe, cfg, y, elem) == want


def test_policy_semantics_holdoff_latch_idle_reset():
    cfg = PolicyConfig(n_classes=3, smooth="none", threshold=10, holdoff=4, idle_class=0, reset="idle", reset_n=3)
    p = Policy(cfg)
    seq = [[0, 20, 0]] * 3 + [[20, 0, 0]] * 4 + [[0, 20, 0], [0, 0, 20], [0, 20, 0]]
    got = [p.update(np.array(s)) for s in seq]
    events = [(t, e) for t, (e, _) in enumerate(got) if e is not None]
    resets = [t for t, (_, r) in enumerate(got) if r]
    # fires once at step 0 (latched while active), re-arms after idle, holds off before step 7
    # step 8 (class 2) comes 1 step after the event at 7: held off; step 9 is the latched class
    assert events == [(0, (1, 20)), (7, (1, 20))]
    assert resets == [5]  # once, after 3 inactive steps


def test_policy_options_and_errors():
    assert stream_policy.parse_reset("every:25") == ("every", 25)
    assert stream_policy.parse_smooth("majority:7") == ("majority", 32768, 7)
    cfg = stream_policy.make_config(4, smooth="ema:16384", threshold=0.5, s_out=1 / 128, precision="int8",
                                    idle_class="idle", class_names=["idle", "a", "b", "c"])
    assert cfg.threshold == 64 and cfg.idle_class == 0 and cfg.alpha_q15 == 16384
    for bad in ("every:0", "sometimes", "idle:"):
        with pytest.raises(PolicyError):
            stream_policy.parse_reset(bad)
    for bad in ("ema:0", "ema:40000", "majority:300", "median:3"):
        with pytest.raises(PolicyError):
            stream_policy.parse_smooth(bad)
    with pytest.raises(PolicyError, match="idle-class"):
        stream_policy.parse_idle_class("nope", ["idle", "a"], 2)
    with pytest.raises(PolicyError, match="integer-only"):
        stream_policy.threshold_q(0.5, 1.0, "float32")
    # the policy's own delay: majority:5 needs 3 votes, ema 0.25 to 0.5 of full scale needs 3 steps
    assert stream_policy.min_latency_steps(PolicyConfig(n_classes=2, smooth="majority", k=5, threshold=1), 127) == 3
    assert stream_policy.min_latency_steps(PolicyConfig(n_classes=2, smooth="ema", alpha_q15=8192,
                                                        threshold=64), 127) == 3


# --- recordings and metrics --------------------------------------------------------------------

def test_stream_recording_has_gestures_at_known_times():
    rec = stream_data.make_stream(classes=4, gestures=6, seed=5)
    x, on, en, cl = rec["x_stream"], rec["onsets"], rec["ends"], rec["classes"]
    assert x.shape[1] == 6 and x.dtype == np.float32 and len(on) == 6
    assert np.all(on[1:] > en[:-1]) and np.all(cl >= 1) and np.all(cl < 4)
    # motion energy (gyro) is higher inside gestures than in the gaps
    g = np.abs(np.diff(x[:, 3:6], axis=0)).sum(1)
    inside = np.zeros(len(g), bool)
    for o, e in zip(on, en):
        inside[o:e - 1] = True
    assert g[inside].mean() > 1.5 * g[~inside].mean()
    assert rec["y_step"][on[0]] == 0 and rec["y_step"][(on[0] + en[0]) // 2 + 1] == cl[0]
    again = stream_data.make_stream(classes=4, gestures=6, seed=5)
    np.testing.assert_array_equal(again["x_stream"], x)


def test_event_metrics():
    on, en, cl = np.array([100, 300, 500]), np.array([150, 360, 560]), np.array([1, 2, 1])
    events = [{"sample": 120, "cls": 1}, {"sample": 125, "cls": 1},   # detection + repeat
              {"sample": 310, "cls": 1},                               # wrong class
              {"sample": 340, "cls": 2},                               # detection, latency 40
              {"sample": 900, "cls": 2}]                               # nothing there
    m = stream_policy.event_metrics(events, on, en, cl, n_samples=3600 * 50, rate_hz=50.0)
    assert (m["gestures"], m["detected"], m["false_alarms"], m["wrong_class"], m["repeats"]) == (3, 2, 3, 1, 1)
    assert m["false_alarms_per_hour"] == 3.0 and m["latency_samples_max"] == 40
    assert m["per_class"][1] == {"gestures": 2, "detected": 1}


# --- the app on boards -------------------------------------------------------------------------

def _model_file(tmp: Path, precision: str, rec: dict, *, mask: bool = False) -> str:
    rng = np.random.default_rng(3)
    x = rec["x_stream"]
    F = x.shape[1]
    layers = [random_recurrent(rng, "gru", F, 12, scale=1.0), ir.Dense(W=rng.normal(0, 1.5, (4, 12)), b=np.zeros(4)),
              ir.Softmax(dim=4)]
    m = ir.Model(name="strm", input_dim=F, layers=layers, norm_mean=x.mean(0), norm_std=x.std(0),
                 mask_value=np.zeros(F) if mask else None, class_names=["idle", "shake", "circle", "swipe_left"])
    q = quantize.quantize(m, x[None, :512], None, precision)
    path = tmp / f"strm_{precision}.rnnmcu"
    qmodel.save(str(path), m, q)
    return str(path)


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> tuple[Path, dict]:
    rec = stream_data.make_stream(classes=4, gestures=8, seed=2)
    path = tmp_path_factory.mktemp("rec") / "rec.npz"
    np.savez(path, **rec)
    return path, rec


def test_host_board_events_equal_the_host_simulation_with_masked_samples(tmp_path, recording):
    """int16, majority smoothing, resets every 64 steps; a stretch of masked samples (all zeros)
    is skipped by the device as by the simulation, and sample indices still count it."""
    _, rec = recording
    rec = dict(rec)
    x = rec["x_stream"].copy()
    x[200:230] = 0.0
    rec["x_stream"] = x
    data = tmp_path / "masked.npz"
    np.savez(data, **rec)
    model = _model_file(tmp_path, "int16", rec, mask=True)
    opts = stream.StreamOptions(rate_hz=50, smooth="majority:5", threshold=0.4, idle_class="idle",
                                reset="every:64", holdoff=5)
    out = stream.run_on_board("host", model, str(data), opts, str(tmp_path / "w"), replay_rate=None)
    st = out["stats"]
    assert out["events_equal"], (out["events"][:5], out["expected_events"][:5])
    assert len(out["expected_events"]) > 3
    assert st["received"] == st["samples"] == len(x) and st["gaps"] == 0 and st["bad_frames"] == 0
    assert st["masked"] == 30 and st["steps"] == len(x) - 30
    assert st["resets"] == out["expected_resets"] == (len(x) - 30) // 64
    assert out["metrics"]["gestures"] == 8


@pytest.mark.emulator
def test_qemu_m4_replay_at_sensor_rate_no_drops_keeps_up_and_notices_gaps(tmp_path, recording):
    from rnnmcu.boards import emulator
    from rnnmcu.boards.loader import load_board
    from rnnmcu.hil.transport import open_transport

    data, rec = recording
    model_path = _model_file(tmp_path, "int8", rec)
    rate = 500.0  # the board's budget is checked at this rate; 1310 samples take 2.6 s
    opts = stream.StreamOptions(rate_hz=rate, smooth="ema:8192", threshold=0.6, idle_class="idle",
                                reset="idle:40", holdoff=10)
    info = stream.app("qemu-m4", model_path, str(tmp_path / "app"), opts)
    model, q = stream.load_model(model_path)
    cfg = stream.policy_config(model, q, opts)
    sim = stream_policy.simulate_model(model, q, cfg, rec["x_stream"])
    n = len(rec["x_stream"])
    with emulator.Emulator(load_board("qemu-m4"), info["firmware"]) as emu:
        with stream.ReplayLink(open_transport(emu.url)) as link:
            banner = link.wait_banner()
            res = link.replay(sim["xq"], sim["masked"], elem_size=q.input_bits // 8, rate_hz=rate)
            # the same firmware, restarted: three samples never sent -> the device counts the gap
            link.restart()
            gap = link.replay(sim["xq"][:300], sim["masked"][:300], elem_size=q.input_bits // 8, rate_hz=None, skip={10, 11, 250})
    assert banner["model"] == "strm" and int(banner["instr_per_sample"]) > 0
    assert int(banner["load_ppm"]) > 0 and banner["latency_steps"] == str(stream_policy.min_latency_steps(cfg, q.output_max))
    st = res.stats
    assert st["received"] == n == res.sent and st["next_seq"] == n and st["gaps"] == 0 and st["bad_frames"] == 0
    got = [(e["sample"], e["cls"], e["confidence"]) for e in res.events]
    assert got == [(e.sample, e.cls, e.confidence) for e in sim["events"]] and got
    assert st["resets"] == sim["resets"] > 0
    ku = stream.keep_up(st, rate)
    assert ku["keeps_up"] and ku["instr_per_sample_max"] < ku["budget_instr_per_sample"]
    assert gap.stats["gaps"] == 3 and gap.stats["received"] == 297 and gap.stats["next_seq"] == 300
    m = stream_policy.event_metrics([e.to_dict() for e in sim["events"]], rec["onsets"], rec["ends"],
                                    rec["classes"], n_samples=n, rate_hz=50.0, idle_class=0)
    assert m["gestures"] == 8 and m["events"] == len(got)


# --- CLI -----------------------------------------------------------------------------------------

def test_cli_app_dry_run_and_stream_eval(tmp_path, recording):
    from rnnmcu.cli import main

    data, rec = recording
    model = _model_file(tmp_path, "int8", rec)
    r = CliRunner().invoke(main, ["app", "--board", "esp32", "--model", model, "--dry-run", "--json",
                                  "--rate", "100", "--smooth", "majority:5", "--idle-class", "idle"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["budget_instr_per_sample"] == 2_400_000 and d["latency_steps"] == 3 and d["cpu_load_percent"] > 0
    r = CliRunner().invoke(main, ["stream-eval", model, str(data), "--json", "--idle-class", "idle"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["metrics"]["gestures"] == 8
    r = CliRunner().invoke(main, ["app", "--board", "qemu-m4", "--model", model, "--dry-run", "--reset", "often"])
    assert r.exit_code == 2 and "every:N" in r.output


@pytest.mark.emulator
@pytest.mark.parametrize("board", ["qemu-rv32", "qemu-lx106"])
def test_stream_app_events_equal_on_the_other_emulated_boards(tmp_path, recording, board):
    """The same streaming app on RV32IMC and Xtensa LX106: events equal the host simulation."""
    data, rec = recording
    model = _model_file(tmp_path, "int8", rec)
    opts = stream.StreamOptions(rate_hz=50, smooth="ema:8192", threshold=0.6, idle_class="idle",
                                reset="idle:40", holdoff=10)
    out = stream.run_on_board(board, model, str(data), opts, str(tmp_path / "w"), replay_rate=None)
    st = out["stats"]
    assert out["events_equal"] and out["expected_events"], (out["events"][:5], out["expected_events"][:5])
    assert st["received"] == st["samples"] == len(rec["x_stream"]) and st["gaps"] == 0 and st["bad_frames"] == 0
    assert st["resets"] == out["expected_resets"]
