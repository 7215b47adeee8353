# Glue between Snakemake and the plan: the config checked once, then file lists, job
# resources and report entries for the rules. Every decision lives in pps.plan (the grid,
# checks, job arguments) and pps.resources (mem_mb, runtime), tested without Snakemake.

from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

from pps import plan, run_folder
from pps import resources as pps_resources
from pps.analysis import outputs as pps_outputs
from pps.errors import UserError

try:
    plan.check_config(config, yaml.safe_load(Path(workflow.basedir, "workflow/schemas/config.schema.yaml").read_text()))
except UserError as err:
    raise WorkflowError(f"Invalid workflow configuration: {err}") from None

RESULTS = plan.results_dir(config)
FIGURES = plan.figures_dir(config)
GRID_MAPS, _left_out = plan.grid_maps(config)
if _left_out:
    logger.warning(_left_out)
CAPTIONS = Path(workflow.basedir, "workflow", "report", "captions")


def run_files(name):
    """One file (metrics.csv) of every run in the grid."""
    return plan.run_files(config, GRID_MAPS, name)


def job_resources(kind, n_runs=1):
    """A job's `resources:` (pps.resources): a training job of `n_runs` runs of one cell
    ("train"), or an analysis job ("analysis"); plus the site's SLURM resources."""
    if kind == "train":
        amounts = {
            "mem_mb": lambda wildcards, attempt: pps_resources.train_mem_mb(config, wildcards.map, n_runs, attempt),
            "runtime": lambda wildcards, attempt: pps_resources.train_runtime(config, wildcards.map, n_runs, attempt),
        }
    else:
        amounts = pps_resources.analysis(config)
    return {**amounts, **pps_resources.site(config)}


def parent(name, kind="output"):
    """A param function: the folder of the named input or output file."""

    def folder(wildcards, input, output):
        return Path(getattr(input if kind == "input" else output, name)).parent

    return folder


def runs_root(name):
    """A param function: the folder of every run folder (pps.run_folder), next to the named output."""

    def folder(wildcards, output):
        return Path(getattr(output, name)).parent / run_folder.RUNS_DIR

    return folder


def figure_report(name, ext):
    """A figure marked for the report: PNGs in 'Figures' with the figure's caption."""
    path = f"{FIGURES}/{name}.{ext}"
    if ext != "png":
        return path
    caption = plan.figure_caption_file(name, CAPTIONS)
    return report(path, caption=str(caption), category="Figures", labels={"figure": name.replace("_", " ")})


def figure_outputs(names):
    """Every file of the named figures as named outputs: each format at full width (PNGs in the
    report, `figure_report`) and at the other print sizes under their folders (column/)."""
    out = {}
    for name in names:
        for ext in pps_outputs.FIGURE_FORMATS:
            out[f"{name}_{ext}"] = figure_report(name, ext)
            for size, sub in pps_outputs.FIGURE_SUBDIRS.items():
                if sub:
                    out[f"{name}_{ext}_{size}"] = f"{FIGURES}/{pps_outputs.figure_file(name, ext, size)}"
    return out


def table_report(path):
    """A results file marked for the report (Markdown tables and summary CSVs)."""
    rel_path = Path(path).relative_to(RESULTS).as_posix()
    caption = plan.table_caption_file(rel_path, CAPTIONS)
    if caption is None:  # LaTeX twins of the Markdown tables, and anything without a caption
        return path
    category = "Tables" if rel_path.startswith("tables/") else "Data"
    return report(path, caption=str(caption), category=category, labels={"file": rel_path})
