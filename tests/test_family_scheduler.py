"""The family scheduler's decisions: warm-up with foresee rounds, gain, foresee, no starving."""

from __future__ import annotations

from types import SimpleNamespace

from edgetune.search.family import FamilyScheduler, ForeseePlan
from edgetune.search.family.scheduler import SchedulerTask

TASKS = [
    SchedulerTask("pw_big", "pw", weight=2, flops=4e7),
    SchedulerTask("pw_small", "pw", weight=1, flops=1e7),
    SchedulerTask("pw_mid", "pw", weight=1, flops=2e7),
    SchedulerTask("dw", "dw", weight=1, flops=1e6),
]


def make(**kwargs):
    plan = ForeseePlan()
    return FamilyScheduler(TASKS, plan, per_round=8, foresee_trials=2, **kwargs), plan


def pick(sched, alive=(0, 1, 2, 3)):
    task = sched._pick(list(alive))
    sched.decisions += 1
    sched.last_pick[task] = sched.decisions
    return task


def test_warmup_full_round_per_family_then_foresee_for_members():
    sched, plan = make()
    assert pick(sched) == 0  # heaviest of the heaviest family: full round
    assert plan.take("pw_big") is None
    assert pick(sched) == 2 and plan.take("pw_mid") == 2  # members: foresee rounds, heaviest first
    assert pick(sched) == 1 and plan.take("pw_small") == 2
    assert pick(sched) == 3 and plan.take("dw") is None  # next family: full round
    assert sched.foresee_rounds == 2


def test_gain_prefers_weighted_slow_tasks_and_plans_foresee():
    sched, plan = make()
    for _ in range(4):
        pick(sched)
    # four rounds each, no recent progress; pw_small runs at 1/8 of its family's best throughput,
    # so the family bound expects it to gain most (Ansor's forward gradient)
    sched.history = [[1e-3] * 4, [2e-3] * 4, [0.5e-3] * 4, [1e-4] * 4]
    sched.trials = [4 * 8] * 4
    gains = [sched.gain(i) for i in range(4)]
    assert max(range(4), key=gains.__getitem__) == 1
    assert abs(gains[1] - 0.8 * (2e-3 - 2 * 1e7 / 4e10)) < 1e-12
    assert gains[0] > gains[2] > gains[3] > 0  # weight 2 counts double
    assert pick(sched) == 1
    assert pick(sched) == 0 and plan.take("pw_big") == 2  # foresee: family, largest gain first
    assert pick(sched) == 2 and plan.take("pw_mid") == 2


def test_no_task_starves_and_a_starved_task_gets_a_foresee_sized_round():
    sched, plan = make(starve_after=6, foresee_width=0)
    sched.history = [[1e-3], [1e-3], [1e-3], [1e-9]]  # dw never worth a round by gain
    rounds = []
    for _ in range(14):
        task = pick(sched)
        rounds.append((task, plan.take(TASKS[task].name)))
    # after the warm-up, dw still gets a round within starve_after picks, but only the family
    # model's 2 best candidates: a full round of 8 would go to a task worth 1e-9 s
    assert (3, 2) in rounds[4:] and (3, None) not in rounds[4:]


def measured(sched, task, trials, secs):
    """Feed the scheduler a joined batch of `trials` results of `secs` each."""
    sched._joined(task, [SimpleNamespace(error_msg=None, run_secs=[secs])] * trials)


def test_foresee_rounds_count_by_their_size_in_the_expected_gain():
    sched, _ = make()
    sched.last_pick = [0] * 4
    measured(sched, 3, 2, 1e-4)  # dw: two foresee rounds of 2 trials, 4 trials in all
    measured(sched, 3, 2, 1e-4)
    assert sched.history[3] == [1e-4, 1e-4] and sched.trials[3] == 4
    # half a full round measured: it still expects as much as after its first full round
    assert abs(sched.gain(3) - 0.8 * 1e-4) < 1e-15
    measured(sched, 3, 8, 2e-4)  # a full round, no better: 12 trials = 1.5 rounds
    assert sched.history[3] == [1e-4, 1e-4, 1e-4] and sched.trials[3] == 12
    assert abs(sched.gain(3) - 0.8 * 1e-4 / 1.5) < 1e-15


def test_resumed_tasks_skip_the_warmup():
    plan = ForeseePlan()
    sched = FamilyScheduler(
        TASKS, plan, per_round=8, foresee_trials=2, known_best=[1e-3, None, 1e-3, 1e-4]
    )
    assert pick(sched) == 1 and plan.take("pw_small") is None  # the only task without records
    assert sched.history[0] == [1e-3] and sched.trials[0] == 8  # records count as one round


def test_the_last_round_is_cut_to_the_budget():
    plan = ForeseePlan()
    sched = FamilyScheduler(TASKS, plan, per_round=8, foresee_trials=2, budget=13, foresee_width=0)
    sched.last_pick = [0] * 4  # all measured: main rounds
    sched.history = [[1e-3], [1e-3], [1e-3], [1e-3]]
    idle = SimpleNamespace(is_terminated=False, runner_futures=None)
    sched._outer = lambda: SimpleNamespace(tasks_=[idle] * 4)  # MetaSchedule's side
    first = sched.next_task_id()
    assert plan.take(TASKS[first].name) is None  # 13 left: a full round of 8
    measured(sched, first, 8, 1e-3)
    second = sched.next_task_id()
    assert plan.take(TASKS[second].name) == 5  # 5 left
    measured(sched, second, 5, 1e-3)
    assert sched.next_task_id() == -1
