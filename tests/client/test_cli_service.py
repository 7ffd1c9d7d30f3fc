"""``seqedit keys create|list|revoke`` and ``seqedit usage``."""

from __future__ import annotations

from typer.testing import CliRunner

from seqedit.client.cli import app
from seqedit.jobs.store import Store


def test_keys_lifecycle_and_usage(tmp_path):
    run = CliRunner()
    r = run.invoke(app, ["keys", "create", "--name", "ci", "--concurrency", "2", "--data-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    token = r.stdout.strip().splitlines()[0]
    assert token.startswith("sk_")
    store = Store(f"sqlite:///{tmp_path / 'seqedit.db'}")
    key = store.find_key(token)
    assert key["name"] == "ci" and key["concurrency"] == 2
    listing = run.invoke(app, ["keys", "list", "--data-dir", str(tmp_path)])
    assert listing.exit_code == 0 and "ci" in listing.stdout and token not in listing.stdout
    assert run.invoke(app, ["usage", "--data-dir", str(tmp_path)]).exit_code == 0
    assert run.invoke(app, ["keys", "revoke", key["id"], "--data-dir", str(tmp_path)]).exit_code == 0
    assert store.find_key(token) is None
    assert run.invoke(app, ["keys", "revoke", key["id"], "--data-dir", str(tmp_path)]).exit_code == 1


def test_serve_refuses_bad_engine_options_before_listening(tmp_path):
    """Engine options are checked when `serve` starts (exit 2, one clear line), not per job."""
    run = CliRunner()
    cases = [
        (["--engine", "nope"], "unknown engine 'nope'"),
        (["--engine", "classic", "--model", str(tmp_path)], "the classic engine takes no model option"),
        (["--engine", "diffusion"], "needs a model"),
        (["--engine", "diffusion", "--model", str(tmp_path), "--strategy", "sideways"], "unknown strategy 'sideways'"),
        (["--engine", "diffusion", "--model", str(tmp_path), "--steps", "-3"], "steps must be a positive integer"),
        (["--engine", "diffusion", "--model", str(tmp_path), "--device", "tpu"], "unknown device 'tpu'"),
        (["--engine", "diffusion", "--model", str(tmp_path), "--dtype", "float8"], "unknown dtype 'float8'"),
        (["--engine", "classic", "--device", "cpu"], "the classic engine takes no device option"),
    ]
    for args, reason in cases:
        r = run.invoke(
            app, ["serve", "--data-dir", str(tmp_path / "data"), "--port", "1", *args], env={"SEQEDIT_MODEL": ""}
        )
        assert r.exit_code == 2, (args, r.output)
        assert reason in r.stderr, (args, r.stderr)


def test_serve_and_worker_take_engine_options_as_opt(tmp_path):
    """--opt KEY=VALUE reaches the engine's declared options, checked at start like the typed flags."""
    run = CliRunner()
    model = ["--engine", "diffusion", "--model", str(tmp_path)]
    cases = [
        (["serve", "--port", "1", *model, "--opt", "batch_size=1"], "batch_size must be an integer ≥ 2, got '1'"),
        (["serve", "--port", "1", *model, "--opt", "guidence=2"], "the diffusion engine takes no guidence option"),
        (["serve", "--port", "1", *model, "--opt", "model=x"], "--model and --opt model=… both given"),
        (["worker", *model, "--opt", "overflow=squeeze"], "unknown overflow 'squeeze'"),
        (["worker", "--opt", "nothing"], "--opt takes KEY=VALUE, got 'nothing'"),
        (["worker", "--engine", "classic", "--opt", "guidance=2"], "the classic engine takes no guidance option"),
    ]
    for args, reason in cases:
        r = run.invoke(app, [*args, "--data-dir", str(tmp_path / "data")], env={"SEQEDIT_MODEL": ""})
        assert r.exit_code == 2, (args, r.output)
        assert reason in r.stderr, (args, r.stderr)
