"""The import-boundary gate can fail: `lint-imports` (the contracts in pyproject.toml) is run on a
temporary copy of the package with one boundary deliberately broken, and must name the contract and the
offending import. A control run on the unbroken copy proves the break, not the tree, is what it found; the
break exists only in the copy, so finding it also proves the copy (not the editable install) was read."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")

# (contract id, module file to break, the import added to it, the line lint-imports must print)
BREAKS = [
    ("engines", "engines/base.py", "seqedit.api", "seqedit.engines is not allowed to import seqedit.api"),
    ("engines-independent", "engines/classic/engine.py", "seqedit.engines.diffusion", "seqedit.engines.classic"),
    ("core", "plan.py", "seqedit.engines", "seqedit.plan is not allowed to import seqedit.engines"),
    ("infrastructure", "jobs/store.py", "seqedit.api", "seqedit.jobs is not allowed to import seqedit.api"),
    ("layers", "jobs/store.py", "seqedit.service", "seqedit.jobs is not allowed to import seqedit.service"),
    ("sdk", "sdk/client.py", "seqedit.jobs", "seqedit.sdk is not allowed to import seqedit.jobs"),
]

pytestmark = pytest.mark.skipif(LINT_IMPORTS is None, reason="lint-imports is not installed (the [test] extra)")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of src/seqedit and pyproject.toml, with the composition root stubbed if it is not written yet
    (the contracts name it, and lint-imports refuses a contract naming a module that does not exist)."""
    package = tmp_path / "src" / "seqedit"
    shutil.copytree(ROOT / "src" / "seqedit", package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    if not (package / "service.py").exists() and not (package / "service").is_dir():
        (package / "service.py").write_text('"""Stub for the boundary test."""\n')
    return tmp_path


def lint_imports(tree: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    args = [str(LINT_IMPORTS), "--no-logo", "--no-cache"]
    for contract in contracts:
        args += ["--contract", contract]
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}  # the copy shadows the editable install
    return subprocess.run(args, cwd=tree, env=env, capture_output=True, text=True, timeout=120)


def test_the_unbroken_copy_keeps_the_contracts_under_test(tree: Path) -> None:
    result = lint_imports(tree, "acyclic", *(contract for contract, *_ in BREAKS))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("contract", "module", "target", "expected"), BREAKS, ids=[b[0] for b in BREAKS])
def test_a_broken_boundary_fails_naming_the_contract(
    tree: Path, contract: str, module: str, target: str, expected: str
) -> None:
    path = tree / "src" / "seqedit" / module
    # A lazy import, inside a function: it counts as much as one at the top.
    path.write_text(path.read_text() + f"\n\ndef _boundary_test_break() -> None:\n    import {target}  # noqa\n")
    result = lint_imports(tree, contract)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "BROKEN" in out and expected in out, out
    importer = "seqedit." + module.removesuffix(".py").replace("/", ".")
    assert f"{importer} -> {target}" in out, out


def test_a_cycle_fails_the_acyclic_contract(tree: Path) -> None:
    # plan imports sizes; sizes importing plan back closes a cycle inside one layer, which only "acyclic" sees.
    path = tree / "src" / "seqedit" / "sizes.py"
    path.write_text(path.read_text() + "\n\ndef _boundary_test_cycle() -> None:\n    import seqedit.plan  # noqa\n")
    result = lint_imports(tree, "acyclic", "layers")
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "No cycles are allowed in seqedit." in out, out
    assert "Contracts: 1 kept, 1 broken." in out, out  # the layers contract allows siblings joined by ':'
