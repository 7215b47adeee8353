# pps-bench: every training run, table and figure of the PPS-QMIX benchmark.
#
#   snakemake --cores 2 all                                   # the quick preset (default.yaml)
#   snakemake --cores 16 all --configfile workflow/config/paper.yaml
#   snakemake --profile workflow/profiles/slurm all --configfile workflow/config/paper.yaml
#   snakemake --report report.html [--configfile ...]         # figures and tables, captioned
#
# Targets: all (= runs -> tables -> figures), runs, tables, figures. Name targets before
# --configfile/--config: both take several values and would swallow a target after them.
# Rules call the `pps` command line only; helpers live in workflow/rules/common.smk.

from snakemake.utils import min_version

min_version("8.20")


# The quick preset unless presets come from the command line: a --configfile REPLACES it
# (Snakemake would otherwise merge paper.yaml over default.yaml and leak its run keys).
if not workflow.overwrite_configfiles:

    configfile: f"{workflow.basedir}/workflow/config/default.yaml"


include: "workflow/rules/common.smk"


validate_config(config, "workflow/schemas/config.schema.yaml")

RESULTS = config["results_dir"].rstrip("/")
FIGURES = config["figures_dir"].rstrip("/")


report: "workflow/report/workflow.rst"


wildcard_constraints:
    env="|".join(registry.ENV_NAMES),
    map="[A-Za-z0-9_]+",
    seed="[0-9]+",


include: "workflow/rules/train.smk"
include: "workflow/rules/analysis.smk"


localrules:
    all,
    runs,
    tables,
    figures,


rule all:
    """Every run, table and figure of the chosen preset."""
    input:
        rules.tables.input,
        rules.figures.input,
    default_target: True


rule runs:
    """Every training run of the grid (a finished run has metrics.csv and run.json)."""
    input:
        run_files("metrics.csv"),


onsuccess:
    logger.info(
        "pps-bench: done. The HTML report (every figure and table, captioned): "
        "snakemake --report report.html, with the same --configfile/--config options."
    )
