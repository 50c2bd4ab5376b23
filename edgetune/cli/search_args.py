"""`tune`'s search options: method, seed, batch size, warm start, final re-measurement."""

from __future__ import annotations

import argparse

from ..search import DEFAULT_SEARCH, FAMILY, FINAL_TOP, RACE_MARGIN, RACE_ROUNDS, ROUNDS, SEARCHES
from .numbers import COUNT, POSITIVE, at_least


def add_search_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("search")
    group.add_argument("--seed", type=COUNT, default=0, help="search seed (default 0)")
    group.add_argument(
        "--per-round", type=POSITIVE, help="candidates per task per round (default: auto)"
    )
    group.add_argument(
        "--search",
        choices=SEARCHES,
        default=DEFAULT_SEARCH,
        help="family: one cost model per task family, foresee rounds, gain scheduler "
        "(FamilySeer); ms: MetaSchedule's default (one XGBoost model, gradient scheduler), for "
        f"comparison. Default {DEFAULT_SEARCH} (docs/search.md has the benchmark)",
    )
    group.add_argument(
        "--warm-start",
        metavar="RECORDS",
        help="with --search family: seed the family cost models from another records folder of "
        "the same board",
    )
    group.add_argument(
        "--final-top",
        type=at_least(0, " (off)"),
        metavar="K",
        help=f"after the search, re-measure each task's K best candidates together, interleaved "
        f"(up to {ROUNDS} rounds; a candidate's latency is its median round, a typical run as "
        f"in the model; after {RACE_ROUNDS} rounds, candidates over {RACE_MARGIN:g}x their task's "
        "fastest are dropped), with the best schedules of up to "
        f"{FAMILY} members of its family replayed on its shapes (a task that got few trials "
        f"often fits a tiling its siblings found) and of up to {FAMILY} of the family's shapes in "
        "the records library (other models'), and build with the fastest: a busy host during "
        "the search then picks worse schedules less often, and the estimates predict the built "
        f"model. Costs up to K+{FAMILY} builds (+{FAMILY} with a library) and up to {ROUNDS}x as "
        "many short runs per task (MobileNetV2 fp32: about a minute, a tenth of a 1000-trial "
        "search); a rerun with nothing left to search re-measures only tasks without a current "
        f"choice. 0: off (build each task's best search record). Default {FINAL_TOP}, 0 on "
        "emulated boards (their timings do not rank schedules)",
    )
