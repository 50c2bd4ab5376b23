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
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tvm.ir.utils import derived_object

from ...records import cost_model_path
from ...tvm_api import ms

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
            fam: ms.cost_model.XGBModel(
                num_warmup_samples=warmup_samples, num_tuning_cores=num_tuning_cores
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
        fam = self.task_family[str(context.task_name)]
        if self.samples(fam) < FAMILY_MIN_SAMPLES:
            fam = POOLED
        return self.models[fam].predict(context, candidates)

    def _save(self, family: str, records_dir: Path) -> None:
        model = self.models[family]
        if model.booster is None:  # XGBModel.load cannot read a state without a booster
            return
        path = cost_model_path(records_dir, family)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.tar")
        with _quiet_xgboost():
            model.save(str(tmp))
        os.replace(tmp, path)  # a kill mid-save never leaves a damaged state


@contextmanager
def _quiet_xgboost() -> Iterator[None]:
    """XGBModel's tar holds "model.bin": xgboost warns that it guesses the format (UBJSON)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield
