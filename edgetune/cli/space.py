"""`edgetune space`: the search space a board's rule set gives one task."""

from __future__ import annotations

import argparse

from ..errors import InputError

DEFAULT_MODEL = "mobilenet_v2_fp32.tflite"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "space",
        help="show the sketches and sampled programs a board's rule set gives one task",
        description="Print, for one task, the rule set used, the sketches it derives (loop "
        "structure before annotation; tile sizes are one random draw) and a few sampled "
        "annotated programs (tile sizes, thread binding, vectorize and unroll drawn, "
        "postprocessors applied).",
    )
    p.add_argument("task", help="task name or index, as listed by `edgetune tasks`")
    p.add_argument("--board", required=True, help="board name or .toml path")
    p.add_argument("--model", default=None, help=f"TFLite model (default: shipped {DEFAULT_MODEL})")
    p.add_argument("--samples", type=int, default=2, help="annotated programs to draw (2)")
    p.add_argument("--seed", type=int, default=1, help="random seed for sketches and samples")
    p.add_argument("--script", action="store_true", help="print TVMScript, not loop trees")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..board import load_board
    from ..compile import lower_for_tuning
    from ..frontend import load_model
    from ..paths import shipped_model
    from ..rules import get_rule_set
    from ..rules.show import explore, loop_tree
    from ..tasks import extract_tasks
    from .common import model_path

    board = load_board(args.board)
    rule_set = get_rule_set(board.rule_set)
    model = load_model(model_path(args.model) if args.model else shipped_model(DEFAULT_MODEL))
    target = board.target()
    tasks = extract_tasks(lower_for_tuning(model.mod, target), target)
    index = _find(args.task, [t.name for t in tasks])
    task = tasks[index]
    parts = rule_set.parts(board)

    print(f"board {board.name}: rule set '{rule_set.name}': {rule_set.description}")
    if parts is not None:
        print("  rules:     " + ", ".join(_name(r) for r in parts.rules))
        print("  postprocs: " + ", ".join(_name(p) for p in parts.postprocs))
        mutators = ", ".join(f"{_name(m)} {float(p):.2f}" for m, p in parts.mutators.items())
        print("  mutators:  " + mutators)
    print(
        f"task {index}: {task.name} (weight {task.weight}, {task.flops / 1e6:.2f} MFLOP, "
        f"anchor {task.anchor} {task.dtypes})"
    )
    view = explore(task.mod, board, max(0, args.samples), seed=args.seed)
    show = (lambda s: s.mod.script()) if args.script else (lambda s: loop_tree(s.mod))
    for i, sketch in enumerate(view.sketches, 1):
        print(f"\n== sketch {i}/{len(view.sketches)} (tile sizes: one random draw) ==")
        print(show(sketch))
    for i, sample in enumerate(view.samples, 1):
        print(f"\n== sampled program {i}/{len(view.samples)} ==")
        print(show(sample))
    if args.samples and not view.samples:
        print("\n(no valid program drawn: every sample was rejected by a postprocessor)")
    return 0


def _name(obj) -> str:
    return type(obj).__name__.lstrip("_").removeprefix("Py") or str(obj)


def _find(key: str, names: list[str]) -> int:
    if key.isdigit():
        if int(key) < len(names):
            return int(key)
        raise InputError(f"task index {key} out of range (the model has {len(names)} tasks)")
    if key in names:
        return names.index(key)
    raise InputError(f"no task named '{key}' (see `edgetune tasks`; {len(names)} tasks)")
