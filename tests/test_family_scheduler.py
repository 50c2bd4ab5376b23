"""The family scheduler's decisions: warm-up with foresee rounds, gain, foresee, no starving."""

from __future__ import annotations

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
    return FamilyScheduler(TASKS, plan, foresee_trials=2, **kwargs), plan


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
    gains = [sched.gain(i) for i in range(4)]
    assert max(range(4), key=gains.__getitem__) == 1
    assert abs(gains[1] - 0.8 * (2e-3 - 2 * 1e7 / 4e10)) < 1e-12
    assert gains[0] > gains[2] > gains[3] > 0  # weight 2 counts double
    assert pick(sched) == 1
    assert pick(sched) == 0 and plan.take("pw_big") == 2  # foresee: family, largest gain first
    assert pick(sched) == 2 and plan.take("pw_mid") == 2


def test_no_task_starves():
    sched, _ = make(starve_after=6, foresee_width=0)
    sched.history = [[1e-3], [1e-3], [1e-3], [1e-9]]  # dw never worth a round by gain
    picks = [pick(sched) for _ in range(14)]
    assert 3 in picks[4:]  # after the warm-up, dw still gets a round within starve_after picks


def test_resumed_tasks_skip_the_warmup():
    plan = ForeseePlan()
    sched = FamilyScheduler(TASKS, plan, foresee_trials=2, known_best=[1e-3, None, 1e-3, 1e-4])
    assert pick(sched) == 1 and plan.take("pw_small") is None  # the only task without records
    assert sched.history[0] == [1e-3]
