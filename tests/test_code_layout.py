"""The code's shape, checked: imports point down the layers of docs/design.md, no import
cycles, no block of code written twice, no ticket numbers in code, and ruff is clean.

These are the promises a reader of docs/design.md relies on when they open one module and
expect to understand it from the modules below it alone.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pps"

# docs/design.md, "Layers": low -> high. A module may import from its own layer or any layer
# below it. The first prefix that matches a module's dotted name decides its layer.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("foundation", ("pps.errors", "pps.atomic", "pps.timing", "pps.methods", "pps.devices",
                    "pps.run_lock", "pps.provenance", "pps.float_format", "pps.allocator")),
    ("envs", ("pps.envs",)),
    ("nets", ("pps.nets",)),
    ("config", ("pps.config", "pps.seeding")),
    ("algo", ("pps.buffer", "pps.memory", "pps.learner", "pps.runner", "pps.sharing",
              "pps.slot_optimizer", "pps.runstack", "pps.replay_layout", "pps.rs_scores", "pps.run_cost",
              "pps.host_memory")),
    ("run folder", ("pps.run_folder",)),
    ("train", ("pps.train",)),
    ("analysis: data", ("pps.analysis.data", "pps.analysis.outputs")),
    ("analysis: statistics", ("pps.analysis.stats",)),
    ("analysis: convergence", ("pps.analysis.convergence",)),
    ("analysis: claims", ("pps.analysis.claims",)),
    ("analysis: studies", ("pps.analysis.studies",)),
    ("analysis: rendering", ("pps.analysis.render",)),
    ("analysis: figures", ("pps.analysis.figures",)),
    ("analysis: commands", ("pps.analysis.commands", "pps.analysis.reference_set")),
    ("plan", ("pps.plan", "pps.resources")),
    ("bench", ("pps.bench",)),
    ("cli", ("pps.cli", "pps.__main__")),
)
# Package `__init__` modules that hold no code of their own, placed exactly (a prefix here
# would swallow every module the table forgets to name).
PACKAGE_LAYERS: dict[str, str] = {"pps": "foundation", "pps.analysis": "analysis: commands"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(name: str) -> int:
    if name in PACKAGE_LAYERS:
        return [layer for layer, _ in LAYERS].index(PACKAGE_LAYERS[name])
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            return index
    raise AssertionError(f"{name} is in no layer: add it to LAYERS and to docs/design.md")


def internal_imports(path: Path) -> list[tuple[str, int]]:
    """(imported pps module, line) for every import in the file, at any depth."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path).rsplit(".", 0 if path.name == "__init__.py" else 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "pps"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import: resolve against this module's package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.split(".")[0] != "pps":
                continue
            # `from pps.x import y` imports pps.x.y when y is a module, else pps.x
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append((candidate if _is_module(candidate) else base, node.lineno))
    return sorted(set(found), key=lambda item: item[1])


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def package_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_import_points_to_its_own_layer_or_below():
    upward = []
    for path in package_files():
        name = module_name(path)
        mine = layer_of(name)
        for target, line in internal_imports(path):
            theirs = layer_of(target)
            if theirs > mine:
                upward.append(f"{path.relative_to(ROOT)}:{line}: {name} ({LAYERS[mine][0]}) imports "
                              f"{target} ({LAYERS[theirs][0]})")
    assert not upward, "imports that point up the layers:\n" + "\n".join(upward)


def test_no_import_cycles():
    graph: dict[str, set[str]] = defaultdict(set)
    for path in package_files():
        name = module_name(path)
        for target, _ in internal_imports(path):
            if target != name:  # a module importing its own package's __init__ is an edge too
                graph[name].add(target)
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt] if nxt in stack else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


# ------------------------------------------------------------------ code written twice
MAX_SHARED_LINES = 10


def _code_files() -> list[Path]:
    tracked = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / f for f in tracked
            if (f.endswith((".py", ".smk")) or f == "Snakefile") and (ROOT / f).is_file()]


def _normalised_lines(path: Path) -> list[tuple[int, str]]:
    """Lines that carry logic, stripped of indentation: blank lines, lone closing brackets and
    import statements (two modules needing the same libraries is not a copied block) left out."""
    lines = []
    for number, raw in enumerate(path.read_text(errors="replace").splitlines(), 1):
        text = raw.strip()
        if text and text not in {")", "]", "}", "),", "],", "},"} and not text.startswith(("import ", "from ")):
            lines.append((number, text))
    return lines


def repeated_blocks(files: list[Path], size: int) -> list[str]:
    """Every window of `size` consecutive normalised lines that stands in two places."""
    seen: dict[tuple[str, ...], tuple[Path, int]] = {}
    found: list[str] = []
    for path in files:
        lines = _normalised_lines(path)
        last_hit = -size
        for start in range(len(lines) - size + 1):
            window = tuple(text for _, text in lines[start:start + size])
            first = seen.setdefault(window, (path, lines[start][0]))
            if first != (path, lines[start][0]) and start >= last_hit + size:
                found.append(f"{path.relative_to(ROOT)}:{lines[start][0]} repeats "
                             f"{first[0].relative_to(ROOT)}:{first[1]}")
                last_hit = start
    return found


def test_the_duplicate_finder_finds_a_planted_copy(tmp_path):
    body = "\n".join(f"x{i} = compute({i}) + offset" for i in range(MAX_SHARED_LINES + 1))
    (tmp_path / "a.py").write_text(body + "\n")
    (tmp_path / "b.py").write_text("import os\n" + body + "\n")
    (tmp_path / "c.py").write_text("\n".join(body.splitlines()[:MAX_SHARED_LINES]) + "\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        hits = repeated_blocks([tmp_path / "a.py", tmp_path / "b.py", tmp_path / "c.py"], MAX_SHARED_LINES + 1)
    finally:
        ROOT = saved
    assert hits == ["b.py:2 repeats a.py:1"]


def test_no_block_of_more_than_ten_lines_is_written_twice():
    hits = repeated_blocks(_code_files(), MAX_SHARED_LINES + 1)
    assert not hits, "blocks written twice (make one function of them):\n" + "\n".join(hits)


# ------------------------------------------------------------------ words and linter
def test_no_ticket_numbers_in_code_or_help():
    pattern = re.compile(r"\bissues? #?\d+", re.IGNORECASE)
    files = _code_files()
    hits = [f"{f.relative_to(ROOT)}:{n}: {line.strip()}"
            for f in files for n, line in enumerate(f.read_text().splitlines(), 1) if pattern.search(line)
            and "pymarl" not in line.lower()]
    assert not hits, "ticket numbers belong in the tracker, not in code:\n" + "\n".join(hits)


def test_ruff_is_clean():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
