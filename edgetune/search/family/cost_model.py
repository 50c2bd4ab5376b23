"""One MetaSchedule XGBModel per task family, behind the single CostModel the search expects.

`FamilyCostModel` dispatches `update`/`predict` on the task of the tuning context: every member
of a family trains and queries the same XGBModel (MetaSchedule's, with its per-store features),
so a measurement of one member improves the model for all of them. A family's model steers its
members' search only once it has FAMILY_MIN_SAMPLES measurements; until then they are searched
with a model of every task's measurements (as MetaSchedule's single model): a family of one to
four tasks (MobileNetV2's stem conv, stride-2 depthwise convs, classifier) gets a few dozen
trials in a whole tune, and a model fitted to a round or two of them led its search away from
the fast schedules (session 30, docs/search.md). After each update the family's model and the
pooled one (booster + training data, XGBModel's own tar format) are written to the records
folder (`records.cost_model_path`), so an interrupted run resumes warm; the same files from
another records folder of the same board warm-start a new model's families.

Each model trains when it is next asked to predict (`LazyXGBModel`), not on every update that
calls for a training: a family below FAMILY_MIN_SAMPLES predicts with the pooled model, and the
pooled one is not asked at all while every task searched has its family's model, so half of a
tune's trainings were never used (31 of 56 in a 400-trial MobileNetV2 tune; trained lazily, the
same tune trains 30 times, 3.0 s instead of 6.9 s).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from tvm.ir.utils import derived_object

from ... import stop
from ...errors import RecordsError, last_line
from ...records import cost_model_path
from ...tvm_api import ms
from ..features import SignReadOnceFeatures

FAMILY_MIN_SAMPLES = 100  # MetaSchedule's own warm-up before its single model predicts
POOLED = "all-tasks"  # the pooled model's key where family models are keyed by family


@derived_object
class FamilyCostModel(ms.cost_model.PyCostModel):
    """Per-family XGBModels and a pooled one; `task_family` maps task names to family keys."""

    def __init__(
        self,
        task_family: dict[str, str],
        state_dir: str | Path,
        warmup_samples: int,
        num_tuning_cores: int | None = None,
    ):
        super().__init__()
        self.task_family = task_family
        self.state_dir = Path(state_dir)
        self.models = {
            fam: LazyXGBModel(
                extractor=SignReadOnceFeatures(),
                num_warmup_samples=warmup_samples,
                num_tuning_cores=num_tuning_cores,
            )
            for fam in [*sorted(set(task_family.values())), POOLED]
        }

    def restore(self, records_dir: str | Path, skip: list[str] = ()) -> list[str]:
        """Load the saved state of the families found in `records_dir` (except `skip`).

        Returns the families loaded."""
        loaded = []
        for fam, model in self.models.items():
            path = cost_model_path(records_dir, fam)
            if fam not in skip and path.is_file():
                with _quiet_xgboost():
                    model.load(str(path))
                loaded.append(fam)
        return loaded

    def samples(self, family: str) -> int:
        """Measurements the family's model is trained on."""
        return int(self.models[family].data_size)

    def load(self, path: str) -> None:
        self.restore(path)

    def save(self, path: str) -> None:
        for fam in self.models:
            self._save(fam, Path(path))

    def update(self, context: Any, candidates: list[Any], results: list[Any]) -> None:
        for fam in (self.task_family[str(context.task_name)], POOLED):
            self.models[fam].update(context, candidates, results)
            self._save(fam, self.state_dir)

    def predict(self, context: Any, candidates: list[Any]) -> Any:
        return self._model(str(context.task_name)).predict(context, candidates)

    def ranks(self, task_name: str) -> bool:
        """Whether the task's candidates are scored by a trained model, not at random."""
        return self._model(task_name).ranks()

    def _model(self, task_name: str) -> LazyXGBModel:
        """The task's family model once it has FAMILY_MIN_SAMPLES measurements, else the
        pooled one."""
        fam = self.task_family[task_name]
        return self.models[fam if self.samples(fam) >= FAMILY_MIN_SAMPLES else POOLED]

    def _save(self, family: str, records_dir: Path) -> None:
        model = self.models[family]
        if model.booster is None:  # XGBModel.load cannot read a state without a booster
            model.train_if_due()  # its first training, due since its first update
            if model.booster is None:
                return
        path = cost_model_path(records_dir, family)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.tar")
        try:
            with _quiet_xgboost():
                model.save(str(tmp))
        except (OSError, RuntimeError) as err:  # a full disk: TVM's tar says "Tar error: ..."
            tmp.unlink(missing_ok=True)
            raise stop.carry(RecordsError(
                f"cannot save the cost model to {path}: {last_line(err)}; the records are "
                "kept: free space and run the same command again to resume"
            )) from None  # fmt: skip
        os.replace(tmp, path)  # a kill mid-save never leaves a damaged state


class LazyXGBModel(ms.cost_model.XGBModel._cls):
    """MetaSchedule's XGBModel (used from Python only, so not wrapped as a TVM object) that
    trains when it is next asked to predict: `update` still decides when a training is due and
    on what (the same adaptive schedule, the same training set), so every prediction comes from
    the booster the eager model would have. Its state is saved with the last booster trained and
    all its data; a loaded state is retrained on its data before its first prediction. The
    validation `update` logs for a task's new measurements is of the last booster trained, the
    one that scored them if this model picked them."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._due: tuple[list[np.ndarray], np.ndarray] | None = None

    def _train(self, xs: list[np.ndarray], ys: np.ndarray) -> None:
        self._due = (xs, ys)

    def train_if_due(self) -> None:
        """Train now if an update (or a load) called for it since the last training."""
        if self._due is not None:
            xs, ys = self._due
            self._due = None
            super()._train(xs=xs, ys=ys)

    def predict(self, context: Any, candidates: list[Any]) -> np.ndarray:
        self.train_if_due()
        return super().predict(context, candidates)

    def ranks(self) -> bool:
        """Whether `predict` would score with a booster (trained, or training due), not at
        random: XGBModel's rule, enough measurements for its warm-up."""
        trained = self.booster is not None or self._due is not None
        return trained and self.data_size >= self.num_warmup_samples

    def load(self, path: str) -> None:
        super().load(path)
        if self.data:  # as update's training set: every measurement, as best cost / its cost
            groups = list(self.data.values())
            with np.errstate(divide="ignore", invalid="ignore"):
                ys = [np.divide(g.min_cost, g.costs, out=np.zeros_like(g.costs), where=g.costs != 0)
                      for g in groups]  # fmt: skip
            self._due = ([f for g in groups for f in g.features], np.concatenate(ys))


@contextmanager
def _quiet_xgboost() -> Iterator[None]:
    """XGBModel's tar holds "model.bin": xgboost warns that it guesses the format (UBJSON)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield
