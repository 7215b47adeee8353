# pps-bench: every training run, table and figure of the PPS-QMIX benchmark.
#
#   snakemake --cores 2 all                                   # the quick preset (default.yaml)
#   snakemake --cores 16 all --configfile workflow/config/paper.yaml
#   snakemake --profile workflow/profiles/slurm all --configfile workflow/config/paper.yaml
#   snakemake --report report.html [--configfile ...]         # figures and tables, captioned
#
# Targets: all (= runs -> tables -> figures), runs, tables, figures. Name targets before
# --configfile/--config: both take several values and would swallow a target after them.
# Rules call the `pps` command line only; the plan (grid, checks, job arguments, resources)
# lives in pps.plan and pps.resources, glued in by workflow/rules/common.smk.
# A plain `snakemake` here loads the default profile (keep-going, rerun-incomplete, ...):
# Snakemake looks for profiles/default next to the Snakefile, and profiles/ links to
# workflow/profiles/.

from snakemake.utils import min_version

min_version("8.20")


# The quick preset unless presets come from the command line: a --configfile REPLACES it
# (Snakemake would otherwise merge paper.yaml over default.yaml and leak its run keys).
if not workflow.overwrite_configfiles:

    configfile: f"{workflow.basedir}/workflow/config/default.yaml"


include: "workflow/rules/common.smk"


report: "workflow/report/workflow.rst"


wildcard_constraints:
    **plan.wildcard_constraints(),


include: "workflow/rules/train.smk"
include: "workflow/rules/analysis.smk"


localrules:
    all,
    runs,
    tables,
    figures,
    aggregate,


rule all:
    """Every run, table and figure of the chosen preset."""
    input:
        rules.tables.input,
        rules.figures.input,
    default_target: True


rule runs:
    """Every training run of the grid (a finished run has metrics.csv and run.json)."""
    input:
        run_files(run_folder.METRICS),


rule aggregate:
    """The old name of the `collect` target (curves.csv and final.csv), kept for one release."""
    input:
        rules.collect.output,


onsuccess:
    logger.info(
        "pps-bench: done. The HTML report (every figure and table, captioned): "
        "snakemake --report report.html, with the same --configfile/--config options."
    )
