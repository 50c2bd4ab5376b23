"""`tune`'s search options: method, seed, batch size, warm start."""

from __future__ import annotations

import argparse

from ..search import DEFAULT_SEARCH, SEARCHES


def add_search_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("search")
    group.add_argument("--seed", type=int, default=0, help="search seed (default 0)")
    group.add_argument(
        "--per-round", type=int, help="candidates per task per round (default: auto)"
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
