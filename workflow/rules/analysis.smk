# Runs -> curves and final scores -> statistics and tables -> figures.
# Each step reads only what the previous one wrote. All outputs are fixed file names
# (pps.analysis.outputs), so they are known before any job runs.


rule collect:
    """Every run of the grid into results/curves.csv and results/final.csv."""
    input:
        run_files(run_folder.METRICS),
    output:
        **{name: table_report(path) for name, path in plan.collect_files(config).items()},
    log:
        f"{RESULTS}/logs/collect.log",
    params:
        runs=runs_root("curves"),
        out=parent("curves"),
        flags=plan.shell_flags(plan.collect_args(config)),
    threads: pps_resources.threads(config, "analysis")
    resources:
        **job_resources("analysis"),
    conda:
        "../envs/pps.yaml"
    shell:
        "pps collect --runs {params.runs} --out {params.out} {params.flags} > {log} 2>&1"


rule stats:
    """Statistics against the baseline, convergence, and the Markdown/LaTeX tables."""
    input:
        **plan.collect_files(config),
    output:
        **{name: table_report(path) for name, path in plan.stats_files(config).items()},
    log:
        f"{RESULTS}/logs/stats.log",
    params:
        results=parent("curves", "input"),
        flags=plan.shell_flags(plan.stats_args(config)),
    threads: pps_resources.threads(config, "analysis")
    resources:
        **job_resources("analysis"),
    conda:
        "../envs/pps.yaml"
    shell:
        "pps stats --results {params.results} {params.flags} > {log} 2>&1"


rule plot:
    """The paper's figures, PNG and PDF, at full text width and one column (figures/column/)."""
    input:
        **plan.collect_files(config),
        **plan.stats_files(config),
    output:
        **figure_outputs(pps_outputs.FIGURE_NAMES),
    log:
        f"{RESULTS}/logs/plot.log",
    params:
        results=parent("curves", "input"),
        out=parent(f"{pps_outputs.FIGURE_NAMES[0]}_{pps_outputs.FIGURE_FORMATS[0]}"),
        flags=plan.figure_flags(config),
    threads: pps_resources.threads(config, "analysis")
    resources:
        **job_resources("analysis"),
    conda:
        "../envs/pps.yaml"
    shell:
        "pps plot --results {params.results} --out {params.out} {params.flags} > {log} 2>&1"


rule overhead:
    """Where each run's wall-clock went and each method's cost over the baseline (any results tree)."""
    input:
        run_files(run_folder.METRICS),
    output:
        **{Path(f).stem: table_report(f"{RESULTS}/{f}") for f in pps_outputs.OVERHEAD_FILES},
        **figure_outputs((pps_outputs.OVERHEAD_FIGURE,)),
    log:
        f"{RESULTS}/logs/overhead.log",
    params:
        runs=runs_root("overhead"),
        out=parent("overhead"),
        figures=parent(f"{pps_outputs.OVERHEAD_FIGURE}_{pps_outputs.FIGURE_FORMATS[0]}"),
        baseline=config["baseline"],
        flags=plan.figure_flags(config),
    threads: pps_resources.threads(config, "analysis")
    resources:
        **job_resources("analysis"),
    conda:
        "../envs/pps.yaml"
    shell:
        "pps overhead --runs {params.runs} --out {params.out} --figures {params.figures}"
        " --baseline {params.baseline} {params.flags} > {log} 2>&1"


rule scaling:
    """Score gain over the baseline and cost against the number of agents; asked for only when
    the maps span at least two agent counts (pps.plan.scaling_planned)."""
    input:
        final=f"{RESULTS}/final.csv",
        overhead=f"{RESULTS}/overhead.csv",
    output:
        **{Path(f).stem: table_report(f"{RESULTS}/{f}") for f in pps_outputs.SCALING_FILES},
        **figure_outputs((pps_outputs.SCALING_FIGURE,)),
    log:
        f"{RESULTS}/logs/scaling.log",
    params:
        results=parent("final", "input"),
        figures=parent(f"{pps_outputs.SCALING_FIGURE}_{pps_outputs.FIGURE_FORMATS[0]}"),
        baseline=config["baseline"],
        flags=plan.figure_flags(config),
    threads: pps_resources.threads(config, "analysis")
    resources:
        **job_resources("analysis"),
    conda:
        "../envs/pps.yaml"
    shell:
        "pps scaling --results {params.results} --figures {params.figures}"
        " --baseline {params.baseline} {params.flags} > {log} 2>&1"


rule export:
    """Every run's per-episode evaluations and absolute metrics as the JSON that marl-eval reads."""
    input:
        run_files(run_folder.METRICS),
    output:
        **plan.export_files(config),
    log:
        f"{RESULTS}/logs/export.log",
    params:
        results=parent("marl_eval"),
    threads: pps_resources.threads(config, "analysis")
    resources:
        **job_resources("analysis"),
    conda:
        "../envs/pps.yaml"
    shell:
        "pps export --format marl-eval --results {params.results} --out {output.marl_eval} > {log} 2>&1"


rule tables:
    """Collected CSVs, statistics and tables, the marl-eval export, overhead (and scaling) tables (runs first)."""
    input:
        **plan.collect_files(config),
        **plan.stats_files(config),
        **plan.export_files(config),
        study=plan.study_table_files(config, GRID_MAPS),


rule figures:
    """Every figure (runs and tables first)."""
    input:
        plan.figure_files(config),
        plan.study_figure_files(config, GRID_MAPS),
