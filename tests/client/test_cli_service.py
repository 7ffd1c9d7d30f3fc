"""``seqedit keys create|list|revoke``, ``seqedit usage`` and ``seqedit webhooks list``; a data dir
that does not exist is refused, never created."""

from __future__ import annotations

import json
import signal
import time

import httpx
import pytest
from typer.testing import CliRunner

from fixtures.images import data_uri, png
from fixtures.receiver import Receiver
from fixtures.server import Server, free_port
from seqedit.client.cli import app
from seqedit.jobs.store import Store

MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"


def test_keys_lifecycle_and_usage(tmp_path):
    run = CliRunner()
    store = Store(f"sqlite:///{tmp_path / 'seqedit.db'}")  # a data dir, as `seqedit serve` leaves one
    r = run.invoke(app, ["keys", "create", "--name", "ci", "--concurrency", "2", "--data-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    token = r.stdout.strip().splitlines()[0]
    assert token.startswith("sk_")
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


READERS = [
    ["keys", "create", "--name", "ci"],
    ["keys", "list"],
    ["keys", "revoke", "sk_nothing"],
    ["usage"],
    ["webhooks", "list"],
]


@pytest.mark.parametrize("command", READERS, ids=lambda c: " ".join(c[:2]))
def test_commands_refuse_a_data_dir_that_does_not_exist(tmp_path, monkeypatch, command):
    """`keys create` in another folder wrote to a fresh ./seqedit-data that no server reads."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEQEDIT_DATA_DIR", raising=False)
    monkeypatch.delenv("SEQEDIT_DB_URL", raising=False)
    run = CliRunner()
    for args, where in (
        ([], tmp_path / "seqedit-data"),  # the default, relative to where the command runs
        (["--data-dir", "elsewhere"], tmp_path / "elsewhere"),
    ):
        r = run.invoke(app, [*command, *args])
        assert r.exit_code == 2, r.output
        assert r.stderr.strip().splitlines() == [
            f"error: no seqedit data dir at {where} (start `seqedit serve --data-dir {where}` there first, "
            "or pass --data-dir / set SEQEDIT_DATA_DIR)"
        ]
        assert not where.exists()
    # an existing folder that holds no database is not a data dir either, and stays as it was
    (tmp_path / "empty").mkdir()
    r = run.invoke(app, [*command, "--data-dir", "empty"])
    assert r.exit_code == 2 and "no seqedit data dir at" in r.stderr
    assert list((tmp_path / "empty").iterdir()) == []
    # SEQEDIT_DATA_DIR names it as well as --data-dir
    r = run.invoke(app, command, env={"SEQEDIT_DATA_DIR": str(tmp_path / "env")})
    assert r.exit_code == 2 and f"no seqedit data dir at {tmp_path / 'env'} " in r.stderr


def test_a_shared_database_needs_no_data_dir(tmp_path, monkeypatch):
    """With SEQEDIT_DB_URL the rows are elsewhere: the commands work from any folder and create nothing."""
    monkeypatch.chdir(tmp_path)
    shared = tmp_path / "db" / "rows.db"
    shared.parent.mkdir()
    env = {"SEQEDIT_DB_URL": f"sqlite:///{shared}"}
    run = CliRunner()
    made = run.invoke(app, ["keys", "create", "--name", "ops"], env=env)
    assert made.exit_code == 0, made.output
    listing = run.invoke(app, ["keys", "list"], env=env)
    assert listing.exit_code == 0 and "ops" in listing.stdout
    assert run.invoke(app, ["usage"], env=env).exit_code == 0
    assert run.invoke(app, ["webhooks", "list", "--json"], env=env).stdout.strip() == "[]"
    assert not (tmp_path / "seqedit-data").exists()


def _submit(http: httpx.Client, webhook: str) -> str:
    body = {"prompt": "p", "images": [data_uri(png())], "size": "64*64", "webhook_url": webhook}
    return http.post(MODEL, json=body).json()["data"]["id"]


def _deliveries(data: str, *args: str) -> list[dict]:
    r = CliRunner().invoke(app, ["webhooks", "list", "--json", "--data-dir", data, *args])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_webhooks_list_shows_each_delivery_attempt(tmp_path):
    """Delivered, retried and dead deliveries of a real server, as an operator lists them (and /metrics
    counts them)."""
    receiver = Receiver(statuses=[500])  # the first attempt fails, the retry is delivered
    closed = f"http://127.0.0.1:{free_port()}/hook?token=receiver-secret"  # nobody listens there
    server = Server(
        tmp_path / "data",
        SEQEDIT_WEBHOOK_BACKOFF="0.2",
        SEQEDIT_WEBHOOK_MAX_ATTEMPTS="2",
        SEQEDIT_WEBHOOK_TIMEOUT="2",
    ).start()
    data = str(server.data_dir)
    try:
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=30) as http:
            delivered = _submit(http, receiver.url)
            dead = _submit(http, closed)
            deadline = time.monotonic() + 60
            while True:
                states = {d["prediction_id"]: d for d in _deliveries(data)}
                if (
                    states.get(delivered, {}).get("state") == "delivered"
                    and states.get(dead, {}).get("state") == "dead"
                ):
                    break
                assert time.monotonic() < deadline, states
                time.sleep(0.2)
            metrics = http.get("/metrics").text  # the same counts for a scraper
            for state, n in (("delivered", 1), ("dead", 1), ("pending", 0)):
                assert f'seqedit_webhook_deliveries{{state="{state}"}} {n}\n' in metrics, metrics
    finally:
        server.kill(signal.SIGTERM)
        receiver.close()
    ok, gone = states[delivered], states[dead]
    assert ok["host"] == f"127.0.0.1:{receiver.port}" and ok["attempts"] == 2 and ok["last_error"] == ""
    assert ok["delivered_at"] and ok["next_attempt_at"] is None and ok["webhook_id"] == f"{delivered}-completed"
    assert gone["attempts"] == 2 and "could not be reached" in gone["last_error"] and gone["delivered_at"] is None
    assert gone["next_attempt_at"] is None
    # newest first, one prediction, a bounded count
    assert [d["prediction_id"] for d in _deliveries(data)] == [dead, delivered]
    assert [d["prediction_id"] for d in _deliveries(data, "--prediction", delivered)] == [delivered]
    assert [d["prediction_id"] for d in _deliveries(data, "--limit", "1")] == [dead]
    assert _deliveries(data, "--prediction", "f" * 32) == []
    # the table: host and state, never the receiver's path or query (its token)
    table = CliRunner().invoke(app, ["webhooks", "list", "--data-dir", data], env={"COLUMNS": "250"})
    assert table.exit_code == 0, table.output
    assert "delivered" in table.stdout and "dead" in table.stdout and delivered in table.stdout
    assert "receiver-secret" not in table.stdout and "/hook" not in table.stdout
    assert "receiver-secret" not in json.dumps(_deliveries(data))
    for bad, limit in (("0", "greater than or equal to 1"), ("1001", "less than or equal to 1000")):
        r = CliRunner().invoke(app, ["webhooks", "list", "--limit", bad, "--data-dir", data])
        assert r.exit_code == 2 and "Invalid value for '--limit'" in r.output and limit in r.output, r.output


def test_serve_and_worker_refuse_a_data_dir_they_cannot_lock(tmp_path):
    """A data dir path that is a file (or a folder not ours): one line, exit 2, no traceback."""
    taken = tmp_path / "a-file"
    taken.write_text("not a folder")
    for command in (["serve", "--port", "1"], ["worker"]):
        r = CliRunner().invoke(app, [*command, "--engine", "classic", "--data-dir", str(taken)])
        assert r.exit_code == 2, r.output
        assert r.stderr.strip() == f"error: cannot take the lock of the data dir {taken}: File exists", r.stderr
    assert taken.read_text() == "not a folder"
