"""What a rule set makes of a task: its sketches and sampled annotated programs, as loop trees.

A sketch is a design space MetaSchedule's PostOrderApply derives from the rules (Ansor's
"sketch": loop structure before annotation; its tile sizes here are one random draw). Sampled
programs are sketches with every decision drawn and every postprocessor applied: what the
builder compiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InputError

if TYPE_CHECKING:
    from ..board import Board
    from ..tasks import Task

INDENT = "  "
FOR_KINDS = {1: "parallel", 2: "vectorized", 3: "unrolled"}  # tirx.ForKind values (0: serial)


@dataclass
class SpaceView:
    """Sketches and samples of one task under one board's rule set."""

    sketches: list[Any]  # Schedules
    samples: list[Any]  # Schedules


def explore(mod: Any, board: Board, samples: int, seed: int = 1) -> SpaceView:
    """Derive the sketches of `mod` and draw `samples` annotated programs from them."""
    from ..tvm_api import ms
    from .rule_set import get_rule_set

    ctx = ms.TuneContext(
        mod=mod,
        target=board.target(),
        space_generator=get_rule_set(board.rule_set).space(board, [mod]),
        search_strategy=ms.search_strategy.ReplayTrace(max_fail_count=200),
        rand_state=seed,
    )
    sketches = list(ctx.generate_design_space())
    drawn: list[Any] = []
    if samples > 0:
        ctx.pre_tuning(
            max_trials=samples,
            num_trials_per_iter=samples,
            design_spaces=sketches,
            database=None,
            cost_model=None,
        )
        drawn = [c.sch for c in ctx.search_strategy.generate_measure_candidates() or []]
        ctx.post_tuning()
    return SpaceView(sketches, drawn[:samples])


def loop_tree(mod: Any) -> str:
    """Loops (extent, binding or annotation), blocks and non-global buffers of a module."""
    from ..tvm_api import s_tir, tirx

    lines: list[str] = []

    def loop_line(loop: Any) -> str:
        extent = loop.extent.value if isinstance(loop.extent, tirx.IntImm) else loop.extent
        if loop.thread_binding is not None:
            how = f"  @{loop.thread_binding.thread_tag}"
        else:
            kind = FOR_KINDS.get(int(loop.kind), "")
            how = f"  @{kind}" if kind else ""
        steps = loop.annotations.get("pragma_auto_unroll_max_step")
        if steps is not None:
            how += f"  @unroll<={int(steps)}"
        return f"for {loop.loop_var.name} in {extent}{how}"

    def visit(stmt: Any, depth: int) -> None:
        pad = INDENT * depth
        if isinstance(stmt, tirx.For):
            lines.append(pad + loop_line(stmt))
            visit(stmt.body, depth + 1)
        elif isinstance(stmt, s_tir.SBlockRealize):
            block = stmt.block
            if block.name_hint != "root":
                lines.append(f"{pad}{block.name_hint} = ...")
            for buf in block.alloc_buffers:
                if buf.scope() != "global":
                    lines.append(f"{pad}{buf.name}: {buf.scope()} buffer")
            visit(block.body, depth if block.name_hint == "root" else depth + 1)
        elif isinstance(stmt, tirx.SeqStmt):
            for s in stmt.seq:
                visit(s, depth)
        elif hasattr(stmt, "body"):
            visit(stmt.body, depth)

    for gv, func in mod.functions.items():
        if hasattr(func, "body"):
            lines.append(f"{gv.name_hint}:")
            visit(func.body, 1)
    return "\n".join(lines)


def describe_space(
    board: Board, tasks: list[Task], key: str, samples: int, seed: int, script: bool
) -> list[str]:
    """`edgetune space`: the rule set, then the sketches and `samples` sampled programs of the
    task named (or numbered) `key`, as loop trees or TVMScript."""
    from .rule_set import get_rule_set

    rule_set = get_rule_set(board.rule_set)
    index = _find(key, [t.name for t in tasks])
    task = tasks[index]
    lines = [f"board {board.name}: rule set '{rule_set.name}': {rule_set.description}"]
    parts = rule_set.parts(board)
    if parts is not None:
        lines.append("  rules:     " + ", ".join(_name(r) for r in parts.rules))
        lines.append("  postprocs: " + ", ".join(_name(p) for p in parts.postprocs))
        lines.append(
            "  mutators:  "
            + ", ".join(f"{_name(m)} {float(p):.2f}" for m, p in parts.mutators.items())
        )
    lines.append(
        f"task {index}: {task.name} (weight {task.weight}, {task.flops / 1e6:.2f} MFLOP, "
        f"anchor {task.anchor} {task.dtypes})"
    )
    view = explore(task.mod, board, max(0, samples), seed=seed)
    show = (lambda s: s.mod.script()) if script else (lambda s: loop_tree(s.mod))
    for i, sketch in enumerate(view.sketches, 1):
        lines += [
            f"\n== sketch {i}/{len(view.sketches)} (tile sizes: one random draw) ==",
            show(sketch),
        ]
    for i, sample in enumerate(view.samples, 1):
        lines += [f"\n== sampled program {i}/{len(view.samples)} ==", show(sample)]
    if samples and not view.samples:
        lines.append("\n(no valid program drawn: every sample was rejected by a postprocessor)")
    return lines


def _name(obj: Any) -> str:
    return type(obj).__name__.lstrip("_").removeprefix("Py") or str(obj)


def _find(key: str, names: list[str]) -> int:
    if key.isdigit():
        if int(key) < len(names):
            return int(key)
        raise InputError(f"task index {key} out of range (the model has {len(names)} tasks)")
    if key in names:
        return names.index(key)
    raise InputError(f"no task named '{key}' (see `edgetune tasks`; {len(names)} tasks)")
