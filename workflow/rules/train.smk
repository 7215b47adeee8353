# Training jobs. Two kinds, so that a path names one run only: baselines live under
# <method>/-/ and take no --interval; PPS methods under <method>/<K>/.
#
# `seeds_per_job` (common.smk: seed_groups) chunks the seeds of every cell in config order.
# A chunk of one seed is a `train` / `train_pps` job (`pps train --seed S`, one run, as
# always); a chunk of several is a job of its own rule, train_seeds_<seeds> /
# train_pps_seeds_<seeds>, one `pps train --seeds ...` process whose outputs are every run's
# metrics.csv. Snakemake cannot derive a rule's list of outputs from a wildcard, hence one
# rule per chunk; the chunks are the same for every cell, so there are few of them.
#
# Only metrics.csv is declared: it appears (written atomically) when the run is complete, so a
# half-written run is never taken as done. It is flagged update(): Snakemake then never deletes
# an existing one before a job (a group job reruns when some of its runs are missing; it would
# otherwise delete the finished ones' results, and their checkpoints are gone, so they would
# train again from scratch) and restores it if the job fails; `pps train` skips finished runs.
# Everything else in a run folder survives a failed job (Snakemake deletes only declared
# outputs): checkpoint.pt, metrics.csv.partial and run.json, from which the next `pps train`
# on the same folder resumes (it needs run.json too, which is why run.json is not declared).
# A killed or timed-out job therefore loses at most one checkpoint_interval of training.

BASELINES = "|".join(m for m in METHODS if not METHODS[m].aggregates)
AGGREGATING = "|".join(m for m in METHODS if METHODS[m].aggregates)


rule train:
    """A method that never aggregates (qmix, vdn, qmix-ns): one run."""
    output:
        metrics=update(f"{RESULTS}/runs/{{env}}/{{map}}/{{method}}/-/seed{{seed}}/metrics.csv"),
    log:
        f"{RESULTS}/logs/train/{{env}}/{{map}}/{{method}}/-/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/logs/train/{{env}}/{{map}}/{{method}}/-/seed{{seed}}.benchmark.tsv"
    wildcard_constraints:
        method=BASELINES,
        seed=single_seed_constraint(),
    params:
        out=lambda wildcards, output: Path(output.metrics).parent,
        run=run_set_args,
    threads: config["resources"]["train"]["threads"]
    resources:
        **train_resources(1),
        **slurm_resources(),
    conda:
        "../envs/pps.yaml"
    shell:
        "pps train --env {wildcards.env} --map {wildcards.map} --method {wildcards.method}"
        " --seed {wildcards.seed} --out {params.out} {params.run} --set threads={threads}"
        " >> {log} 2>&1"


rule train_pps:
    """A method that aggregates (a-pps, rs-pps, pp-pps): one run of interval K."""
    output:
        metrics=update(f"{RESULTS}/runs/{{env}}/{{map}}/{{method}}/{{interval}}/seed{{seed}}/metrics.csv"),
    log:
        f"{RESULTS}/logs/train/{{env}}/{{map}}/{{method}}/{{interval}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/logs/train/{{env}}/{{map}}/{{method}}/{{interval}}/seed{{seed}}.benchmark.tsv"
    wildcard_constraints:
        method=AGGREGATING,
        interval="[1-9][0-9]*",
        seed=single_seed_constraint(),
    params:
        out=lambda wildcards, output: Path(output.metrics).parent,
        run=run_set_args,
    threads: config["resources"]["train"]["threads"]
    resources:
        **train_resources(1),
        **slurm_resources(),
    conda:
        "../envs/pps.yaml"
    shell:
        "pps train --env {wildcards.env} --map {wildcards.map} --method {wildcards.method}"
        " --interval {wildcards.interval} --seed {wildcards.seed} --out {params.out}"
        " {params.run} --set threads={threads} >> {log} 2>&1"


for group in multi_seed_groups():

    rule:
        """A method that never aggregates: one job training these seeds together."""
        name:
            f"train_seeds_{'_'.join(map(str, group))}"
        output:
            [update(f"{RESULTS}/runs/{{env}}/{{map}}/{{method}}/-/seed{s}/metrics.csv") for s in group],
        log:
            f"{RESULTS}/logs/train/{{env}}/{{map}}/{{method}}/-/{group_label(group)}.log",
        benchmark:
            f"{RESULTS}/logs/train/{{env}}/{{map}}/{{method}}/-/{group_label(group)}.benchmark.tsv"
        wildcard_constraints:
            method=BASELINES,
        params:
            seeds=group_seeds,
            out=group_out,
            run=run_set_args,
        threads: config["resources"]["train"]["threads"]
        resources:
            **train_resources(len(group)),
            **slurm_resources(),
        conda:
            "../envs/pps.yaml"
        shell:
            "pps train --env {wildcards.env} --map {wildcards.map} --method {wildcards.method}"
            " --seeds {params.seeds} --out {params.out} {params.run} --set threads={threads}"
            " >> {log} 2>&1"

    rule:
        """A method that aggregates: one job training these seeds of interval K together."""
        name:
            f"train_pps_seeds_{'_'.join(map(str, group))}"
        output:
            [
                update(f"{RESULTS}/runs/{{env}}/{{map}}/{{method}}/{{interval}}/seed{s}/metrics.csv")
                for s in group
            ],
        log:
            f"{RESULTS}/logs/train/{{env}}/{{map}}/{{method}}/{{interval}}/{group_label(group)}.log",
        benchmark:
            f"{RESULTS}/logs/train/{{env}}/{{map}}/{{method}}/{{interval}}/{group_label(group)}.benchmark.tsv"
        wildcard_constraints:
            method=AGGREGATING,
            interval="[1-9][0-9]*",
        params:
            seeds=group_seeds,
            out=group_out,
            run=run_set_args,
        threads: config["resources"]["train"]["threads"]
        resources:
            **train_resources(len(group)),
            **slurm_resources(),
        conda:
            "../envs/pps.yaml"
        shell:
            "pps train --env {wildcards.env} --map {wildcards.map} --method {wildcards.method}"
            " --interval {wildcards.interval} --seeds {params.seeds} --out {params.out}"
            " {params.run} --set threads={threads} >> {log} 2>&1"
