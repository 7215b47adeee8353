"""Run groups: train, resume or skip the runs of one cell in one process, under their folders' locks.

`run_group` decides what each run folder needs (nothing when finished; a resume from its
checkpoint; a start from step 0), groups the runs that can train together (one checkpoint
position each) and hands every group to a `Trainer`. It writes each run's `run.json` at the
start and, when training fails, marks the runs it was training as failed; everything else
a run writes comes from the trainer. Every file goes through `pps.run_folder`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from pps import host_memory, provenance, run_lock
from pps.config import RunConfig
from pps.envs import registry
from pps.errors import UserError
from pps.methods import get_method
from pps.run_folder import RunFolder, check_same_run, new_record
from pps.train.build import GroupRun
from pps.train.trainer import Trainer


def deviations(config: RunConfig) -> list[str]:
    """Where this run departs from the authors' code (docs/design.md §3), for run.json. Training in a
    run group is none: a run's results are the same alone (run.json's `group` records it)."""
    out = [
        "per-agent epsilon draws (authors: one draw for the whole team)",
        "test and RS swap-evaluation episodes run in separate envs and never enter the buffer",
    ]
    method = get_method(config.method)
    if config.n_envs != 1:
        out.append(f"{config.n_envs} parallel training envs (authors: 1); still one learner update per episode")
    if config.groups == "unit_type" and method.aggregates:
        out.append("aggregation groups by unit type (authors: all agents in one group)")
    if method.aggregation == "reward_weighted":
        out.append(f"RS-PPS weights from a real swap evaluation, softmax(normalised score / {config.rs_temperature:g}) "
                   f"(authors: from zeros, = A-PPS)")
        if config.rs_swap_agent_id == "own":
            out.append("RS swap evaluation gives each network its own agent id in every seat "
                       "(authors: the id of the seat it plays)")
    if config.env == "smax":
        out.append("SMAX world state rescaled to [-1, 1]")
        if config.effective_reward_scale != 1.0:
            out.append(f"SMAX rewards scaled by {config.effective_reward_scale:g} (SMAC's scale; SMAX pays at most ~2)")
    if config.env == "smac":
        out.append("SMAC time-outs bootstrap as truncations (StarCraft2Env built with continuing_episode=True; "
                   "authors' PyMARL config: continuing_episode False, every time-out terminal)")
    if config.compact_buffer:
        out.append("replay stores observations/states as float16")
    if config.matmul_precision == "bf16":
        out.append("matmul_precision bf16: the learner's large matrix multiplies in bfloat16 "
                   "(float32 parameters, optimiser state, gradient sums and TD targets)")
    return out


def run_group(configs: list[RunConfig], out_dirs: list[Path], show_progress: bool = True) -> list[str]:
    """Train (or resume, or skip) runs of one cell in one process. Finished runs are skipped;
    the others train together, in as many groups as they have distinct checkpoint positions
    (normally one). Returns each run's outcome: 'finished', 'resumed' or 'already finished'.

    Before anything is written it checks that the group fits in memory (`pps.host_memory`);
    then it holds every run folder's lock (`pps.run_lock`) for as long as it works there."""
    folders = [RunFolder(d) for d in out_dirs]
    host_memory.check_fits(configs)
    for folder in folders:
        folder.create()
    with run_lock.hold_all([folder.path for folder in folders]):
        return _run_group_locked(configs, folders, show_progress)


def _run_group_locked(configs: list[RunConfig], folders: list[RunFolder], show_progress: bool) -> list[str]:
    outcomes: dict[int, str] = {}
    todo: dict[int, list[int]] = {}
    previous: dict[int, dict[str, Any] | None] = {}
    for i, (config, folder) in enumerate(zip(configs, folders)):
        previous[i] = folder.read_record()
        if previous[i] is not None:
            check_same_run(folder.path, previous[i], config)
            if folder.is_finished(previous[i]):
                outcomes[i] = "already finished"
                continue
        todo.setdefault(folder.checkpoint_position(), []).append(i)
    for position in sorted(todo, reverse=True):
        members = todo[position]
        for i in members:
            folders[i].path.mkdir(parents=True, exist_ok=True)
        trainer = Trainer([configs[i] for i in members], [folders[i].path for i in members], show_progress)
        resumed = trainer.load_checkpoints()
        for run, i in zip(trainer.runs, members):
            run.record = _start_record(trainer, run, previous[i], resumed)
            if resumed:  # rows after the checkpoint are replayed, so drop them from the partial file
                run.folder.write_partial(run.progress.rows)
            run.folder.write_record(run.record)
        try:
            trainer.train()
        except BaseException:
            for run in trainer.active:
                run.record |= {"status": "failed", "ended_at": provenance.now(),
                               **trainer.cost_fields(trainer.runs.index(run))}
                try:
                    run.folder.write_record(run.record)
                except (UserError, OSError):  # e.g. the disk that just filled up: report the first error
                    pass
            raise
        for i in members:
            outcomes[i] = "resumed" if resumed else "finished"
    return [outcomes[i] for i in range(len(configs))]


def _start_record(trainer: Trainer, run: GroupRun, previous: dict[str, Any] | None, resumed: bool) -> dict[str, Any]:
    """The run.json a run starts (or resumes) with."""
    config = run.config
    if resumed and previous is not None:
        record = dict(previous, status="running", resumed=int(previous.get("resumed", 0)) + 1)
    else:
        record = new_record(config, trainer.info.backend_version, trainer.method.label, deviations(config))
        record["env_info"] = dataclasses.asdict(trainer.info)
        record["team_reward"] = registry.backend(config.env).team_reward
        if trainer.rs_scale is not None:  # RS-PPS score = (return - zero) / (one - zero) (docs/design.md §3)
            record["rs_score_scale"] = trainer.rs_scale.to_record()
        record["resumed"] = int(resumed)
    # which runs shared this process (the last attempt's group when resumed)
    record["group"] = {"seeds": [r.config.seed for r in trainer.runs], "size": trainer.n_runs}
    return record


def run_training(config: RunConfig, out_dir: Path, show_progress: bool = True) -> str:
    """Train (or resume, or skip) one run into `out_dir`. Returns 'finished', 'resumed' or 'already finished'."""
    return run_group([config], [Path(out_dir)], show_progress)[0]
