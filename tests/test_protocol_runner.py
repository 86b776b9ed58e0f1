"""The HIL runner and its reports, against the host board with the fake model (whose outputs are
recomputed in numpy), including deliberately wrong expectations that must be reported."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from rnnmcu.errors import DeviceError, InputError
from rnnmcu.hil import Device, open_transport
from rnnmcu.hil.report import report_json, write_json, write_junit
from rnnmcu.hil.runner import run_hil
import protocol_helpers as S  # tests/ is on sys.path under pytest
I16 = np.dtype(np.int16)


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    out = tmp_path_factory.mktemp("runnerfw")
    return lambda *d: S.build_host(out, defines=d)


def _open(exe: Path) -> Device:
    d = Device(open_transport(f"spawn:{exe}"), timeout=5.0)
    d.sync()
    return d


def _data(seed: int, n: int = 4, T: int = 20) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    xq = rng.integers(-3000, 3000, size=(n, T, 3)).astype(I16)
    lengths = [T, T // 2, 1, T - 3][:n]
    return xq, lengths


def _refs(xq: np.ndarray, lengths: list[int], output_sequence: bool = False):
    steps = [S.fake_steps(xq[i, :L], I16) for i, L in enumerate(lengths)]
    runs = [S.fake_run(xq[i, :L], I16, output_sequence) for i, L in enumerate(lengths)]
    return steps, runs


def test_all_sequences_pass(builds) -> None:
    xq, lengths = _data(1)
    steps, runs = _refs(xq, lengths)
    with _open(builds()) as d:
        rep = run_hil(d, steps, runs, xq, lengths, bench_repeats=10)
    assert rep["passed"] is True
    s = rep["summary"]
    assert (s["sequences"], s["passed"], s["failed"], s["mismatches"]) == (4, 4, 0, 0)
    assert s["values_checked"] == sum(lengths) * 4 + 4 * 4
    assert [r["length"] for r in rep["sequences"]] == lengths
    assert all(r["step"]["mismatches"] == 0 and r["run"]["mismatches"] == 0 for r in rep["sequences"])
    assert rep["sequences"][0]["bench"]["n"] == 10
    assert rep["device"]["model_name"] == "fake" and rep["device"]["model_hash_hex"] == "5eed1234"
    json.loads(report_json(rep))


def test_wrong_expectations_are_reported_with_step_and_index(builds) -> None:
    xq, lengths = _data(2)
    steps, runs = _refs(xq, lengths)
    steps[1] = steps[1].copy()
    steps[1][3, 2] += 1            # sequence 1, step 3, output 2
    runs[3] = runs[3].copy()
    runs[3][0] -= 7                # sequence 3, the run's output 0
    with _open(builds()) as d:
        rep = run_hil(d, steps, runs, xq, lengths, bench_repeats=0)
    assert rep["passed"] is False
    assert rep["summary"]["failed"] == 2 and rep["summary"]["mismatches"] == 2
    seqs = rep["sequences"]
    assert [r["passed"] for r in seqs] == [True, False, True, False]
    (m1,) = seqs[1]["mismatches"]
    assert m1 == {"sequence": 1, "phase": "step", "step": 3, "index": 2,
                  "expected": int(steps[1][3, 2]), "got": int(steps[1][3, 2]) - 1}
    (m3,) = seqs[3]["mismatches"]
    assert (m3["phase"], m3["step"], m3["index"]) == ("run", lengths[3] - 1, 0)
    assert m3["got"] - m3["expected"] == 7
    assert seqs[1]["bench"] is None


def test_mismatch_list_is_capped_but_counted(builds) -> None:
    xq, lengths = _data(3, n=1)
    steps, runs = _refs(xq, lengths)
    steps[0] = steps[0] + 1
    with _open(builds()) as d:
        rep = run_hil(d, steps, runs, xq, lengths, bench_repeats=0, max_mismatches=5)
    r = rep["sequences"][0]
    assert r["mismatches_total"] == lengths[0] * 4 and len(r["mismatches"]) == 5


def test_bench_run_model_benches_run_and_still_steps(builds) -> None:
    """A streaming model flagged BENCH_RUN (an --input-projections build): the step pass runs,
    BENCH times one run() (so its n is capped at the device's window, 64 here, where n step()s
    would take 500).  (The host build has no counter; the emulated boards' reports saying
    "timed": "run" is test_kernels_arch's.)"""
    xq, lengths = _data(5)
    steps, runs = _refs(xq, lengths)
    with _open(builds("FAKE_BENCH_RUN")) as d:
        rep = run_hil(d, steps, runs, xq, lengths, bench_repeats=500)
        assert d.cached_info.bench_runs and not d.cached_info.window_only
    assert rep["passed"] is True and rep["summary"]["step_pass"] is True
    assert all(r["step"]["mismatches"] == 0 for r in rep["sequences"])
    assert rep["sequences"][0]["bench"]["n"] == 64
    with _open(builds()) as d:
        plain = run_hil(d, steps, runs, xq, lengths, bench_repeats=500)
    assert plain["sequences"][0]["bench"]["n"] == 500


def test_window_only_skips_the_step_pass(builds) -> None:
    xq, lengths = _data(4)
    steps, runs = _refs(xq, lengths, output_sequence=True)
    with _open(builds("FAKE_WINDOW_ONLY", "FAKE_OUTPUT_SEQUENCE")) as d:
        rep = run_hil(d, steps, runs, xq, lengths, bench_repeats=500)
        assert rep["passed"] is True
        assert all(r["step"] == {"skipped": "window-only model"} for r in rep["sequences"])
        assert rep["sequences"][0]["bench"]["n"] == 64   # capped at the device's window
        runs[2] = runs[2].copy()
        runs[2][0, 1] += 1
        bad = run_hil(d, None, runs, xq, lengths, bench_repeats=0)
    assert bad["passed"] is False
    (m,) = bad["sequences"][2]["mismatches"]
    assert (m["phase"], m["step"], m["index"]) == ("run", 0, 1)


def test_long_sequences_stream_but_skip_the_run(builds) -> None:
    rng = np.random.default_rng(5)
    seqs = [rng.integers(-50, 50, size=(100, 3)).astype(I16)]   # max_steps is 64
    with _open(builds()) as d:
        rep = run_hil(d, [S.fake_steps(seqs[0], I16)], [S.fake_run(seqs[0], I16)], seqs,
                      bench_repeats=0)
    assert rep["passed"] is True
    assert "exceeds" in rep["sequences"][0]["run"]["skipped"]
    assert rep["summary"]["runs_skipped"] == 1


def test_device_errors_name_the_sequence_and_step(builds) -> None:
    xq, lengths = _data(6, n=2)
    xq[1, 4, 0] = -32768   # the fake model refuses this step
    steps, runs = _refs(xq, lengths)
    with _open(builds()) as d:
        with pytest.raises(DeviceError, match=r"sequence 1 \(STEP 4\).*model error") as ei:
            run_hil(d, steps, runs, xq, lengths)
    assert ei.value.exit_code == 4


@pytest.mark.parametrize("mutate,msg", [
    (lambda st, ru, xq: (st[:1], ru, xq), "1 step references for 4 sequences"),
    (lambda st, ru, xq: ([s[:-1] for s in st], ru, xq), "step reference of shape"),
    (lambda st, ru, xq: (st, [r.astype(float) + 0.5 for r in ru], xq), "not integers"),
    (lambda st, ru, xq: (st, [np.full(4, 40000) for _ in ru], xq), "outside the int16 range"),
    (lambda st, ru, xq: (st, ru, xq[..., :2]), "expects \\(T>0, 3\\)"),
    (lambda st, ru, xq: (None, None, xq), "nothing to check"),
])
def test_bad_inputs_fail_before_any_traffic(builds, mutate, msg) -> None:
    xq, lengths = _data(7)
    steps, runs = _refs(xq, lengths)
    st, ru, x = mutate(steps, runs, xq)
    with _open(builds()) as d:
        with pytest.raises(InputError, match=msg):
            run_hil(d, st, ru, x, lengths)


def test_reports_are_written_atomically(builds, tmp_path: Path) -> None:
    xq, lengths = _data(8)
    steps, runs = _refs(xq, lengths)
    steps[0] = steps[0].copy()
    steps[0][1, 0] += 1
    with _open(builds()) as d:
        rep = run_hil(d, steps, runs, xq, lengths, bench_repeats=5, suite="fake-host")
    jpath = write_json(tmp_path / "hil.json", rep)
    xpath = write_junit(tmp_path / "hil.xml", rep)
    assert json.loads(jpath.read_text())["summary"]["failed"] == 1
    root = ET.parse(xpath).getroot()
    suite = root.find("testsuite")
    assert suite.get("tests") == "4" and suite.get("failures") == "1"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["seq0000", "seq0001", "seq0002", "seq0003"]
    fail = cases[0].find("failure")
    assert fail is not None and "step pass, step 1, output 0" in fail.get("message")
    assert fail.get("message").startswith("1 output values differ")
    assert all(c.find("failure") is None for c in cases[1:])
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["model_name"] == "fake" and props["board"] == "host"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hil.json", "hil.xml"]  # no temp files
    with pytest.raises(InputError, match="does not exist"):
        write_json(tmp_path / "missing" / "hil.json", rep)
    with pytest.raises(TypeError, match="path comes first"):
        write_junit(rep, tmp_path / "swapped.xml")  # type: ignore[arg-type]


def test_failed_write_leaves_the_old_report(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "r.json"
    target.write_text("old")

    def broken_replace(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr("rnnmcu.hil.report.os.replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_json(target, {"passed": True})
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # the temp file is gone


def test_float32_outputs_compare_bit_for_bit(builds) -> None:
    rng = np.random.default_rng(10)
    seqs = [(rng.standard_normal((8, 3)) * 10).astype(np.float32) for _ in range(2)]
    steps = [S.fake_steps_f32(s) for s in seqs]
    runs = [st[-1] for st in steps]
    with _open(builds("FAKE_FLOAT32")) as d:
        assert run_hil(d, steps, runs, seqs, bench_repeats=3)["passed"] is True
        steps[0] = steps[0].copy()
        steps[0][2, 1] = np.nextafter(steps[0][2, 1], np.float32(np.inf))  # one ulp off
        rep = run_hil(d, steps, runs, seqs, bench_repeats=0)
    assert rep["passed"] is False
    (m,) = rep["sequences"][0]["mismatches"]
    assert (m["phase"], m["step"], m["index"]) == ("step", 2, 1)
    assert isinstance(m["got"], float) and m["got"] != m["expected"]
    json.loads(report_json(rep))
