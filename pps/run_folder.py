"""The run-folder contract: where a run lives, which files it holds and what is in them (docs/design.md §4).

A run folder is `<results>/runs/<env>/<map>/<method>/<interval or ->/seed<k>/`. Training
writes into it, the workflow asks for its files, the analysis reads them; all three take
the path, the file names and the metrics columns from here, so the contract has one home.

| file | written | holds |
| --- | --- | --- |
| `run.json` | at the start, at the end, on failure | the run's identity, config, provenance, outcome and cost |
| `metrics.csv.partial` | after every evaluation | the evaluations so far (`METRICS_COLUMNS`) |
| `metrics.csv` | when the run finishes | every evaluation; its presence marks the run finished |
| `episodes.csv.gz` | when the run finishes, before `metrics.csv` | each episode behind each evaluation |
| `checkpoint.pt` | every `checkpoint_interval` steps; removed at the end | everything a resume needs |
| `model.pt` | when the run finishes | the trained agent and mixer weights |
| `.pps-train.lock` | while a trainer works there | who holds the folder (`pps.run_lock`) |

`metrics.csv` holds one row per evaluation, its means; `episodes.csv.gz` the episodes behind
each row (what marl-eval and any per-episode statistic need), long and gzipped (a paper-scale
run has 401 evaluations of 32 episodes plus 320 absolute-evaluation episodes: about 13,000
rows). Until the run finishes those values travel in the checkpoint.

`metrics.csv.partial` grows while a run trains and becomes `metrics.csv` only when the run
finishes, so any tool can tell a finished run from an interrupted one by the file name.
Every write is atomic (`pps.atomic`): a kill leaves the previous version of a file, never
half of one.

Import-cheap: the workflow and the analysis import this module for paths and columns, so
torch is imported only by the functions that read or write `.pt` files.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pps import atomic, provenance
from pps.config import KEYS_ADDED_WITH_OLD_BEHAVIOUR, RunConfig, inert_keys
from pps.errors import UserError
from pps.float_format import FLOAT32_DIGITS, SIGNIFICANT_DIGITS, format_float, format_float32
from pps.run_lock import LOCK_FILE as LOCK_FILE  # re-exported: part of the contract, owned by pps.run_lock

# ---------------------------------------------------------------------------- paths

RUNS_DIR = "runs"  # the folder under the results root that holds every run folder
DEFAULT_RUNS_ROOT = Path("results") / RUNS_DIR
NO_INTERVAL = "-"  # the interval folder of methods that never aggregate
SEED_PREFIX = "seed"  # a run folder is named seed<k>

# ---------------------------------------------------------------------------- file names

RUN_JSON = "run.json"
METRICS = "metrics.csv"
PARTIAL = "metrics.csv.partial"
CHECKPOINT = "checkpoint.pt"
MODEL = "model.pt"
EPISODES = "episodes.csv.gz"
# The files by which a folder is recognised as a run folder (a finished or an interrupted run).
RUN_FILES = (RUN_JSON, METRICS, PARTIAL, CHECKPOINT)

# ---------------------------------------------------------------------------- contents

METRICS_COLUMNS: tuple[str, ...] = (
    "step", "episodes", "updates", "wall_s", "test_win_rate", "test_return_mean", "test_ep_len_mean",
    "train_return_mean", "epsilon", "loss", "aggregations",
)
# Columns that are statistics of float32 values (returns and losses: the runner and the
# learner compute in float32), written with `FLOAT32_DIGITS` significant digits: 10 digits of
# their double would show the inputs' float32 rounding (a mean return of 0.05000000307).
FLOAT32_METRICS: frozenset[str] = frozenset(
    {"test_win_rate", "test_return_mean", "test_ep_len_mean", "train_return_mean", "loss"})
# episodes.csv.gz: one row per episode. `phase` is TEST (the evaluation at `step`, whose mean
# is metrics.csv's row at that step) or ABSOLUTE (the final evaluation of the trained policy);
# `return` is the raw team return (before `reward_scale`), `won` 1 or 0, empty on a task
# without a win condition.
EPISODES_COLUMNS: tuple[str, ...] = ("phase", "step", "episode", "return", "won")
TEST = "test"
ABSOLUTE = "absolute"
SCHEMA = 1  # run.json's `schema`
# Keys that may differ between the first attempt of a run and its resumption: none of them
# changes what the run learns.
RESUMABLE_DIFFERENCES = ("threads", "device", "checkpoint_interval", "absolute_eval_episodes")


def interval_folder(interval: int | str | None) -> str:
    """The folder name of an aggregation interval: the number, or `NO_INTERVAL` for none."""
    return NO_INTERVAL if interval is None else str(interval)


def seed_folder(seed: int | str) -> str:
    """The folder name of a run's seed: seed<k>."""
    return f"{SEED_PREFIX}{seed}"


