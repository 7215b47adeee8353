"""Speed and memory benchmarks of the suite's core: the one home of every benchmark.

One module per benchmark, each a function `bench_*(settings, progress) -> list[row]`
returning plain dicts (JSON-ready); `pps.bench.targets` turns the rows into a PASS/FAIL
table of the speed targets the core is held to, and the `pps bench` command
(`pps.cli.bench`) runs them, prints the tables and writes them.

What each module measures:

- `learner`: one learner update (forward + backward + optimiser step): shared slot vs
  slot-stacked independent agents vs a per-agent, per-step loop over N `RNNAgent` modules
  (the authors' structure);
- `aggregation`: one A/RS/PP-PPS aggregation event; RS includes its swap evaluation on a
  real SMAX env;
- `envs`: SMAX backend steps/s vs a bare `jax.jit(vmap(env.step_env))` loop at the same B;
- `end_to_end`: training env steps/s of `qmix` and `a-pps` through `Trainer`, after warm-up;
- `memory`: replay-buffer bytes per episode, compact vs float32 layout;
- `groups` (`pps bench --groups`): a run group of S seeds in one process vs S separate
  `pps train` processes (steps/s, memory per run, where the group's time goes); its own
  CSV, no targets.
"""
