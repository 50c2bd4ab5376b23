"""`edgetune ci` with real components: the host board and the emulated Cortex-A53 (TVM's
aarch64 rpc server under qemu-user) behind a tracker on free ports, the tiny test nets, LiteRT
as the reference. The JUnit XML is read back with junitparser; emulated timings are never
judged as A53 performance here, only checked to be labelled so."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from farm_support import (
    STATEFUL,
    env_vars,
    host_board_text,
    local_host_board_text,
    stateful_stream,
    write_board,
)
from junitparser import JUnitXml, Properties, Property
from tflite_builder import int8_sum

from edgetune.board import load_board
from edgetune.ci import Timing, judge, load_suite
from edgetune.cli.main import main
from edgetune.errors import InputError
from edgetune.farm import strategies
from edgetune.farm.drivers.rpc_server import free_port
from edgetune.frontend import find_model, load_model
from edgetune.paths import REPO_DIR
from edgetune.records import RecordStore

# A local board on which every candidate build times out: tuning measures nothing.
BROKEN_HOST = local_host_board_text(
    "host-broken", build_timeout_s=0.001, run_timeout_s=5, number=1, repeat=1, min_repeat_ms=0
)


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    """qemu-a53 up under a tracker on a free port; `host-down`: an rpc board under the same
    tracker whose server is not running; `no-tracker`: one whose tracker is not running;
    `host-broken` (see above)."""
    root = tmp_path_factory.mktemp("cifarm")
    tracker = free_port()
    text = (REPO_DIR / "boards/qemu-a53.toml").read_text()
    text = text.replace("127.0.0.1:9190", f"127.0.0.1:{tracker}")
    text = text.replace("port = 9090", f"port = {free_port()}")
    write_board(root / "boards", "qemu-a53", text)
    write_board(root / "boards", "host-down", host_board_text("host-down", tracker, count=1))
    write_board(root / "boards", "host-broken", BROKEN_HOST)
    no_tracker = host_board_text("no-tracker", free_port(), count=1)  # nothing listens there
    write_board(root / "boards", "no-tracker", no_tracker)
    with env_vars(EDGETUNE_BOARDS=str(root / "boards"), EDGETUNE_FARM_DIR=str(root / "state")):
        try:
            assert main(["farm", "up", "--board", "qemu-a53"]) == 0
            yield root
        finally:
            strategies.down()


def write_suite(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ci.toml"
    path.write_text(text)
    return path


def cases(out: Path) -> dict[str, tuple]:
    """testcase name -> (case, its properties), read with junitparser."""
    found = {}
    for suite in JUnitXml.fromfile(str(out / "junit.xml")):
        for case in suite:
            props = {
                p.name: p.value
                for ps in case.iterchildren(Properties)
                for p in ps.iterchildren(Property)
            }
            found[case.name] = (case, props)
    return found


def ci(suite: Path, out: Path, *extra: str) -> int:
    return main(["ci", str(suite), "--out", str(out), *extra])


def test_suite_on_host_and_emulated_a53_passes_against_its_baseline(farm, tmp_path, capsys):
    # threshold 300 %: this 2-core machine is shared, so the two runs here may differ by far more
    # than 5 %; the rule itself is checked with numbers in test_regression_rule_*
    suite = write_suite(tmp_path, """
