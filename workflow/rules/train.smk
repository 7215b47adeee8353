# One `pps train` per grid point. Two rules, so that a path names one run only:
# baselines live under <method>/-/ and take no --interval; PPS methods under <method>/<K>/.
#
# Only metrics.csv is declared: it appears (written atomically) when the run is complete, so a
# half-written run is never taken as done. Snakemake deletes declared outputs, and only those,
# before it reruns a job and after a job fails; everything else in the run folder survives:
# checkpoint.pt, metrics.csv.partial and run.json, from which the next `pps train` on the same
# folder resumes (it needs run.json too, which is why run.json is not declared). A killed or
# timed-out job therefore loses at most one checkpoint_interval of training.


rule train:
    """A method that never aggregates (qmix, vdn, qmix-ns): one run per seed."""
    output:
        metrics=f"{RESULTS}/runs/{{env}}/{{map}}/{{method}}/-/seed{{seed}}/metrics.csv",
    log:
        f"{RESULTS}/logs/train/{{env}}/{{map}}/{{method}}/-/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/logs/train/{{env}}/{{map}}/{{method}}/-/seed{{seed}}.benchmark.tsv"
    wildcard_constraints:
        method="|".join(m for m in METHODS if not METHODS[m].aggregates),
    params:
        out=lambda wildcards, output: Path(output.metrics).parent,
        run=run_set_args,
    threads: config["resources"]["train"]["threads"]
    resources:
        mem_mb=train_mem_mb,
        runtime=train_runtime,
        **slurm_resources(),
    conda:
        "../envs/pps.yaml"
    shell:
        "pps train --env {wildcards.env} --map {wildcards.map} --method {wildcards.method}"
        " --seed {wildcards.seed} --out {params.out} {params.run} --set threads={threads}"
        " >> {log} 2>&1"


rule train_pps:
    """A method that aggregates (a-pps, rs-pps, pp-pps): one run per interval K and seed."""
    output:
        metrics=f"{RESULTS}/runs/{{env}}/{{map}}/{{method}}/{{interval}}/seed{{seed}}/metrics.csv",
    log:
        f"{RESULTS}/logs/train/{{env}}/{{map}}/{{method}}/{{interval}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/logs/train/{{env}}/{{map}}/{{method}}/{{interval}}/seed{{seed}}.benchmark.tsv"
    wildcard_constraints:
        method="|".join(m for m in METHODS if METHODS[m].aggregates),
        interval="[1-9][0-9]*",
    params:
        out=lambda wildcards, output: Path(output.metrics).parent,
        run=run_set_args,
    threads: config["resources"]["train"]["threads"]
    resources:
        mem_mb=train_mem_mb,
        runtime=train_runtime,
        **slurm_resources(),
    conda:
        "../envs/pps.yaml"
    shell:
        "pps train --env {wildcards.env} --map {wildcards.map} --method {wildcards.method}"
        " --interval {wildcards.interval} --seed {wildcards.seed} --out {params.out}"
        " {params.run} --set threads={threads} >> {log} 2>&1"
