"""Candidates' repeats reduced to their fastest quarter (the search) or their middle half (the
final phase): a burst of foreign work on the host during some repeats does not change a
candidate's estimate."""

from __future__ import annotations

import pytest
from tvm.ir.utils import derived_object

from edgetune.board import load_board
from edgetune.measure import make_runner
from edgetune.measure.robust import FastestRepeatsRunner, fastest, middle_half
from edgetune.search.final import Candidate
from edgetune.tvm_api import ms


@derived_object
class _Done(ms.runner.PyRunnerFuture):
    def __init__(self, result) -> None:
        super().__init__()
        self._result = result

    def done(self) -> bool:
        return True

    def result(self):
        return self._result


@derived_object
class _Fixed(ms.runner.PyRunner):
    """A runner whose candidates measured the given repeats (or failed)."""

    def __init__(self, results) -> None:
        super().__init__()
        self.results = results

    def run(self, runner_inputs):
        return [_Done(r) for r in self.results]


def test_fastest_keeps_the_fastest_quarter():
    quiet = [1.0e-3, 1.01e-3, 0.99e-3, 1.02e-3] * 5
    busy = sorted(quiet)[:12] + [2.5e-3] * 8  # 8 of 20 repeats during foreign work
    assert fastest(quiet) == sorted(quiet)[:5]
    assert sum(fastest(busy)) / 5 == pytest.approx(sum(fastest(quiet)) / 5)
    assert fastest([3.0]) == [3.0]


def test_middle_half_is_a_typical_run_and_the_final_phase_keeps_the_median_round():
    repeats = [5.0, 1.0, 9.0, 2.0, 3.0, 4.0, 8.0, 6.0]  # 8 repeats: 2 dropped at each end
    assert middle_half(repeats) == [3.0, 4.0, 5.0, 6.0]
    assert middle_half([3.0]) == [3.0] and middle_half([2.0, 1.0]) == [1.0, 2.0]
    quiet = [1.0e-3] * 20  # the host's 20 repeats
    busy = quiet[:16] + [9.0e-3] * 4  # foreign work during 4 of them: the middle is quiet
    assert middle_half(busy) == middle_half(quiet)

    c = Candidate(record=None, measure=None, key="k", search_s=1.0)
    assert c.secs is None and c.final_s is None
    for mean in (3.0, 9.0, 1.0, 2.0, 8.0):  # two rounds slowed by foreign work, one lucky
        c.rounds.append([mean, mean])
    assert c.secs == [3.0, 3.0] and c.final_s == 3.0


def _input():
    return ms.runner.RunnerInput("candidate.so", "cpu", [])


def test_runner_reduces_results_and_passes_errors_through():
    ok = ms.runner.RunnerResult(run_secs=[4.0, 1.0, 3.0, 2.0, 9.0, 8.0, 7.0, 6.0], error_msg=None)
    failed = ms.runner.RunnerResult(run_secs=None, error_msg="timeout")
    out = [f.result() for f in FastestRepeatsRunner(_Fixed([ok, failed])).run([_input(), _input()])]
    assert [float(s) for s in out[0].run_secs] == [1.0, 2.0]
    assert out[1].error_msg == "timeout" and not out[1].run_secs


def test_every_board_runner_is_wrapped():
    assert isinstance(make_runner(load_board("host")), FastestRepeatsRunner)
