"""The Speed panel's races (core.training.speed) at tiny sizes: every measurement arrives as an
event as it is taken, the results are made of exactly those measurements, layer-first and
step-first agree, cancel keeps what was measured, bad sizes are refused with a message."""

from __future__ import annotations

import pickle
import statistics

import numpy as np
import pytest

import core  # noqa: F401
from core.errors import ParameterError
from core.training.speed import (
    FeedForwardRaceJob,
    FeedForwardRaceResult,
    MemoryRaceJob,
    SpeedSample,
    SynapseRaceJob,
)

TINY_FF = dict(depth=2, width=24, T=12, batch=3, repeats=3)


def _times(events, series):
    return [e.seconds for e in events if e.kind == "time" and e.series == series]


@pytest.mark.parametrize("what", ["train_step", "inference"])
def test_feedforward_race_reports_every_batch_and_agrees(what):
    events = []
    job = FeedForwardRaceJob(what=what, **TINY_FF)
    result = job.run(events.append)
    assert all(isinstance(e, SpeedSample) and e.race == "feedforward" for e in events)
    kinds = [(e.kind, e.series) for e in events]
    assert kinds[:3] == [("compile", "layer_first"), ("compile", "step_first"), ("check", "")]
    timed = [s for k, s in kinds if k == "time"]
    # alternating, neither mode always first: LF SF | SF LF | LF SF
    assert timed == ["layer_first", "step_first", "step_first", "layer_first",
                     "layer_first", "step_first"]
    assert [e.done for e in events if e.kind == "time"] == list(range(1, 7))
    for mode in ("layer_first", "step_first"):
        assert result.times_s[mode] == _times(events, mode)  # the result is what was shown
        assert result.median_ms(mode) == pytest.approx(1e3 * statistics.median(
            _times(events, mode)))
        assert result.compile_s[mode] > 0
    assert result.speedup == pytest.approx(result.median_ms("step_first")
                                           / result.median_ms("layer_first"))
    assert result.identical_spikes and result.spike_flips == 0 and result.n_spikes > 0
    assert result.max_output_rel_diff < 1e-4 and result.identical is True
    assert not result.cancelled and result.arch == "24-24-24-10"
    summary = result.summary()
    assert summary["what"] == what and summary["identical"] is True
    assert summary["layer_first_batches"] == 3
    pickle.loads(pickle.dumps((job, result, events)))  # crosses the worker's pipe


def test_cancel_keeps_the_batches_measured():
    events = []
    timed = lambda: sum(e.kind == "time" for e in events)
    result = FeedForwardRaceJob(**{**TINY_FF, "repeats": 50}).run(
        events.append, lambda: timed() >= 3)
    assert result.cancelled
    assert len(result.times_s["layer_first"]) + len(result.times_s["step_first"]) == 3
    assert result.times_s["layer_first"] == _times(events, "layer_first")
    assert np.isfinite(result.speedup) and result.identical is True

    before = FeedForwardRaceJob(**TINY_FF).run(events.append, lambda: True)
    assert before.cancelled and before.times_s == {"layer_first": [], "step_first": []}
    assert np.isnan(before.speedup) and before.identical is None


def test_sample_events_are_never_coalesced():
    assert SpeedSample.coalesce is False
    from core._worker import _stream_key

    a = SpeedSample(job="j", series="layer_first", seconds=1.0)
    assert _stream_key(1, a, 0) != _stream_key(1, a, 1)


def test_synapse_race_event_driven_equals_dense():
    events = []
    result = SynapseRaceJob(n=400, p=0.05, active_fraction=0.05, repeats=4).run(events.append)
    assert [e.series for e in events if e.kind == "compile"] == ["event", "dense"]
    assert [e.series for e in events if e.kind == "time"] == [
        "event", "dense", "dense", "event", "event", "dense", "dense", "event"]
    for s in ("event", "dense"):
        assert result.times_s[s] == _times(events, s)
    assert result.speedup == pytest.approx(result.median_ms("dense") / result.median_ms("event"))
    assert result.max_abs_err < 1e-4
    assert result.n_active == 20 and result.nnz > 0
    assert result.dense_mib == pytest.approx(400 * 400 * 4 / 2**20)
    assert not result.cancelled

    partial = SynapseRaceJob(n=400, repeats=100).run(
        events.append, lambda: sum(e.kind == "time" for e in events) >= 12)
    assert partial.cancelled and 0 < len(partial.times_s["event"]) < 100


def test_memory_race_bptt_grows_with_T_online_does_not():
    events = []
    job = MemoryRaceJob(T_values=(160, 80), batch=2, neurons=20, reps=1)
    assert job.T_values == (80, 160)
    result = job.run(events.append)
    assert [(e.T, e.series) for e in events] == [(80, "bptt"), (80, "online"),
                                                  (160, "bptt"), (160, "online")]
    for e, row in zip(events, result.rows):
        assert e.kind == "memory" and e.mib == row["peak_MiB"] and e.T == row["T"]
        assert e.seconds == row["s_per_batch"]
    T, bptt = result.series("bptt")
    _, online = result.series("online")
    assert T == [80, 160]
    assert bptt[1] > 1.5 * bptt[0]  # BPTT keeps every step
    assert online[1] < 1.1 * online[0]  # the online rule's memory does not grow with T
    assert result.ratio_at_longest() == pytest.approx(bptt[1] / online[1])
    assert result.ratio_at_longest() > 1

    partial = MemoryRaceJob(T_values=(80, 160), batch=2, neurons=20, reps=0).run(
        events.append, lambda: len(events) >= 5)
    assert partial.cancelled and len(partial.rows) == 1


def test_the_benchmark_measures_with_the_same_function():
    import benchmarks.training_memory as bench
    from core.training import memory

    assert bench.measure_training_step is memory.measure_training_step
    assert bench.VARIANTS is memory.VARIANTS


@pytest.mark.parametrize("make, needle", [
    (lambda: FeedForwardRaceJob(depth=0), "depth"),
    (lambda: FeedForwardRaceJob(width="abc"), "width"),
    (lambda: FeedForwardRaceJob(T=2.5), "whole number"),
    (lambda: FeedForwardRaceJob(what="both"), "what"),
    (lambda: FeedForwardRaceJob(depth=8, width=4096, T=2000, batch=512), "GiB"),
    (lambda: SynapseRaceJob(n=10**6), "neurons"),
    (lambda: SynapseRaceJob(p=0), "(0, 1]"),
    (lambda: SynapseRaceJob(active_fraction=float("nan")), "active fraction"),
    (lambda: MemoryRaceJob(T_values=(10,)), "T must lie"),
    (lambda: MemoryRaceJob(T_values=()), "at least one"),
    (lambda: MemoryRaceJob(variants=("bptt", "magic")), "variant"),
])
def test_bad_sizes_are_refused_with_a_message(make, needle):
    with pytest.raises(ParameterError, match=None) as info:
        make()
    assert needle in str(info.value)


def test_empty_result_is_harmless():
    r = FeedForwardRaceResult(config={}, arch="1-1-10")
    assert np.isnan(r.median_ms("layer_first")) and r.identical is None