def run_parts(env: str, map_name: str, method: str, interval: int | str | None, seed: int | str) -> tuple[str, ...]:
    """A run folder's path below the runs root, one folder name per part."""
    return (env, map_name, method, interval_folder(interval), seed_folder(seed))


def cell_dir(results: str | Path, env: str, map_name: str, method: str, interval: int | str | None) -> Path:
    """The folder that holds every seed of one cell: `<results>/runs/<env>/<map>/<method>/<interval or ->`."""
    return Path(results, RUNS_DIR, *run_parts(env, map_name, method, interval, 0)[:-1])


def run_dir(results: str | Path, env: str, map_name: str, method: str, interval: int | str | None,
            seed: int | str) -> Path:
    """One run's folder: `<results>/runs/<env>/<map>/<method>/<interval or ->/seed<k>`."""
    return cell_dir(results, env, map_name, method, interval) / seed_folder(seed)


def default_out_dir(config: RunConfig, root: str | Path = DEFAULT_RUNS_ROOT) -> Path:
    """Where `pps train` puts a run without --out: its folder under the runs root `root`."""
    return Path(root).joinpath(*run_parts(config.env, config.map, config.method, config.effective_interval,
                                          config.seed))


# ---------------------------------------------------------------------------- run.json


def new_record(config: RunConfig, backend: str, label: str, deviations: list[str]) -> dict[str, Any]:
    """run.json of a run that starts now: its identity, config and provenance; the trainer
    adds its outcome and cost as it goes."""
    return {
        "schema": SCHEMA,
        "status": "running",
        "env": config.env,
        "map": config.map,
        "method": config.method,
        "interval": config.effective_interval,
        "seed": config.seed,
        "label": label,
        "mixer": config.effective_mixer,
        "reward_scale": config.effective_reward_scale,
        "config": config.to_dict(),
        **provenance.record(),
        "device": config.device,
        "backend": backend,
        "n_envs": config.n_envs,
        "updates_per_episode": 1,
        "deviations": deviations,
        "started_at": provenance.now(),
        "ended_at": None,
        "wall_s": None,
        "resumed": 0,
    }


def check_same_run(out_dir: Path, previous: dict[str, Any], config: RunConfig) -> None:
    """Refuse to resume into (or overwrite) a folder that holds a different run. Keys that
    cannot change this run (`inert_keys`: e.g. RS-PPS's for QMIX) are not compared, so a
    folder from a version before such a key existed still resumes, and so does one without a
    key whose default is what runs did before it existed (`KEYS_ADDED_WITH_OLD_BEHAVIOUR`)."""
    old = {**KEYS_ADDED_WITH_OLD_BEHAVIOUR, **(previous.get("config") or {})}
    new = config.to_dict()
    ignored = set(RESUMABLE_DIFFERENCES) | inert_keys(config)
    differing = sorted(k for k in set(old) | set(new) if k not in ignored and old.get(k) != new.get(k))
    if differing:
        shown = "; ".join(f"{k}: {old.get(k)!r} there, {new.get(k)!r} now" for k in differing[:6])
        raise UserError(
            f"Output folder '{out_dir}' holds a different run ({shown}). Nothing was changed. "
            f"Choose another --out, or delete that folder to start over."
        )


