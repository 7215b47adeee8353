"""The analysis layer: runs -> curves/final -> statistics/convergence/claims -> figures.

Modules (each one concept; none is imported here, so `import pps.analysis.outputs` stays cheap):

- `outputs`     the fixed output file names (import-light, for the Snakefile)
- `io`          atomic writes and the CSV formats of DESIGN §4
- `runs`        finding run folders, validating `run.json` + `metrics.csv`, reporting exclusions
- `scores`      every task's score: its win rate, or its normalised return (no win condition)
- `aggregate`   the common step grid (interpolation) -> `curves.csv`, `final.csv`
- `stats`       IQM, bootstrap CIs, tests against the baseline, FDR, probability of improvement
- `ranktests`   exact (tie-aware) Mann-Whitney, the per-map test of `stats.csv`
- `permtests`   studentized permutation tests across maps (the tests behind the claim verdicts)
- `convergence` smoothing, steps to a threshold (Kaplan-Meier medians), normalised AUC, speed-up
- `verdicts`    the words a verdict may use, what each promises, and the numbers of the rules
- `claims`      the three verdict rules on per-map samples
- `claims_report` `tables/claims.md`: the claims against what this run measured
- `calibration_scenarios` simulated grids of known truth: a hostile reviewer's nulls and effects
- `calibration` the claims' wrong-verdict rates and power on those grids
- `calibration_table` the measured table as data (`calibration_measured.{csv,json}`) and its Markdown
- `tables`      Markdown and LaTeX (booktabs) renderings
- `style`       one colour and one label per method, shared by every figure
- `plots`       the figures
- `overhead`    where each run's wall-clock went (run.json `time_s`) and each method's cost over the baseline
- `scaling`     score gain over the baseline and cost against the number of agents
- `study_plots` the figures of those two studies
- `*_cli`       the `pps aggregate | stats | plot | overhead | scaling` subcommands
"""
