"""Tensorize hooks for quantized int8 tasks: rules that map int8 dot products onto the
board's instructions (x86 VNNI, Arm NEON widening multiply-accumulate).

Owned by the int8 work; the board rule sets call these and add what they return.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..board import Board


def tensorize_rules(board: Board) -> list[Any]:
    """Schedule rules that tensorize int8 reductions on this board (empty: none)."""
    return []


def tensorize_postprocs(board: Board) -> list[Any]:
    """Postprocessors the tensorize rules need (e.g. RewriteTensorize)."""
    return []
