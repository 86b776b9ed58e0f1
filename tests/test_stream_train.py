"""Training for streaming (state carried across consecutive windows, per-step labels), converted
and evaluated on a held-out recording with event metrics.  Tiny: a few seconds of training."""
from __future__ import annotations

import pytest

from rnnmcu import api, stream
from rnnmcu.stream import data as stream_data


@pytest.mark.slow
def test_stream_train_convert_and_stream_eval(tmp_path):
    from rnnmcu.stream import train as stream_train

    tr, te = tmp_path / "tr.npz", tmp_path / "te.npz"
    stream_data.write_stream(str(tr), classes=3, gestures=12, seed=1)
    stream_data.write_stream(str(te), classes=3, gestures=5, seed=9)
    out = stream_train.train_stream([str(tr)], str(tmp_path / "m.keras"), units=8, window=32, epochs=2, batch=4)
    assert len(out["history"]) == 2 and out["history"][1]["loss"] < out["history"][0]["loss"] * 1.05
    api.convert(out["model"], out["calibration"], "int8", str(tmp_path / "m.rnnmcu"))
    model, q = stream.load_model(str(tmp_path / "m.rnnmcu"))
    assert model.stateful and model.output_dim == 3
    res = stream.stream_eval(str(tmp_path / "m.rnnmcu"), str(te),
                             stream.StreamOptions(idle_class="0", smooth="majority:5", holdoff=25))
    m = res["metrics"]
    assert m["gestures"] == 5 and {"false_alarms_per_hour", "latency_samples_mean", "recall"} <= set(m)