name = "tiny"
[[check]]
name = "tiny-fp32"
model = "tiny_fp32"
boards = ["host", "qemu-a53"]
rounds = 2
repeat = 2
threshold_pct = 300
""")  # fmt: skip
    out = tmp_path / "out"
    assert ci(suite, out, "--update-baseline") == 0
    baseline = json.loads((tmp_path / "ci.baseline.json").read_text())["entries"]
    assert set(baseline) == {"tiny-fp32@host", "tiny-fp32@qemu-a53"}
    assert baseline["tiny-fp32@qemu-a53"]["emulated"] is True
    assert len(baseline["tiny-fp32@host"]["round_medians_ms"]) == 2
    capsys.readouterr()

    assert ci(suite, out, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["exit_code"] == 0 and report["counts"] == {"pass": 2, "fail": 0, "error": 0}
    by_board = {r["board"]: r for r in report["results"]}
    assert (by_board["qemu-a53"]["timing"], by_board["host"]["timing"]) == ("emulated", "measured")
    assert "EMULATED" in by_board["qemu-a53"]["timing_note"]
    for board in ("host", "qemu-a53"):
        assert by_board[board]["baseline_ms"] == baseline[f"tiny-fp32@{board}"]["median_ms"]
        assert by_board[board]["numerics"][0].startswith("output 0: max abs diff")
    a53 = out / "tiny-fp32-qemu-a53.so"
    assert a53.read_bytes()[18] == 0xB7  # the artifact kept is an aarch64 library

    found = cases(out)
    assert set(found) == {"tiny-fp32 on host", "tiny-fp32 on qemu-a53"}
    case, props = found["tiny-fp32 on qemu-a53"]
    assert case.is_passed
    assert (props["board"], props["emulated"], props["timing"]) == ("qemu-a53", "true", "emulated")
    assert props["toolchain"] == "aarch64-linux-gnu (aarch64-linux-gnu-gcc)"
    assert props["trials"] == "0" and props["tuned_tasks"] == "0/5"
    assert props["baseline_ms"] == f"{baseline['tiny-fp32@qemu-a53']['median_ms']:.6g}"  # 6 digits
    assert float(props["latency_ms"]) > 0
    assert found["tiny-fp32 on host"][1]["emulated"] == "false"

    md = (out / "summary.md").read_text().splitlines()
    rows = [line.split(" | ") for line in md if line.startswith("| tiny-fp32 |")]
    assert [(r[1], r[2], r[6]) for r in rows] == [
        ("host", "✅ pass", "measured"),
        ("qemu-a53", "✅ pass", "emulated"),
    ]
    assert any("`qemu-a53` are **emulated**" in line for line in md)
    assert any(line.startswith("Rule: latency regresses") for line in md)


def test_a_baseline_the_model_cannot_meet_fails_with_the_reason_in_junit(tmp_path, capsys):
    suite = write_suite(tmp_path, """
[[check]]
model = "tiny_int8"
boards = ["host"]
rounds = 3
repeat = 5
""")  # fmt: skip
    out = tmp_path / "out"
    assert ci(suite, out, "--update-baseline") == 0
    path = tmp_path / "ci.baseline.json"
    data = json.loads(path.read_text())
    data["entries"]["tiny_int8@host"]["round_medians_ms"] = [1e-6, 1e-6, 1e-6]  # edited
    path.write_text(json.dumps(data))
    capsys.readouterr()

    assert ci(suite, out) == 1
    terminal = capsys.readouterr().out
    assert "FAIL tiny_int8 on host: latency regression" in terminal
    assert "rule: latency regresses when the median of the round medians" in terminal
    case, props = cases(out)["tiny_int8 on host"]
    (failure,) = case.result
    assert case.is_failure and failure.message.startswith("latency regression: ")
    assert "vs baseline 1e-06 ms, over the limit" in failure.message
    assert float(props["baseline_ms"]) == pytest.approx(1e-6)
    md = (out / "summary.md").read_text()
    assert "| tiny_int8 | host | ❌ fail |" in md and "latency regression" in md


def test_a_board_whose_server_is_down_is_exit_2_and_the_other_board_still_passes(
    farm, tmp_path, capsys
):
    suite = write_suite(tmp_path, """
