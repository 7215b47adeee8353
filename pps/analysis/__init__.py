"""The analysis: run folders -> curves/final -> statistics, convergence, claims -> tables, figures.

Sub-packages in layers, low to high; a module imports only from its own layer or a lower one
(so each can be read knowing only what is below it):

- `outputs`      the fixed output file names (import-light: the Snakefile reads it)
- `data`         reading runs (`runs`), every task's score (`scores`), the common step grid and
                 `curves.csv`/`final.csv` (`collect`), CSV formats (`io`), and the one place that
                 picks, orders and names a (method, interval K) cell (`cells`)
- `stats`        estimators (IQM, optimality gap, median of map means, tests of two samples),
                 bootstrap CIs (one resample count), exact rank tests, studentized permutation
                 tests, the `stats.csv` and `across_maps.csv` frames, and the bootstrap
                 summaries figures draw (learning-curve bands, wall-clock, performance profiles,
                 sample-efficiency curves)
- `convergence`  steps to a threshold (Kaplan-Meier medians), normalised AUC, speed-up
- `claims`       the paper's claims: verdict words and numbers (`verdicts`), the three rules as
                 code and as words (`rules`), simulated grids (`scenarios`), the rules' error
                 rates on them (`calibration`, `calibrate` = `pps calibrate`), and the measured
                 table stored as data (`measured`)
- `studies`      compute overhead and agent-count scaling
- `render`       how colours look to readers (`vision`), each method's colour, line style and
                 marker (`style`), Markdown/LaTeX tables (`tables`), `claims.md` (`claims`)
- `figures`      the print layout (`layout`), shared panel pieces (`panels`), the across-map
                 views (`across`), the paper's figures (`paper`), the studies' figures
                 (`studies`), figure files at every print size (`files`): they draw what the
                 layers below computed
- `commands`     one function per command: collect, stats, plot, overhead, scaling

Nothing is imported here, so `import pps.analysis.outputs` stays cheap.
"""
