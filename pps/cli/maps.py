"""`pps maps`: every (env, map) pair, its static facts, and whether it can run here.

Static tables only (`pps.envs.registry`): nothing is imported from jax or smac and nothing
is stepped, so the command answers at once. `--json` rows are `registry.MapEntry`s, including
`has_win_condition` (False: the task is scored by normalised return, see `pps.envs.references`).
"""

from __future__ import annotations

import argparse
import json

from pps.envs.registry import ENV_NAMES, list_maps


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", help=f"only this env ({', '.join(ENV_NAMES)})")
    parser.add_argument("--json", action="store_true", help="machine-readable output (a JSON list)")


def run(args: argparse.Namespace) -> int:
    entries = list_maps(args.env)  # UserError for an unknown env
    if args.json:
        print(json.dumps([e.as_dict() for e in entries], indent=2))
        return 0

    notes: list[str] = []

    def note(text: str) -> str:
        if text not in notes:
            notes.append(text)
        return f"[{notes.index(text) + 1}]"

    header = ("env", "map", "agents", "unit types", "enemies", "limit", "scored by", "usable here")
    rows = []
    for e in entries:
        types = e.unit_types + (f" {note(e.note)}" if e.note else "")
        usable = "yes" if e.usable_here else f"no {note(e.why_not)}"
        scored = "win rate" if e.has_win_condition else "return"
        rows.append((e.env, e.map, str(e.n_agents), types, e.enemies or "-", str(e.episode_limit), scored, usable))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = {2, 5}  # numeric columns

    def fmt(row):
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        return "  ".join(cells).rstrip()

    print(fmt(header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(fmt(row))
    if notes:
        print()
        for i, text in enumerate(notes, 1):
            print(f"[{i}] {text}")
    print()
    print("limit = episode limit in agent steps; agents are listed in the env's agent order.")
    if any(not e.has_win_condition for e in entries):
        print("scored by return: no win condition; team return normalised by the random and reference returns "
              "of pps/envs/score_references.csv (pps references).")
    return 0