# ---------------------------------------------------------------------------- metrics.csv


def metrics_text(rows: list[dict[str, Any]]) -> str:
    """metrics.csv's text: `METRICS_COLUMNS`, one row per evaluation, floats without binary
    noise (`pps.float_format`), NaN and None empty."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=METRICS_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _fmt(row.get(k), k in FLOAT32_METRICS) for k in METRICS_COLUMNS})
    return buf.getvalue()


def _fmt(value: Any, float32: bool = False) -> str:
    if value is None or isinstance(value, float):
        return format_float(value, FLOAT32_DIGITS if float32 else SIGNIFICANT_DIGITS)
    return str(value)


# ---------------------------------------------------------------------------- episodes.csv.gz


@dataclass
class Evaluation:
    """The episodes of one evaluation: metrics.csv's row at `step` is their mean (TEST), or the
    final evaluation of the trained policy (ABSOLUTE)."""

    phase: str
    step: int
    returns: list[float]  # raw team returns (float32 values), one per episode
    won: list[bool] | None  # one per episode; None on a task without a win condition


def episodes_text(evaluations: list[Evaluation]) -> str:
    """episodes.csv's text: `EPISODES_COLUMNS`, one row per episode, returns as the shortest
    text of their float32 value."""
    lines = [",".join(EPISODES_COLUMNS)]
    for ev in evaluations:
        won = ev.won if ev.won is not None else [None] * len(ev.returns)
        if len(won) != len(ev.returns):
            raise ValueError(f"evaluation at step {ev.step}: {len(ev.returns)} returns but {len(won)} outcomes")
        for k, (ret, w) in enumerate(zip(ev.returns, won)):
            lines.append(f"{ev.phase},{int(ev.step)},{k},{format_float32(ret)},{'' if w is None else int(bool(w))}")
    return "\n".join(lines) + "\n"


def read_episodes(path: str | Path) -> list[Evaluation]:
    """An episodes file's evaluations, in file order; ValueError when it breaks the format.
    A return reads back as the decimal in the file, the shortest that rounds to its float32
    (`numpy.float32` of it is the value the runner summed)."""
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or tuple(header) != EPISODES_COLUMNS:
            raise ValueError(f"{path}: expected the columns {', '.join(EPISODES_COLUMNS)}, got {header}")
        out: list[Evaluation] = []
        for line, fields in enumerate(reader, start=2):
            try:
                phase, step, episode, ret, won = fields
                key = (phase, int(step))
                if not out or (out[-1].phase, out[-1].step) != key:
                    out.append(Evaluation(phase, key[1], [], None if won == "" else []))
                ev = out[-1]
                if int(episode) != len(ev.returns) or (won == "") != (ev.won is None):
                    raise ValueError
                ev.returns.append(float(ret))
                if ev.won is not None:
                    ev.won.append(bool(int(won)))
            except ValueError:
                raise ValueError(f"{path}, line {line}: not a row of {', '.join(EPISODES_COLUMNS)}: {fields}") from None
    return out


# ---------------------------------------------------------------------------- one folder


class RunFolder:
    """One run's folder and every read and write a trainer makes there."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder('{self.path}')"

    @property
    def run_json(self) -> Path:
        return self.path / RUN_JSON

    @property
    def metrics(self) -> Path:
        return self.path / METRICS

    @property
    def partial(self) -> Path:
        return self.path / PARTIAL

    @property
    def episodes(self) -> Path:
        return self.path / EPISODES

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT

    @property
    def model(self) -> Path:
        return self.path / MODEL

    def create(self) -> None:
        """Make the folder (and its parents); a one-line UserError when that is impossible."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UserError(f"run folder '{self.path}' cannot be created: {err.strerror or err}.") from None

    # ---- run.json
    def read_record(self) -> dict[str, Any] | None:
        """run.json's content; None when there is none, a UserError when it is not JSON."""
        path = self.run_json
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            raise UserError(f"'{path}' is not valid JSON; it does not look like a pps run. "
                            f"Move it away or choose another --out.") from None

    def write_record(self, record: dict[str, Any]) -> None:
        atomic.write_json(self.run_json, record)

    def is_finished(self, record: dict[str, Any] | None) -> bool:
        """Whether this folder holds a finished run, given its run.json (`read_record`)."""
        return record is not None and record.get("status") == "finished" and self.metrics.exists()

    # ---- metrics
    def write_partial(self, rows: list[dict[str, Any]]) -> None:
        """The evaluations so far, as `metrics.csv.partial`."""
        atomic.write_text(self.partial, metrics_text(rows))

    def finish(self, record: dict[str, Any], rows: list[dict[str, Any]],
               evaluations: list[Evaluation] | None = None) -> None:
        """Write the finished run's run.json, episodes.csv.gz (when `evaluations` are given) and
        metrics.csv (last: it marks the run finished), then remove what only an unfinished run
        needs (the partial metrics, the checkpoint)."""
        self.write_record(record)
        if evaluations is not None:
            self.write_episodes(evaluations)
        atomic.write_text(self.metrics, metrics_text(rows))
        self.partial.unlink(missing_ok=True)
        self.checkpoint.unlink(missing_ok=True)

    # ---- episodes
    def write_episodes(self, evaluations: list[Evaluation]) -> None:
        """episodes.csv.gz, atomically; gzip without a time stamp, so the same run writes the
        same bytes."""
        data = gzip.compress(episodes_text(evaluations).encode("utf-8"), mtime=0)
        atomic.write_with(self.episodes, lambda f: f.write(data))

    def read_episodes(self) -> list[Evaluation] | None:
        """The run's evaluations from episodes.csv.gz; None when the folder has none (a run
        trained before the file existed, or not finished)."""
        return read_episodes(self.episodes) if self.episodes.is_file() else None

    # ---- checkpoint.pt and model.pt
    def has_checkpoint(self) -> bool:
        return self.checkpoint.exists()

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        """Write `state` as checkpoint.pt, atomically: a kill keeps the previous checkpoint."""
        _save(self.checkpoint, state)

    def load_checkpoint(self, config: RunConfig) -> dict[str, Any]:
        """The checkpoint of `config`'s run, on the host; UserError if it holds another run."""
        state = _load(self.checkpoint)
        check_same_run(self.path, state, config)
        return state

    def checkpoint_position(self) -> int:
        """Episodes the run's checkpoint has trained (0 without one): runs at one position can
        resume together. The first read of every checkpoint: a damaged one stops here, with a
        one-line UserError, before anything is written."""
        path = self.checkpoint
        if not path.exists():
            return 0
        try:
            return int(_load(path)["progress"]["episodes"])
        except Exception as err:  # torch raises RuntimeError, EOFError, UnpicklingError, ... by how it is damaged
            reason = (str(err).strip().splitlines() or [""])[0].split(". ")[0][:160]  # torch's first sentence
            raise UserError(f"'{path}' is damaged or not a pps checkpoint ({type(err).__name__}: {reason}). "
                            f"Delete it and run the same command again to train this run from step 0, "
                            f"or put back a good copy to resume.") from None

    def save_model(self, model: dict[str, Any]) -> None:
        """Write the trained weights as model.pt (host tensors: it loads on any machine)."""
        _save(self.model, model)

    def load_model(self) -> dict[str, Any]:
        """model.pt's content (agents, mixer, config, env_info), on the host."""
        return _load(self.model)


def _save(path: Path, value: Any) -> None:
    import torch  # here, not at the top: paths and columns must not cost a torch import

    atomic.write_with(path, lambda f: torch.save(value, f))


def _load(path: Path) -> Any:
    """A `.pt` file on the host: RNG states must stay there and the replay must not pass
    through a device (the learner's load copies its own tensors to the device). mmap: the
    replay chunks are read into the buffer one at a time, not all at once first."""
    import torch  # here, not at the top: paths and columns must not cost a torch import

    return torch.load(path, map_location="cpu", weights_only=False, mmap=True)
