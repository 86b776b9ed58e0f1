"""bench/footprint.py's inference-stack analysis: the deepest call chain from GCC's call-graph
files, the refusals (recursion, dynamic frames), and, on a real qemu-m4 build, agreement with the
stack painted on the device: the inference chain's static bound must fit inside the measured
whole-firmware high-water mark, whose frames include it."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import footprint  # noqa: E402


def _ci(path: Path, frames: dict[str, str], edges: list[tuple[str, str]]) -> None:
    lines = ['graph: { title: "m.c"']
    for fn, frame in frames.items():
        label = f"{fn}\\nm.c:1:1" + (f"\\n{frame}" if frame else "")
        lines.append(f'node: {{ title: "{fn}" label: "{label}" }}')
    lines += [f'edge: {{ sourcename: "{a}" targetname: "{b}" label: "m.c:2:3" }}' for a, b in edges]
    path.write_text("\n".join(lines + ["}"]) + "\n")


def test_deepest_chain_sums_the_frames_of_the_worst_path(tmp_path):
    _ci(tmp_path / "a.ci", {"m_run": "48 bytes (static)", "step": "40 bytes (static)",
                            "update": "120 bytes (static)", "matvec": "80 bytes (static)", "memset": ""},
        [("m_run", "memset"), ("m_run", "step"), ("step", "matvec"), ("step", "update")])
    frames, calls = footprint.call_graph(tmp_path)
    n, chain, outside = footprint.deepest("m_run", frames, calls)
    assert (n, chain) == (48 + 40 + 120, ["m_run", "step", "update"])
    assert outside == {"memset"}  # no frame of its own in the compiled files: named, not counted


@pytest.mark.parametrize("frame,edges,msg", [
    ("16 bytes (static)", [("f", "g"), ("g", "f")], "recursion"),
    ("16 bytes (dynamic)", [("f", "g")], "dynamic"),
])
def test_no_static_bound_is_refused(tmp_path, frame, edges, msg):
    _ci(tmp_path / "a.ci", {"f": "8 bytes (static)", "g": frame}, edges)
    frames, calls = footprint.call_graph(tmp_path)
    with pytest.raises(SystemExit, match=msg):
        footprint.deepest("f", frames, calls)


def test_a_folded_alias_takes_the_frame_and_callees_of_the_body_it_shares(tmp_path):
    # GCC's identical code folding: "m.c:tile_b" is called but has no node; nm puts it at tile_a's address
    _ci(tmp_path / "a.ci", {"step": "40 bytes (static)", "m.c:tile_a": "24 bytes (static)",
                            "matvec": "16 bytes (static)"},
        [("step", "m.c:tile_b"), ("m.c:tile_a", "matvec")])
    frames, calls = footprint.call_graph(tmp_path)
    syms = {"step": (0x100, 8, "T"), "tile_a": (0x200, 64, "t"), "tile_b": (0x200, 64, "t"),
            "matvec": (0x300, 32, "T")}
    footprint.fold_aliases(frames, calls, syms)
    n, chain, outside = footprint.deepest("step", frames, calls)
    assert (n, chain, outside) == (40 + 24 + 16, ["step", "m.c:tile_b", "matvec"], set())
    assert footprint.reachable(["step"], frames, calls) == {"step", "tile_b", "matvec"}


def test_no_call_graph_files_is_an_error(tmp_path):
    with pytest.raises(SystemExit, match="no .ci files"):
        footprint.call_graph(tmp_path)


@pytest.mark.emulator
@pytest.mark.slow
def test_static_inference_stack_fits_the_painted_high_water_mark(tmp_path):
    name, model = next(m for m in footprint.models([16]) if m[0] == "lstm16")
    r = footprint.measure("qemu-m4", name, model, "int8", tmp_path)
    chain = r["inference_stack_chain"]
    # an int8 model's 16-bit inputs: the step is the x16 one (int16 kernel for W x)
    assert chain["step"][:2] == ["lstm16_step", "rnnmcu_lstm_step_x16_s8"] and len(chain["step"]) == 3
    assert 0 < r["inference_stack_bytes"] <= r["stack_high_water_bytes"] <= r["stack_reserved_bytes"]
    # every rnnmcu function on the way has a frame (a folded alias included): only libc is outside
    assert not [fn for fn in r["inference_stack_outside"] if "rnnmcu_" in fn], r["inference_stack_outside"]
    assert r["inference_code_bytes"] > 0 and r["weight_bytes"] == 4 * 16 * 8 + 4 * 16 * 16
