"""Numerical agreement between two sets of model outputs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass(frozen=True)
class Agreement:
    """Float outputs: max abs/rel difference. Integer outputs: LSB histogram and top-5 overlap."""

    kind: str  # "float" | "quantized"
    max_abs_diff: float
    max_rel_diff: float = 0.0
    mean_abs_diff: float = 0.0
    lsb_histogram: dict[str, int] = field(default_factory=dict)  # "0", "1", "2", "3+"
    top5_agreement: float | None = None  # |top5(a) & top5(b)| / 5 for classifier outputs
    # elements NaN or infinite in one output and not the same in the other: any makes the
    # differences infinite (a kernel emitting NaN never passes as a match)
    nonfinite_mismatches: int = 0

    def to_json(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        if self.kind == "float":
            text = f"max abs diff {self.max_abs_diff:.3g}, max rel diff {self.max_rel_diff:.3g}"
            if self.nonfinite_mismatches:
                text += (
                    f" ({self.nonfinite_mismatches} elements NaN or infinite in one output and "
                    "not in the other)"
                )
        else:
            hist = ", ".join(f"{k} LSB: {v}" for k, v in self.lsb_histogram.items())
            text = f"max {int(self.max_abs_diff)} LSB, mean {self.mean_abs_diff:.3f} LSB ({hist})"
        if self.top5_agreement is not None:
            text += f", top-5 agreement {self.top5_agreement:.0%}"
        return text


def _top5(a: np.ndarray) -> set[int]:
    return set(np.argsort(a.reshape(-1))[-5:].tolist())


def agreement(ours: np.ndarray, reference: np.ndarray) -> Agreement:
    """Compare one output tensor against the reference."""
    top5 = None
    if ours.ndim == 2 and ours.shape[0] == 1 and ours.shape[1] >= 5:
        top5 = len(_top5(ours) & _top5(reference)) / 5
    if np.issubdtype(reference.dtype, np.floating):
        a, b = ours.astype(np.float64), reference.astype(np.float64)
        finite = np.isfinite(a) & np.isfinite(b)
        alike = (np.isnan(a) & np.isnan(b)) | (~finite & (a == b))  # same NaN or same infinity
        mismatches = int((~finite & ~alike).sum())
        diff = np.abs(np.where(finite, a, 0.0) - np.where(finite, b, 0.0))
        rel = diff / np.maximum(np.abs(np.where(finite, b, 0.0)), 1e-6)
        worst = np.inf if mismatches else 0.0
        return Agreement(
            "float",
            max(float(diff.max(initial=0.0)), worst),
            max(float(rel.max(initial=0.0)), worst),
            float(diff.mean()) if not mismatches else np.inf,
            top5_agreement=top5,
            nonfinite_mismatches=mismatches,
        )
    diff = np.abs(ours.astype(np.int64) - reference.astype(np.int64))
    hist = {
        "0": int((diff == 0).sum()),
        "1": int((diff == 1).sum()),
        "2": int((diff == 2).sum()),
        "3+": int((diff >= 3).sum()),
    }
    return Agreement(
        "quantized",
        float(diff.max()),
        mean_abs_diff=float(diff.mean()),
        lsb_histogram=hist,
        top5_agreement=top5,
    )