[[check]]
model = "tiny_int8"
boards = ["host-down", "no-tracker", "host"]
rounds = 2
repeat = 3
""")  # fmt: skip
    out = tmp_path / "out"
    assert ci(suite, out) == 2
    found = cases(out)
    down, props = found["tiny_int8 on host-down"]
    (error,) = down.result
    assert down.is_error and "no rpc server registered under key 'host-down'" in error.message
    assert props["latency_ms"] == ""  # never a pass, never a timing
    no_tracker, _ = found["tiny_int8 on no-tracker"]
    (error,) = no_tracker.result
    assert no_tracker.is_error and "tracker at 127.0.0.1:" in error.message
    assert "start the farm: edgetune farm up --board no-tracker" in error.message
    host, props = found["tiny_int8 on host"]
    assert host.is_passed and float(props["latency_ms"]) > 0
    assert "0 LSB: 10" in props["numerics"]
    assert not (out / "tiny_int8-host-down.so").exists()  # nothing built for a board that is down
    assert "| tiny_int8 | host-down | ⚠️ error |" in (out / "summary.md").read_text()


def test_a_timing_on_a_busy_host_says_so_everywhere(tmp_path, capsys, monkeypatch):
    """A baseline timed while other processes kept the host busy would hide regressions:
    the contention is a note in the terminal, summary.md, JUnit and results.json (as run says)."""
    import edgetune.ci.runner as runner

    class Busy:  # other processes kept 1.5 cores busy while the checks were timed
        @staticmethod
        def start():
            return Busy()

        def read(self):
            return 0.0, 1.5

    monkeypatch.setattr(runner, "ContentionWatch", Busy)
    suite = write_suite(tmp_path, """
[[check]]
model = "tiny_int8"
boards = ["host"]
rounds = 2
repeat = 3
""")  # fmt: skip
    out = tmp_path / "out"
    assert ci(suite, out, "--update-baseline") == 0
    said = "other processes kept 1.5 of this machine's cores busy while timing"
    assert f"note: tiny_int8 on host: timing: {said}" in capsys.readouterr().out
    (result,) = json.loads((out / "results.json").read_text())["results"]
    assert result["timing_note"].startswith(said) and result["facts"]["others_cores"] == 1.5
    assert said in (out / "summary.md").read_text()
    _, props = cases(out)["tiny_int8 on host"]
    assert props["others_cores"] == "1.50" and props["timing_note"].startswith(said)
    baseline = json.loads((tmp_path / "ci.baseline.json").read_text())
    assert baseline["entries"]["tiny_int8@host"]["others_cores"] == 1.5


def test_wrong_numerics_and_records_of_another_model_fail(tmp_path):
    host = load_board("host")
    other = RecordStore(tmp_path / "int8-records", load_model(find_model("tiny_int8")).info, host)
    del other
    suite = write_suite(tmp_path, """
[defaults]
boards = ["host"]
rounds = 1
repeat = 2
[[check]]
name = "tampered-tolerance"
model = "tiny_fp32"
atol = 1e-12
[[check]]
name = "foreign-records"
model = "tiny_fp32"
records = { host = "int8-records" }
""")  # fmt: skip
    out = tmp_path / "out"
    assert ci(suite, out) == 1
    found = cases(out)
    case, _ = found["tampered-tolerance on host"]
    (failure,) = case.result
    assert failure.message.startswith("numerics: output 0 differs from LiteRT by")
    assert "> tolerance 1e-12" in failure.message
    case, _ = found["foreign-records on host"]
    (failure,) = case.result
    assert "belongs to model 'tiny_int8'" in failure.message


def test_int8_numerics_are_checked_against_the_reference_kernels(tmp_path, capsys):
    """MobileNetV2 int8: XNNPACK's int8 is many LSB away from TFLite's reference kernels, which
    edgetune's integer kernels follow; ci checks against those (as check_corpus does), within
    1 LSB, and says so."""
    from edgetune.oracle import LiteRTModel
    from edgetune.runtime import load_inputs

    model = load_model(find_model("mobilenet_v2_int8"))
    inputs = load_inputs(model.info, None)  # what ci runs on
    xnnpack = LiteRTModel(model.path, 1)(inputs)[0].astype(int)
    reference = LiteRTModel(model.path, 1, reference_kernels=True)(inputs)[0].astype(int)
    assert abs(xnnpack - reference).max() > 1
    text = '[[check]]\nmodel = "mobilenet_v2_int8"\nboards = ["host"]\nrounds = 1\nrepeat = 1\n'
    out = tmp_path / "out"
    assert ci(write_suite(tmp_path, text), out, "--update-baseline") == 0
    terminal = capsys.readouterr().out
    assert "ok (vs LiteRT reference kernels, tolerance 1 LSB)" in terminal
    (result,) = json.loads((out / "results.json").read_text())["results"]
    assert result["status"] == "pass" and result["numerics"][0].startswith("output 0: max 0 LSB")
    _, props = cases(out)["mobilenet_v2_int8 on host"]
    assert props["reference"] == "vs LiteRT reference kernels, tolerance 1 LSB"


def test_an_int8_model_where_litert_kernel_sets_disagree_passes_on_the_builtin_ones(
    tmp_path, capsys
):
    model = int8_sum(tmp_path / "q_sum.tflite")
    text = f'[[check]]\nmodel = "{model}"\nboards = ["host"]\nrounds = 1\nrepeat = 1\n'
    out = tmp_path / "out"
    assert ci(write_suite(tmp_path, text), out, "--update-baseline") == 0
    assert "ok (vs LiteRT builtin kernels, tolerance 1 LSB)" in capsys.readouterr().out
    (result,) = json.loads((out / "results.json").read_text())["results"]
    assert result["status"] == "pass" and result["numerics"][0].startswith("output 0: max 0 LSB")
    assert result["numerics"][1].startswith("LiteRT reference kernels differ from LiteRT's")


def test_stateful_model_is_checked_over_a_sequence_on_the_emulated_board(farm, tmp_path):
    """`steps = 4`: the streaming int8 model runs 4 invocations in sequence on each board (states
    carried there), each step's outputs compared with LiteRT's over the same sequence."""
    frames, _ = stateful_stream(4)
    np.save(tmp_path / "frames.npy", frames)
    suite = write_suite(tmp_path, f"""
