"""`edgetune profile`: every kernel of the built model timed inside it, next to its estimate."""

from __future__ import annotations

import json

import pytest

from edgetune.board import load_board
from edgetune.frontend import find_model, load_model
from edgetune.tasks import for_model
from edgetune.tvm_api import tirx

# Kernel times summed over a run against the uninstrumented whole-model median: the VM's own
# work makes the sum smaller, the instrument's two callbacks per call make each kernel a little
# longer (microseconds, which matter on these tiny models: up to CALL_US per call allowed on
# top, since a 20 us model on a noisy host once summed to 1.51x). The sum must explain the total.
MARGIN = (0.4, 1.5)
CALL_US = 1.0


@pytest.mark.parametrize("name", ["tiny_fp32", "tiny_int8"])
def test_profile_has_a_row_per_kernel_that_add_up_to_the_total(cli, tmp_path, name):
    recs = tmp_path / "recs"
    tune = ["tune", name, "--trials", 8, "--records", recs, "--search", "ms", "--final-top", 0]
    assert cli(*tune).code == 0
    result = cli("profile", name, "--records", recs, "--runs", 30, "--json")
    assert result.code == 0, result.err
    prof = json.loads(result.out)

    fused = for_model(load_model(find_model(name)), load_board("host")).fused
    kernels = {gv.name_hint for gv, f in fused.functions.items() if isinstance(f, tirx.PrimFunc)}
    rows = {r["kernel"].removesuffix("_prepacked"): r for r in prof["kernels"]}
    assert set(rows) == kernels  # every kernel the model calls, and nothing else
    assert all(r["calls"] >= 1 and r["ms"] > 0 for r in rows.values())
    assert abs(sum(r["share"] for r in rows.values()) - 1) < 1e-6
    lo, hi = MARGIN
    instrument_ms = sum(r["calls"] for r in rows.values()) * CALL_US / 1000
    assert lo * prof["total_ms"] <= prof["kernels_ms"] <= hi * prof["total_ms"] + instrument_ms
    tuned = [r for r in rows.values() if r["tuned"]]
    assert tuned and all(r["estimate_ms"] > 0 for r in tuned)
    assert all(r["estimate_ms"] is None for r in rows.values() if not r["tuned"])
    assert prof["estimates_ms"] == pytest.approx(sum(r["estimate_ms"] for r in tuned))
    assert prof["verdict"].startswith(f"{prof['total_ms']:.3f} ms per inference")
    assert 0 <= prof["host_steal"] < 1  # the hypervisor's share while profiling
    assert prof["others_cores"] >= 0  # and other processes'

    table = cli("profile", name, "--records", recs, "--runs", 5, "--top", 2)
    assert table.code == 0
    lines = table.out.splitlines()
    assert lines[0].split() == ["kernel", "calls", "ms", "of_kernels", "estimate_ms", "x_estimate"]
    assert f"... {len(kernels) - 2} more kernels (--top)" in lines
    assert "ms per inference" in lines[-1] and "outside kernels" in lines[-1]


def test_profile_on_a_board_without_ssh_is_one_clear_line(cli):
    result = cli("profile", "tiny_fp32", "--board", "rpi3")
    assert result.code == 2
    last = result.err.strip().splitlines()[-1]
    assert last.startswith("edgetune: error: board 'rpi3' has no [connection.ssh]: profile runs")


def test_verdict_says_when_the_hypervisor_took_cpu_time():
    from edgetune.profile.kernels import KernelRow, Profile

    rows = [KernelRow("k", 1, 1.0, 1.0, 1.0)]
    quiet, stolen = Profile("m", "host", 2, 5, 1.0, rows), Profile("m", "host", 2, 5, 1.0, rows)
    quiet.host_steal, stolen.host_steal = 0.01, 0.23
    assert "steal" not in quiet.verdict()
    assert "the hypervisor gave 23% of this machine's CPU time" in stolen.verdict()
    stolen.others_cores = 1.0
    assert "other processes kept 1.0 of this machine's cores busy" in stolen.verdict()


def test_verdict_on_a_model_whose_kernels_take_microseconds():
    """The timer's own cost made a 12 us model's kernels sum to 31 us, and the time outside
    them read 0.000 ms: it is n/a then, and the timer's cost per call is said."""
    from edgetune.profile.kernels import KernelRow, Profile

    rows = [KernelRow("k", 40, 0.031, 1.0, None)]
    prof = Profile("m", "host", 1, 20, 0.012, rows, timer_ms=0.1, timed_calls=40)
    assert prof.outside_ms is None and "outside kernels n/a" in prof.verdict()
    assert (
        "outside kernels n/a (the kernels' times, each call timed apart, exceed the whole's)"
        in (prof.verdict())
    )
    assert ("timing each call adds about 2.5 us to it (40 timed calls per inference: 40 kernel "
            "calls, 0 of the VM's builtins; 0.100 ms)") in prof.verdict()  # fmt: skip
    assert prof.to_json()["outside_ms"] is None
    big = Profile("m", "host", 1, 20, 5.0, [KernelRow("k", 40, 4.0, 1.0, None)], timer_ms=0.01,
                  timed_calls=40)  # fmt: skip
    assert big.outside_ms == pytest.approx(1.0) and "timing each call" not in big.verdict()


class FakeVM:
    """A VM whose one kernel call reports to the instrument; logs which runs were instrumented."""

    def __init__(self) -> None:
        self.instrument = None
        self.log: list[str] = []

    def set_instrument(self, instrument) -> None:
        self.instrument = instrument

    def __getitem__(self, name: str):
        def main(*args) -> None:
            self.log.append("instrumented" if self.instrument else "plain")
            if self.instrument:
                self.instrument(None, "kernel", True, None)
                self.instrument(None, "kernel", False, None)

        return main


def test_profile_alternates_plain_and_instrumented_runs():
    """Whole-model and per-kernel timings come from neighbouring runs, so a machine whose speed
    drifts over minutes affects both alike; the VM is left uninstrumented."""
    from edgetune.farm.agent import profile_vm

    vm = FakeVM()
    raw = profile_vm(vm, [], 3)
    assert vm.log == ["plain"] + ["plain", "instrumented"] * 3  # warm-up, then pairs
    assert len(raw["total"]) == len(raw["instrumented"]) == len(raw["kernels"]["kernel"]) == 3
    assert raw["calls"] == {"kernel": 1} and vm.instrument is None
