"""User rules: a Python module named by the board file adds to the board's rule set.

In the board file::

    rule_set = "cortex-a53"
    rules_module = "my_rules"      # my_rules.py beside the board file, or any importable module

and in `my_rules.py`::

    def extend(parts, board):
        '''Called with the board's RuleSetParts (rules, postprocs, mutators); edit in place.'''
        parts.rules.insert(0, MyRule())

The module is looked up next to the board file first, then on the normal Python path.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

from ..errors import BoardError

if TYPE_CHECKING:
    from ..board import Board
    from .rule_set import RuleSetParts

ENTRY_POINT = "extend"


def _import(name: str, board: Board):
    extra = str(board.path.parent) if board.path else ""
    added = bool(extra) and extra not in sys.path
    if added:
        sys.path.insert(0, extra)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name not in (name, name.split(".")[0]):
            raise  # the module exists but imports something missing: show the real cause
        where = f" (looked beside {board.path} and on the Python path)" if board.path else ""
        raise BoardError(f"board '{board.name}': rules_module '{name}' not found{where}") from None
    finally:
        if added:
            sys.path.remove(extra)


def apply_rules_module(parts: RuleSetParts, board: Board) -> None:
    """Call `extend(parts, board)` of the board's rules module, if it names one."""
    if not board.rules_module:
        return
    module = _import(board.rules_module, board)
    extend = getattr(module, ENTRY_POINT, None)
    if not callable(extend):
        raise BoardError(
            f"board '{board.name}': rules_module '{board.rules_module}' has no function "
            f"{ENTRY_POINT}(parts, board)"
        )
    extend(parts, board)
