"""The dispatching cost model: one XGBModel per family, trained on its members, saved, reloaded."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgetune.board import load_board
from edgetune.errors import RecordsError
from edgetune.frontend import load_model
from edgetune.paths import MODELS_DIR
from edgetune.records import MANIFEST, cost_model_path
from edgetune.rules import get_rule_set
from edgetune.search.family import FamilyCostModel, prepare_family_search
from edgetune.search.family import cost_model as family_cost_model
from edgetune.search.family.cost_model import POOLED, LazyXGBModel
from edgetune.tasks import for_model

POINTWISE = "conv2d_nhwc-k1x1-s1-float32"


@pytest.fixture(scope="module")
def board():
    return load_board("host")


@pytest.fixture(scope="module")
def tasks(board):
    """Two pointwise convs (one family) and a depthwise conv (another) of MobileNetV2."""
    model = load_model(MODELS_DIR / "mobilenet_v2_fp32.tflite")
    by_name = {t.name: t for t in for_model(model, board).tasks}
    return [
        by_name[n]
        for n in ("fused_conv2d15_add12", "fused_conv2d24_add19", "fused_conv2d23_add18_tir_clip9")
    ]


def candidates(task, board, seeds):
    """Schedules of a task sampled from its design space (one context per seed)."""
    from tvm.s_tir.meta_schedule import TuneContext
    from tvm.s_tir.meta_schedule.arg_info import ArgInfo
    from tvm.s_tir.meta_schedule.search_strategy import MeasureCandidate

    space = get_rule_set(board.rule_set).space(board)
    ctx, cands = None, []
    for seed in seeds:
        c = TuneContext(
            mod=task.mod,
            target=board.target(),
            space_generator=space,
            task_name=task.name,
            rand_state=seed,
            num_threads=1,
        )
        ctx = ctx or c
        cands += [
            MeasureCandidate(sch, ArgInfo.from_entry_func(sch.mod))
            for sch in c.generate_design_space()
        ]
    return ctx, cands


def results(n, rng):
    from tvm.s_tir.meta_schedule.runner import RunnerResult

    return [RunnerResult([float(s)], None) for s in rng.uniform(1e-4, 1e-3, n)]


def test_dispatch_trains_per_family_and_predicts(tasks, board, tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    families = {t.name: t.family for t in tasks}
    assert families[tasks[0].name] == families[tasks[1].name] == POINTWISE
    depthwise = families[tasks[2].name]
    model = FamilyCostModel(families, tmp_path, warmup_samples=4, num_tuning_cores=1)
    ctx_a, cands_a = candidates(tasks[0], board, range(2))
    ctx_b, cands_b = candidates(tasks[1], board, range(2, 4))
    ctx_d, cands_d = candidates(tasks[2], board, range(2))

    model.update(ctx_a, cands_a, results(len(cands_a), rng))
    model.update(ctx_b, cands_b, results(len(cands_b), rng))
    measured = len(cands_a) + len(cands_b)
    assert model.samples(POINTWISE) == measured  # both members, one model
    assert model.samples(depthwise) == 0
    assert model.samples(POOLED) == measured  # every task's measurements

    # A family with FAMILY_MIN_SAMPLES measurements predicts with its own model, deterministically,
    # for members it has data of and for new ones alike; a family below it with the pooled model.
    monkeypatch.setattr(family_cost_model, "FAMILY_MIN_SAMPLES", measured)
    first = model.predict(ctx_b, cands_b)
    assert np.array_equal(first, model.predict(ctx_b, cands_b))
    assert np.array_equal(first, model.models[POINTWISE].predict(ctx_b, cands_b))
    assert first.shape == (len(cands_b),) and np.isfinite(first).all()
    pooled = model.models[POOLED].predict(ctx_d, cands_d)
    assert np.array_equal(model.predict(ctx_d, cands_d), pooled)
    # An untrained model (below its warm-up) would answer with random scores, and says so.
    untrained = model.models[depthwise]
    assert not np.array_equal(untrained.predict(ctx_d, cands_d), untrained.predict(ctx_d, cands_d))
    assert not untrained.ranks() and model.models[POINTWISE].ranks()
    assert model.ranks(tasks[1].name) and model.ranks(tasks[2].name)  # the pooled model's data
    fresh = FamilyCostModel(families, tmp_path / "fresh", warmup_samples=4, num_tuning_cores=1)
    assert not fresh.ranks(tasks[0].name)

    # State: written after each update, reloaded into a fresh model (a resumed run) identically.
    assert cost_model_path(tmp_path, POINTWISE).is_file()
    assert cost_model_path(tmp_path, POOLED).is_file()
    assert not cost_model_path(tmp_path, depthwise).exists()
    again = FamilyCostModel(families, tmp_path, warmup_samples=4, num_tuning_cores=1)
    assert again.restore(tmp_path) == [POINTWISE, POOLED]
    assert again.samples(POINTWISE) == model.samples(POINTWISE)
    assert np.allclose(again.predict(ctx_a, cands_a), model.predict(ctx_a, cands_a))
    assert np.allclose(again.predict(ctx_d, cands_d), pooled)


def test_models_train_when_next_asked_to_predict(tasks, board, monkeypatch):
    """A model trains on its next prediction, on what MetaSchedule's XGBModel trains on after
    the same updates: the same predictions from fewer trainings."""
    from tvm.s_tir.meta_schedule.cost_model import XGBModel

    trainings = []
    train = XGBModel._cls._train
    monkeypatch.setattr(
        XGBModel._cls, "_train", lambda self, **kw: trainings.append(self) or train(self, **kw)
    )
    rng = np.random.default_rng(2)
    ctx, cands = candidates(tasks[0], board, range(3))
    lazy = LazyXGBModel(num_warmup_samples=2, num_tuning_cores=1)
    eager = XGBModel(num_warmup_samples=2, num_tuning_cores=1)
    third = len(cands) // 3
    for batch in (cands[:third], cands[third : 2 * third], cands[2 * third :]):
        measured = results(len(batch), rng)
        lazy.update(ctx, batch, measured)
        eager.update(ctx, batch, measured)
    assert lazy.booster is None and len(trainings) >= 2  # the eager model trained on each
    assert np.array_equal(lazy.predict(ctx, cands), eager.predict(ctx, cands))
    assert len([t for t in trainings if t is lazy]) == 1
    assert np.array_equal(lazy.predict(ctx, cands), eager.predict(ctx, cands))  # no retraining
    assert len([t for t in trainings if t is lazy]) == 1


def test_warm_start_needs_records_of_the_same_board(tasks, board, tmp_path):
    other = tmp_path / "other"
    state = cost_model_path(other, POINTWISE)
    state.parent.mkdir(parents=True)
    (other / MANIFEST).write_text(json.dumps({"board": "host"}))
    rng = np.random.default_rng(1)
    seeded = FamilyCostModel({tasks[0].name: POINTWISE}, other, warmup_samples=2)
    ctx, cands = candidates(tasks[0], board, range(1))
    seeded.update(ctx, cands, results(len(cands), rng))

    fam = prepare_family_search(tasks, tmp_path / "new", 100, board, warm_start=other)
    assert fam.warm_started == [POINTWISE, POOLED] and fam.restored == []
    assert fam.cost_model.samples(POINTWISE) == len(cands)

    (other / MANIFEST).write_text(json.dumps({"board": "rpi3"}))
    with pytest.raises(RecordsError, match="board 'rpi3', not 'host'"):
        prepare_family_search(tasks, tmp_path / "new", 100, board, warm_start=other)
    with pytest.raises(RecordsError, match="not an edgetune records folder"):
        prepare_family_search(tasks, tmp_path / "new", 100, board, warm_start=tmp_path / "none")


def test_features_read_a_requantization_sign_operand_once(tasks, board):
    """tiny_int8's conv+ADD kernel nests requantizations whose sign corrections copy their
    operand (4 reads of the conv's accumulator per output); the features see it read as LLVM
    computes it, once, and float kernels exactly as MetaSchedule does."""
    from tvm.s_tir.meta_schedule.feature_extractor import PerStoreFeature

    from edgetune.search.features import SignReadOnceFeatures, feature_view

    int8 = for_model(load_model(MODELS_DIR / "tiny_int8.tflite"), board).tasks
    (residual,) = [t for t in int8 if "quantized_add" in t.name and "conv2d" in t.name]
    ctx, (cand, *_) = candidates(residual, board, seeds=[1])
    mod, view = cand.sch.mod, feature_view(cand.sch.mod)

    def reads(m, name):  # the printed function writes out every copy
        return m.script().count(f"{name}[v_i0, v_i1, v_i2, v_i3]")

    accumulator = "conv2d_nhwc_intermediate"
    assert (reads(mod, accumulator), reads(view, accumulator)) == (4 + 1, 1 + 1)  # + T.reads
    assert reads(view, "lv7") < reads(mod, "lv7")  # the residual input's requantization too
    (features,) = SignReadOnceFeatures().extract_from(ctx, [cand])
    (metaschedule,) = PerStoreFeature().extract_from(ctx, [cand])  # one row per store
    assert features.shape == metaschedule.shape and np.isfinite(features.numpy()).all()

    float_cand = candidates(tasks[0], board, seeds=[1])[1][0]
    assert feature_view(float_cand.sch.mod).same_as(float_cand.sch.mod)
