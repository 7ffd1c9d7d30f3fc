"""The SDK is a client library: the ``sdk`` import contract holds, can fail, and ``import seqedit``
alone does not pull the SDK's HTTP stack in."""

from __future__ import annotations

import subprocess
import sys

import pytest

from test_boundaries import LINT_IMPORTS, lint_imports, tree  # noqa: F401  (tree is a fixture)

pytestmark = pytest.mark.skipif(LINT_IMPORTS is None, reason="lint-imports is not installed (the [test] extra)")


def test_the_sdk_contract_holds_and_can_fail(tree):  # noqa: F811
    assert lint_imports(tree, "sdk").returncode == 0
    path = tree / "src" / "seqedit" / "sdk" / "client.py"
    path.write_text(
        path.read_text() + "\n\ndef _boundary_test_break() -> None:\n    import seqedit.jobs.store  # noqa\n"
    )
    result = lint_imports(tree, "sdk")
    out = result.stdout + result.stderr
    assert result.returncode != 0 and "seqedit.sdk is not allowed to import seqedit.jobs" in out, out


def test_import_seqedit_does_not_import_httpx():
    code = "import sys, seqedit; assert 'httpx' not in sys.modules; seqedit.Client; assert 'httpx' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