[[check]]
name = "kws"
model = "{STATEFUL}"
boards = ["host", "qemu-a53"]
inputs = ["frames.npy"]
steps = 4
rounds = 1
repeat = 1
""")  # fmt: skip
    out = tmp_path / "out"
    assert ci(suite, out, "--update-baseline") == 0
    for result in json.loads((out / "results.json").read_text())["results"]:
        assert result["status"] == "pass", result["reasons"]
        assert [line.split(":")[0] for line in result["numerics"]] == [
            f"step {i} output 0" for i in range(4)
        ]
        assert all("max 0 LSB" in line for line in result["numerics"])
        assert result["reference"] == "vs LiteRT reference kernels, tolerance 1 LSB"


def test_tuning_that_measured_nothing_is_an_error(farm, tmp_path):
    # probe_conv_int8: 2 tasks. Most of this test's time is MetaSchedule's TuneContext importing
    # TVM's tensor intrinsics (once per process, shared with the other tuning tests)
    suite = write_suite(tmp_path, """
[[check]]
model = "probe_conv_int8"
boards = ["host-broken"]
records = { host-broken = "recs" }
tune_trials = 2
rounds = 1
repeat = 1
""")  # fmt: skip
    out = tmp_path / "out"
    assert ci(suite, out) == 1
    case, props = cases(out)["probe_conv_int8 on host-broken"]
    (failure,) = case.result
    assert failure.message.startswith("tuning measured 0 of 2 candidates")
    assert "2 failed builds" in failure.message
    assert props["latency_ms"] == ""


def test_regression_rule_threshold_and_noise():
    base = Timing([10.0, 10.2, 9.9])
    assert not judge(Timing([10.4, 10.5, 10.3]), base, 5).regressed  # +4 %: under 5 %
    slow = judge(Timing([10.8, 10.9, 10.7]), base, 5)  # +8 %, noise 0.3 ms: a regression
    assert slow.regressed and slow.limit_ms == pytest.approx(10.5)
    assert "+8.0 %" in slow.reason and "over the limit" in slow.reason
    noisy = Timing([9.0, 10.8, 12.0])  # +7 % but the rounds spread over 3 ms: inside noise
    assert not judge(noisy, base, 5).regressed
    assert not judge(Timing([99.0]), None, 5).regressed  # no baseline yet: nothing to judge


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[check]]\nmodel = 'tiny_fp32'\nboards = ['host']\natol = 'small'",
         "'check[0].atol' must be a number, got 'small' (str)"),
        ("[[check]]\nmodel = 'tiny_fp32'\nboards = ['host']\ntolerance = 1",
         "unknown key 'check[0].tolerance'"),
        ("[[check]]\nboards = ['host']", "missing required key 'check[0].model'"),
        ("[[check]]\nmodel = 'tiny_fp32'", "check[0].boards (or defaults.boards) must name"),
        ("[[check]]\nmodel = 'tiny_fp32'\nboards = ['host']\ntune_trials = 8",
         "check[0].tune_trials needs a records folder to tune into for board(s) host"),
        ("[[check]]\nmodel = 'tiny_fp32'\nboards = ['host']\nrounds = 0",
         "check[0].rounds must be at least 1, got 0"),
        ("[defaults]\nsteps = 0\n[[check]]\nmodel = 'tiny_fp32'\nboards = ['host']",
         "check[0].steps must be at least 1, got 0"),
        ("name = 'x'", "missing required key 'check'"),
        ("[[check]]\nmodel = 'gone.tflite'\nboards = ['host']", "check[0].model: file not found: "),
        ("[[check]]\nmodel = 'tiny_fp32'\nboards = ['host']\ninputs = ['x.npy']",
         "check[0].inputs: file not found: "),
        ("[[check]]\nmodel = 'tiny_int9'\nboards = ['host']",
         "check[0].model: model not found: tiny_int9 (a .tflite path or a shipped model name; "
         "did you mean tiny_int8"),
        ("[[check]]\nmodel = 'tiny_fp32'\nboards = ['host']\nname = '../../escaped'",
         "check[0].name: '../../escaped' cannot name a check"),
        ("[[check]]\nmodel = 'tiny_fp32'\nboards = ['host']\nname = ''",
         "check[0].name: '' cannot name a check"),
        ("[[check]]\nmodel = 'tiny_fp32'\nboards = ['host']\natol = nan",
         "check[0].atol must be a finite number, not negative, got nan"),
        ("[defaults]\nthreshold_pct = inf\n[[check]]\nmodel = 'tiny_fp32'\nboards = ['host']",
         "check[0].threshold_pct must be a finite number, not negative, got inf"),
        ("[[check]]\nmodel = 'tiny_fp32'\nboards = ['host', 'host']",
         "check[0].boards names host more than once"),
        ("baseline = '.'\n[[check]]\nmodel = 'tiny_fp32'\nboards = ['host']",
         "is a folder: name a .json file to keep"),
    ],
)  # fmt: skip
def test_suite_mistakes_are_one_line_naming_the_key(tmp_path, capsys, text, message):
    suite = write_suite(tmp_path, text)
    with pytest.raises(InputError, match=None) as err:
        load_suite(suite)
    assert message in str(err.value)
    assert ci(suite, tmp_path / "out") == 2
    assert capsys.readouterr().err.strip() == f"edgetune: error: {err.value}"


def test_an_input_file_the_model_cannot_take_is_an_invalid_suite(tmp_path, capsys):
    """Found when the suite starts (exit 2, nothing built or run), not when its check runs."""
    np.save(tmp_path / "x.npy", np.zeros((1, 3, 3), np.float32))
    suite = write_suite(tmp_path, "[[check]]\nmodel = 'tiny_fp32'\nboards = ['host']\n"
                        "inputs = ['x.npy']")  # fmt: skip
    assert ci(suite, tmp_path / "out") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("edgetune: error: tiny_fp32: ") and "x.npy" in err, err
    assert "does not match model input" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out" / "results.json").exists()


def test_an_interrupted_suite_writes_what_ran_and_exits_130(tmp_path, monkeypatch, capsys):
    """Ctrl-C during the second check: results.json and junit.xml still say what ran (the
    first check passed, the rest are errors "not run"), the baseline is left as it was."""
    from edgetune.ci import runner

    suite = write_suite(tmp_path, """
