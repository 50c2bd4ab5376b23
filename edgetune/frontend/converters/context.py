"""Which operator the import was converting when it failed.

A converter that raises deep inside TVM's importer says nothing about where in the model it
was: `ImportFailure` names the operator (its index in the subgraph and its TFLite name), so the
error can say which op to re-export, split off or report.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


class ImportFailure(Exception):
    """A converter raised: `op` is '#index NAME', `cause` the exception."""

    def __init__(self, op: str, cause: BaseException) -> None:
        super().__init__(f"{op}: {type(cause).__name__}: {cause}")
        self.op, self.cause = op, cause


class OperatorContext:
    """Mixin for OperatorConverter (the outermost): every converter's exception becomes an
    ImportFailure naming the operator, in conversion order; `current_op_name` is the TFLite
    name of the operator being converted."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._converted = 0
        self.current_op_name: str | None = None
        self.convert_map = {
            name: functools.partial(self._named, name, convert)
            for name, convert in self.convert_map.items()
        }

    def _named(self, name: str, convert: Callable, op: Any) -> Any:
        index, self._converted = self._converted, self._converted + 1
        self.current_op_name = name
        try:  # normalized here: Relax checks an op's arguments (axes, shapes) when it normalizes
            out = convert(op=op)
            return None if out is None else self.bb.normalize(out)
        except ImportFailure:
            raise
        except Exception as err:
            raise ImportFailure(f"operator #{index} {name}", err) from err
