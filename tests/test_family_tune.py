"""A tiny `--search family` tune: records and model state on disk, a foresee round, warm resume;
foresee rounds searched by the light search; another shape's schedule replayed."""

from __future__ import annotations

import json
from dataclasses import replace
from types import SimpleNamespace

import pytest

from edgetune.board import load_board
from edgetune.cli.main import main
from edgetune.frontend import load_model
from edgetune.paths import MODELS_DIR
from edgetune.records import TUNING_RECORDS, RecordStore, cost_model_path
from edgetune.rules import get_rule_set
from edgetune.search import tune_model
from edgetune.search.family import ForeseePlan, ForeseeSearch
from edgetune.search.family.cost_model import POOLED
from edgetune.search.skip_measured import MeasuredTraces, SkipMeasured
from edgetune.search.transfer import replayed
from edgetune.tasks import for_model
from edgetune.tvm_api import ms

POINTWISE = "conv2d_nhwc-k1x1-s1-float32"
# the two lightest pointwise convs of MobileNetV2: one family, cheap to build
TASKS = ("fused_conv2d10_add8", "fused_conv2d15_add12")


def test_family_tune_writes_records_and_resumes_warm(tmp_path):
    board = load_board("host")  # generous build timeout: a busy shared host must not fail builds
    board = replace(board, measure=replace(board.measure, build_timeout_s=600))
    model = load_model(MODELS_DIR / "mobilenet_v2_fp32.tflite")
    store = RecordStore(tmp_path / "recs", model.info, board)

    def only(t):
        return t.name in TASKS

    first = tune_model(
        model, board, store, 6, seed=0, search="family", final_top=0, task_filter=only
    )
    # warm-up: the heavier member gets a full round (4), the other a foresee round (2)
    assert first.search["per_round"] == 4 and first.search["foresee_trials"] == 2
    assert first.search["foresee_rounds"] == 1
    trials = {t["name"]: t["trials"] for t in first.progress.to_json()["tasks"]}
    assert trials == {"fused_conv2d10_add8": 4, "fused_conv2d15_add12": 2}
    lines = (store.path / TUNING_RECORDS).read_text().splitlines()
    assert len(lines) == 6 and all(json.loads(line) for line in lines)
    assert store.summary().workloads == 2
    assert cost_model_path(store.path, POINTWISE).is_file()
    assert cost_model_path(store.path, POOLED).is_file()
    assert first.search["cost_models_restored"] == []

    again = RecordStore(tmp_path / "recs", model.info, board)
    second = tune_model(
        model, board, again, 8, seed=0, search="family", final_top=0, task_filter=only
    )
    assert second.search["cost_models_restored"] == [POINTWISE, POOLED]  # not cold
    # at least the 2 missing trials; a batch cut by skipping an already-measured schedule can
    # make the scheduler visit one more task, but nothing is measured twice
    assert second.progress.trials >= 2
    assert again.summary().records == 6 + second.progress.trials
    # per task, the folder's trials (as `report` counts them), like best_us: not this run's
    resumed = {t["name"]: t["trials"] for t in second.progress.to_json()["tasks"]}
    assert sum(resumed.values()) == again.summary().records
    assert all(resumed[name] >= trials[name] for name in TASKS)
    traces = [
        json.dumps(json.loads(ln)[1][0])
        for ln in (store.path / TUNING_RECORDS).read_text().splitlines()
    ]
    assert len(traces) == len(set(traces))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--search", "family", "--warm-start", "/nonexistent"], "not an edgetune records folder"),
        (["--search", "ms", "--warm-start", "/nonexistent"], "--warm-start needs --search family"),
    ],
)
def test_bad_warm_start_is_one_line(tmp_path, capsys, extra, message):
    code = main(["tune", "tiny_fp32", "--records", str(tmp_path / "r"), "--trials", "4", *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "r" / TUNING_RECORDS).exists()


class _Trace(str):
    """A stand-in trace: its own text, nothing to simplify."""

    def simplified(self, remove_postproc: bool) -> _Trace:
        return self


class _Strategy:
    """A stand-in search strategy: proposes four named traces, remembers what it was told."""

    def __init__(self, name: str):
        self.name, self.generated, self.notified = name, 0, []

    def _initialize_with_tune_context(self, context):
        pass

    def pre_tuning(self, *args):
        pass

    def post_tuning(self):
        pass

    def generate_measure_candidates(self):
        self.generated += 1
        traces = [_Trace(f"{self.name}{i}") for i in range(4)]
        return [SimpleNamespace(sch=SimpleNamespace(trace=t)) for t in traces]

    def notify_runner_results(self, candidates, results):
        self.notified.append([str(c.sch.trace) for c in candidates])


def test_foresee_rounds_use_the_light_search_and_both_searches_learn_every_result():
    plan = ForeseePlan()
    full, light = _Strategy("full"), _Strategy("light")
    search = ForeseeSearch(full, light, plan, lambda _task: True)._inst  # the Python object
    search._initialize_with_tune_context(SimpleNamespace(task_name="t"))
    plan.limit("t", 2)
    foresee = search.generate_measure_candidates()
    assert [str(c.sch.trace) for c in foresee] == ["light0", "light1"]
    assert (full.generated, light.generated) == (0, 1)
    assert len(search.generate_measure_candidates()) == 4 and full.generated == 1  # full round
    search.notify_runner_results(foresee, [None, None])
    assert full.notified == light.notified == [["light0", "light1"]]
    light.generate_measure_candidates = lambda: None  # the light search gave up: the full one
    plan.limit("t", 2)
    assert [str(c.sch.trace) for c in search.generate_measure_candidates()] == ["full0", "full1"]


def test_a_full_round_the_cost_model_cannot_rank_is_searched_light_and_whole():
    """Scores at random (no trained model yet): the light search's candidates, none cut."""
    trained = {"t": False}
    full, light = _Strategy("full"), _Strategy("light")
    search = ForeseeSearch(full, light, ForeseePlan(), trained.get)._inst
    search._initialize_with_tune_context(SimpleNamespace(task_name="t"))
    assert len(search.generate_measure_candidates()) == 4
    assert (full.generated, light.generated) == (0, 1)
    trained["t"] = True
    search.generate_measure_candidates()
    assert (full.generated, light.generated) == (1, 1)


class _Records:
    """A stand-in records database holding the traces of one task; counts its scans."""

    def __init__(self, traces: list[str]):
        self.workload = SimpleNamespace(same_as=lambda other: True)
        self.traces, self.scans = traces, 0

    def has_workload(self, mod):
        return True

    def commit_workload(self, mod):
        return self.workload

    def get_all_tuning_records(self):
        self.scans += 1
        return [SimpleNamespace(trace=t, workload=self.workload) for t in self.traces]


def test_a_tasks_searches_read_its_records_once_and_skip_what_either_measured():
    measured, records = MeasuredTraces(), _Records([_Trace("a0")])
    one = SkipMeasured(_Strategy("a"), measured=measured)._inst
    two = SkipMeasured(_Strategy("b"), measured=measured)._inst
    for search in (one, two):
        search._initialize_with_tune_context(SimpleNamespace(mod=None))
        search.pre_tuning(8, 4, [], records, None)
    assert records.scans == 1
    assert [str(c.sch.trace) for c in one.generate_measure_candidates()] == ["a1", "a2", "a3"]
    two.notify_runner_results([SimpleNamespace(sch=SimpleNamespace(trace=_Trace("a1")))], [None])
    assert [str(c.sch.trace) for c in one.generate_measure_candidates()] == ["a2", "a3"]


def test_a_task_whose_search_proposes_nothing_new_is_ended():
    """A small space measured whole: the search keeps proposing measured schedules; after
    EXHAUSTED_AFTER such rounds the wrapper returns None, which ends the task, instead of the
    scheduler picking it again and again with nothing to measure."""
    search = SkipMeasured(_Strategy("s"))._inst
    search._initialize_with_tune_context(SimpleNamespace(mod=None))
    search.pre_tuning(8, 4, [], None, None)
    first = search.generate_measure_candidates()
    assert len(first) == 4
    search.notify_runner_results(first, [None] * 4)
    assert search.generate_measure_candidates() == []  # one round without news: not yet
    assert search.generate_measure_candidates() is None  # a second one: the task is ended


def _context(task, board, postprocs=None):
    """The task's tuning context on the board, or a stand-in with only `postprocs`."""
    if postprocs is not None:
        space = SimpleNamespace(postprocs=postprocs)
        return SimpleNamespace(mod=task.mod, space_generator=space, task_name=task.name)
    space = get_rule_set(board.rule_set).space(board)
    return ms.TuneContext(
        mod=task.mod, target=board.target(), space_generator=space, task_name=task.name
    ).clone()


class _Failing:
    """A postprocessor that fails on the schedule, as RewriteLayout now and then does on a
    trace replayed with adapted tiles."""

    def apply(self, sch):
        raise RuntimeError("Check failed: (ind.as<PrimVar>()) is false")


def test_a_replayed_schedule_replays_again_and_a_failing_postprocessor_rejects_it():
    board = load_board("host")
    model = load_model(MODELS_DIR / "mobilenet_v2_fp32.tflite")
    tasks = {t.name: t for t in for_model(model, board)}
    heavy, light = (tasks[name] for name in TASKS)
    sketch = _context(heavy, board).generate_design_space()[0].trace
    _, done, _ = replayed(sketch, _context(light, board))
    # its trace marks where the postprocessors began, so replaying the replayed schedule drops
    # their instructions and applies them once, not twice
    assert "enter_postproc" in str(done.trace)
    assert replayed(done.trace, _context(heavy, board)) is not None
    assert replayed(sketch, _context(light, board, postprocs=[_Failing()])) is None


def test_the_evolutionary_population_follows_the_trials_a_task_gets():
    """Under one smallest round a task (a smoke budget) every round evolves the light
    population; up to 64 a small one; from 64 MetaSchedule's own."""
    from edgetune.search.tune import SMOKE_TRIALS, search_strategy

    def size(trials: int, light: bool = False) -> tuple[int, int]:
        evolutionary = search_strategy(trials, light=light).inner
        return int(evolutionary.population_size), int(evolutionary.genetic_num_iters)

    assert size(SMOKE_TRIALS - 1) == size(1) == size(200, light=True) == (64, 1)
    assert size(SMOKE_TRIALS) == size(63) == (128, 2)
    assert size(64) == (512, 4)
