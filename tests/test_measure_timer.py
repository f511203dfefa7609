import json
import math
import time
import types

import pytest

from sparsebench.measure import Timing, speedup, time_callable, time_interleaved
from sparsebench.measure import timer as timer_mod


class FakeClock:
    """A perf_counter that advances only when a fake workload says so: deterministic timings."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now

    def work(self, seconds, log=None, name=None):
        def fn():
            self.now += seconds
            if log is not None:
                log.append(name)

        return fn


@pytest.fixture
def clock(monkeypatch):
    c = FakeClock()
    monkeypatch.setattr(timer_mod, "time", types.SimpleNamespace(perf_counter=c.perf_counter))
    return c


def test_real_sleep_median_and_iqr_are_ordered():
    sleep_s = 0.004
    t = time_callable(lambda: time.sleep(sleep_s), warmup=1, repeats=5, min_sample_s=0.001)
    assert t.number == 1  # one sleep already exceeds min_sample_s
    assert len(t.samples) == 5
    assert t.median_s >= sleep_s  # sleep never returns early; no upper bound asserted
    assert t.min_s <= t.q1_s <= t.median_s <= t.q3_s <= max(t.samples)
    assert t.iqr_s == pytest.approx(t.q3_s - t.q1_s)
    assert t.iqr_s >= 0


def test_calibration_makes_each_sample_last_min_sample_s(clock):
    t = time_callable(clock.work(1e-4), warmup=2, repeats=5, min_sample_s=2e-3)
    assert t.number * 1e-4 >= 2e-3
    assert t.number < 2 * 20  # grows to about what is needed, not far beyond
    assert t.samples == pytest.approx((1e-4,) * 5)  # samples are per call
    assert t.median_s == pytest.approx(1e-4)
    assert t.iqr_s == pytest.approx(0.0, abs=1e-12)


def test_percentiles_match_numpy_definition():
    t = Timing.from_samples([5.0, 1.0, 3.0, 2.0, 4.0], number=3)
    assert (t.q1_s, t.median_s, t.q3_s, t.min_s) == (2.0, 3.0, 4.0, 1.0)
    assert t.iqr_s == 2.0
    assert t.number == 3


def test_stops_early_but_keeps_three_samples(clock):
    t = time_callable(clock.work(1.0), warmup=1, repeats=7, min_sample_s=0.0, max_total_s=2.5)
    assert len(t.samples) == 3
    t = time_callable(clock.work(1.0), warmup=1, repeats=7, min_sample_s=0.0, max_total_s=1e9)
    assert len(t.samples) == 7


def test_to_dict_is_json_roundtrip():
    t = Timing.from_samples([1.0, 2.0, 3.0], number=4)
    d = json.loads(json.dumps(t.to_dict()))
    assert d["samples"] == [1.0, 2.0, 3.0]
    assert d["number"] == 4
    assert Timing(**{**d, "samples": tuple(d["samples"])}) == t


def test_interleaving_rotates_order_each_round(clock):
    log = []
    fns = {name: clock.work(1e-3, log, name) for name in "abc"}
    timings = time_interleaved(fns, warmup=1, rounds=6, min_sample_s=0.0)
    # Warm-up and calibration: each callable twice, one after the other.
    assert log[:6] == ["a", "a", "b", "b", "c", "c"]
    rounds = [log[6 + 3 * r : 9 + 3 * r] for r in range(6)]
    assert rounds == [list("abc"), list("bca"), list("cab")] * 2
    # Each callable leads equally often.
    assert sorted(r[0] for r in rounds) == sorted("abc" * 2)
    assert set(timings) == set("abc")
    assert all(len(t.samples) == 6 for t in timings.values())


def test_interleaving_calibrates_each_callable(clock):
    fns = {"slow": clock.work(1e-3), "fast": clock.work(1e-5)}
    timings = time_interleaved(fns, warmup=0, rounds=3, min_sample_s=2e-3)
    for name, cost in (("slow", 1e-3), ("fast", 1e-5)):
        assert timings[name].number * cost >= 2e-3
        assert timings[name].median_s == pytest.approx(cost)
    assert timings["fast"].number > timings["slow"].number
    assert speedup(timings["slow"], timings["fast"]) == pytest.approx(100.0)


def test_interleaving_stops_early_but_keeps_three_rounds(clock):
    fns = {"a": clock.work(1.0), "b": clock.work(1.0)}
    timings = time_interleaved(fns, warmup=0, rounds=10, min_sample_s=0.0, max_total_s=1.0)
    assert [len(t.samples) for t in timings.values()] == [3, 3]


def test_speedup_and_zero_medians():
    fast = Timing.from_samples([1.0], 1)
    slow = Timing.from_samples([4.0], 1)
    zero = Timing.from_samples([0.0], 1)
    assert speedup(slow, fast) == 4.0
    assert speedup(fast, slow) == 0.25
    assert speedup(slow, zero) == math.inf
    assert math.isnan(speedup(zero, zero))
    assert speedup(zero, slow) == 0.0


@pytest.mark.parametrize(
    "kwargs",
    [{"repeats": 0}, {"warmup": -1}, {"min_sample_s": -1.0}, {"max_total_s": 0.0}],
)
def test_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        time_callable(lambda: None, **kwargs)


def test_interleaved_needs_callables():
    with pytest.raises(ValueError):
        time_interleaved({})
