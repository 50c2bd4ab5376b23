"""A tiny `--search family` tune: records and model state on disk, a foresee round, warm resume."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from edgetune.board import load_board
from edgetune.cli.main import main
from edgetune.frontend import load_model
from edgetune.paths import MODELS_DIR
from edgetune.records import TUNING_RECORDS, RecordStore, cost_model_path
from edgetune.search import tune_model

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

    first = tune_model(model, board, store, 6, seed=0, search="family", task_filter=only)
    # warm-up: the heavier member gets a full round (4), the other a foresee round (2)
    assert first.search["per_round"] == 4 and first.search["foresee_trials"] == 2
    assert first.search["foresee_rounds"] == 1
    trials = {t["name"]: t["trials"] for t in first.progress.to_json()["tasks"]}
    assert trials == {"fused_conv2d10_add8": 4, "fused_conv2d15_add12": 2}
    lines = (store.path / TUNING_RECORDS).read_text().splitlines()
    assert len(lines) == 6 and all(json.loads(line) for line in lines)
    assert store.summary().workloads == 2
    assert cost_model_path(store.path, POINTWISE).is_file()
    assert first.search["cost_models_restored"] == []

    again = RecordStore(tmp_path / "recs", model.info, board)
    second = tune_model(model, board, again, 8, seed=0, search="family", task_filter=only)
    assert second.search["cost_models_restored"] == [POINTWISE]  # not cold
    # at least the 2 missing trials; a batch cut by skipping an already-measured schedule can
    # make the scheduler visit one more task, but nothing is measured twice
    assert second.progress.trials >= 2
    assert again.summary().records == 6 + second.progress.trials
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