[defaults]
boards = ["host"]
rounds = 1
repeat = 2
threshold_pct = 1000
[[check]]
name = "first"
model = "tiny_fp32"
[[check]]
name = "second"
model = "tiny_int8"
[[check]]
name = "third"
model = "tiny_fp32"
""")  # fmt: skip
    real = runner.run_check

    def interrupted_at_the_second(check, *args):
        if check.name == "second":
            raise KeyboardInterrupt
        return real(check, *args)

    monkeypatch.setattr(runner, "run_check", interrupted_at_the_second)
    out = tmp_path / "out"
    assert ci(suite, out, "--update-baseline") == 130
    data = json.loads((out / "results.json").read_text())
    assert data["interrupted"] and data["exit_code"] == 130
    assert [(r["check"], r["status"]) for r in data["results"]] == [
        ("first", "pass"), ("second", "error"), ("third", "error")
    ]  # fmt: skip
    assert data["results"][2]["reasons"] == ["not run: the suite was interrupted"]
    assert set(cases(out)) == {"first on host", "second on host", "third on host"}
    assert not (tmp_path / "ci.baseline.json").exists()  # not half updated


def test_the_example_suite_in_the_docs_is_valid(tmp_path):
    text = (REPO_DIR / "docs/ci.md").read_text().split("```toml\n")[1].split("```")[0]
    for name in ("models/mobilenet_v2_int8.tflite", "models/detector_fp32.tflite", "data/cat.npy"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).touch()  # the files it names (checked when the suite is read)
    suite = load_suite(write_suite(tmp_path, text))
    assert [c.name for c in suite.checks] == ["mnv2-int8", "detector-fp32"]
    mnv2, detector = suite.checks
    assert (mnv2.boards, mnv2.tune_trials, mnv2.threshold_pct) == (["rpi3", "qemu-a53"], 64, 5)
    assert mnv2.records["qemu-a53"] == tmp_path / "records/mnv2-int8-a53"
    assert (detector.boards, detector.atol, detector.rounds) == (["rpi3"], 1e-3, 9)
    assert suite.baseline == tmp_path / "ci.baseline.json"


def test_nan_outputs_fail_numerics_and_json_stays_strict(tmp_path, monkeypatch):
    """A kernel that emits NaN where LiteRT does not is a numerics failure (NaN compares
    false with any tolerance), and results.json stays valid JSON (no NaN literal)."""
    from edgetune.ci import runner

    real = runner._timed_runs

    def with_nan(*args, **kwargs):
        outputs, timing, notes = real(*args, **kwargs)
        outputs[0][0] = np.full_like(outputs[0][0], np.nan)
        return outputs, timing, notes

    monkeypatch.setattr(runner, "_timed_runs", with_nan)
    suite = write_suite(tmp_path, "[[check]]\nmodel = 'tiny_fp32'\nboards = ['host']\n"
                        "rounds = 1\nrepeat = 2")  # fmt: skip
    out = tmp_path / "out"
    assert ci(suite, out) == 1
    (result,) = json.loads((out / "results.json").read_text(), parse_constant=_no_constants)[
        "results"
    ]
    assert result["status"] == "fail"
    assert "NaN or infinite in one output and not in the other" in result["reasons"][0]


def test_agreement_counts_nan_and_infinity_only_where_the_outputs_differ():
    from edgetune.oracle import agreement

    ref = np.zeros((1, 8), np.float32)
    ours = ref.copy()
    ours[0, 2], ours[0, 5] = np.nan, np.inf
    bad = agreement(ours, ref)
    assert bad.nonfinite_mismatches == 2 and bad.max_abs_diff == np.inf and bad.max_abs_diff > 1
    ref[0, 2], ref[0, 5] = np.nan, np.inf  # the same NaN and infinity in both: they agree
    same = agreement(ours, ref)
    assert (same.nonfinite_mismatches, same.max_abs_diff, same.max_rel_diff) == (0, 0.0, 0.0)


def _no_constants(name: str):
    raise AssertionError(f"{name} in JSON")


def test_a_board_given_by_path_takes_its_records_and_a_baseline_note(tmp_path, capsys):
    """boards = ['boards/mine.toml'] (relative to the suite file): records keyed as written
    are used (tuned here), the baseline keyed by the board's name; without a baseline the
    check says so."""
    write_board(tmp_path / "boards", "mine", (REPO_DIR / "boards/host.toml").read_text()
                .replace('name = "host"', 'name = "mine"'))  # fmt: skip
    suite = write_suite(tmp_path, """
