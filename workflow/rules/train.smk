# Training jobs: one rule body, instantiated per kind (pps.plan.train_rules). Two kinds, so
# that a path names one run only: baselines live under <method>/-/ and take no --interval;
# PPS methods under <method>/<K>/.
#
# `seeds_per_job` (pps.plan.seed_groups) chunks the seeds of every cell in config order. A
# chunk of one seed is a `train` / `train_pps` job (`pps train --seed S`, one run); a chunk of
# several is a job of its own rule, train_seeds_<seeds> / train_pps_seeds_<seeds>, one
# `pps train --seeds ...` process whose outputs are every run's metrics.csv. Snakemake cannot
# derive a rule's list of outputs from a wildcard, hence one rule per chunk; the chunks are
# the same for every cell, so there are few of them.
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

RUN_SET_ARGS = plan.run_set_args(config)

for train_rule in plan.train_rules(config):

    rule:
        """Training runs of one cell (env, map, method, interval): one `pps train` process for
        one seed or for a chunk of seeds (pps.plan.TrainRule)."""
        name:
            train_rule.name
        output:
            [update(path) for path in train_rule.outputs(RESULTS)],
        log:
            f"{train_rule.log_stem(RESULTS)}.log",
        benchmark:
            f"{train_rule.log_stem(RESULTS)}.benchmark.tsv"
        wildcard_constraints:
            **train_rule.constraints(config),
        params:
            # both from the outputs only (see pps.plan.train_args); run: the preset's run keys
            args=lambda wildcards, output: plan.train_args(output),
            run=lambda wildcards: RUN_SET_ARGS,
        threads: pps_resources.threads(config, "train")
        resources:
            **job_resources("train", train_rule.n_runs),
        conda:
            "../envs/pps.yaml"
        shell:
            "pps train --env {wildcards.env} --map {wildcards.map} --method {wildcards.method}"
            " {params.args} {params.run} --set threads={threads} >> {log} 2>&1"