[[check]]
name = "tiny"
model = "tiny_fp32"
boards = ["boards/mine.toml"]
records = { "boards/mine.toml" = "recs" }
tune_trials = 4
rounds = 1
repeat = 2
""")  # fmt: skip
    out = tmp_path / "out"
    assert ci(suite, out) == 0
    (result,) = json.loads((out / "results.json").read_text())["results"]
    assert result["board"] == "mine" and result["trials"] >= 4 and result["tuned_tasks"] >= 1
    assert any("no baseline yet" in r for r in result["reasons"])
    note = "tiny on mine: latency: no baseline yet"
    assert f"note: {note}" in capsys.readouterr().out  # the terminal says it, and the summary
    assert "`tiny` on `mine`: latency: no baseline yet" in (out / "summary.md").read_text()
    assert ci(suite, out, "--update-baseline") == 0  # tunes only the tasks still untuned
    tasks = json.loads((tmp_path / "recs" / "edgetune-tasks.json").read_text())["tasks"]
    assert len(tasks) == 5  # the folder still lists all of tiny_fp32's tasks
    entries = json.loads((tmp_path / "ci.baseline.json").read_text())["entries"]
    assert list(entries) == ["tiny@mine"]


def test_a_missing_package_is_an_environment_error_not_a_failed_change(tmp_path, monkeypatch):
    """LiteRT not installed on the runner: the check is an error (exit 2, the runner's
    environment), not a failure of the change (exit 1)."""
    from edgetune.ci import runner
    from edgetune.errors import MissingPackage
    from edgetune.oracle.litert import NOT_INSTALLED

    def missing(*_args, **_kwargs):
        raise MissingPackage(NOT_INSTALLED)

    monkeypatch.setattr(runner, "litert_reference", missing)
    suite = write_suite(tmp_path, "[[check]]\nmodel = 'tiny_fp32'\nboards = ['host']\n"
                        "rounds = 1\nrepeat = 2")  # fmt: skip
    assert ci(suite, tmp_path / "out") == 2
    (result,) = json.loads((tmp_path / "out" / "results.json").read_text())["results"]
    assert result["status"] == "error" and "infrastructure: LiteRT" in result["reasons"][0]


def test_an_opencl_board_without_its_platform_is_refused_before_tuning(tmp_path, cli):
    text = (REPO_DIR / "boards/mali-pocl.toml").read_text()
    text = text.replace('name = "mali-pocl"', 'name = "mali-none"')
    board = write_board(tmp_path, "mali-none", text.replace("Portable Computing", "No Such GPU"))
    res = cli("tune", "tiny_fp32", "--board", board, "--trials", 4, "--records",
              tmp_path / "r", "--no-library")  # fmt: skip
    assert res.code == 2 and "no OpenCL platform matching 'No Such GPU Language'" in res.err
    assert not (tmp_path / "r").exists()


def test_an_unknown_check_is_refused_before_the_output_folder_is_made(tmp_path, capsys):
    suite = write_suite(tmp_path, "[[check]]\nmodel = 'tiny_fp32'\nboards = ['host']\n")
    assert ci(suite, tmp_path / "out", "--check", "nosuch") == 2
    assert f"no check named nosuch in {suite}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # it was left behind, empty


def test_the_latency_column_shows_float_noise_as_no_spread():
    from edgetune.ci.result import CheckResult
    from edgetune.ci.rows import latency_text

    r = CheckResult("c", "m", "host", False, "", 5.0, 3, 20, {})
    r.latency_ms, r.round_medians_ms = 0.0123, [0.0123, 0.0123 + 1.5e-8, 0.0123]
    assert latency_text(r) == "0.0123 ms (spread 0)"  # it said "spread 1.5e-08"
    r.round_medians_ms = [0.0123, 0.0131, 0.0120]
    assert latency_text(r) == "0.0123 ms (spread 0.0011)"
