"""``seqedit edit --replay SET_JSON``: what a replay reads from a set.json and how it compares the result.

A replay rebuilds the recorded request — prompt, size, count, the *resolved* seed, format — with the
same references, the same engine and its recorded options, runs it (``cli_edit`` does, through the
one run loop), and compares each panel's sha256 with the recorded one.

* **References.** Each one is looked for, in this order, and the first whose sha256 is the recorded
  one is taken: ``--ref-dir DIR``/NAME (when given), the path as recorded (relative to the current
  folder), the recorded absolute path, then set.json's own folder/NAME. When files are found but
  none has the recorded sha256 the replay is refused naming ``images[i]``: a changed reference
  cannot reproduce a set. A set.json without hashes (an older seqedit) is replayed unchecked, with a
  warning.
* **Flags.** What shapes the request (REF, ``-p``, ``-n``, ``--size``, ``--seed``, ``--format``,
  ``--engine``) and ``--server`` are refused: a different request is no replay (run ``seqedit edit``
  instead). Engine options (``--model``, ``--steps``, ``--device``, ``--opt KEY=VALUE``, …) override the
  recorded value and are reported, e.g. to replay a GPU set on a CPU, or find a moved model folder.
* **Secrets.** set.json writes a secret option (the remote engine's ``upstream_key``) as ``***``: it
  is taken again from its flag, ``--opt`` or ``$SEQEDIT_<OPTION>``, and a replay without it is
  refused naming the option.
* **Outcome.** Exit 0 when every panel's sha256 matches; exit 4 (``MISMATCH``) when any differs or the
  count differs, with a table per panel and the recorded settings that differ now (device, dtype, a
  version, the model folder's hash, …), from the two ``provenance`` records.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqedit.client.cli_engines import SECRET
from seqedit.errors import RequestError

__all__ = [
    "MISMATCH",
    "REQUEST_FLAGS",
    "Panel",
    "compare",
    "differences",
    "engine_options",
    "load_record",
    "reference_records",
    "references",
    "refuse_request_flags",
]

MISMATCH = 4  # the exit status of a replay whose panels differ from the recorded ones
REQUEST_FLAGS = ("REF", "-p/--prompt", "-n/--max-images", "--size", "--seed", "--format", "--engine", "--server")
# provenance keys that say nothing about pixels, left out of "what differs"
_NOT_COMPARED = ("model_source.covers",)


def reference_records(paths: list[Path], blobs: list[bytes]) -> list[dict[str, Any]]:
    """set.json's ``references``: each reference as given, its absolute path, size and sha256."""
    return [
        {
            "path": str(path),
            "absolute": str(path.expanduser().resolve()),
            "bytes": len(blob),
            "sha256": hashlib.sha256(blob).hexdigest(),
        }
        for path, blob in zip(paths, blobs, strict=True)
    ]


def load_record(path: Path) -> dict[str, Any]:
    """The set.json at ``path``, checked for what a replay needs."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RequestError("--replay", "a readable set.json", f"{path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise RequestError("--replay", "a set.json written by seqedit edit", f"{path} is not JSON ({exc})") from None
    if not isinstance(record, dict):
        raise RequestError("--replay", "a set.json written by seqedit edit", f"{path} holds no JSON object")
    if "server" in record and "engine_options" not in record:
        raise RequestError(
            "--replay",
            "a set.json of an in-process `seqedit edit`",
            f"{path} was made on the server {record['server']}, whose engine this machine does not have; "
            "submit its request there again with the recorded seed",
        )
    missing = [k for k in ("engine", "engine_options", "request", "seed", "outputs") if k not in record]
    if missing or not isinstance(record.get("request"), dict):
        raise RequestError(
            "--replay",
            "a set.json written by seqedit edit",
            f"{path} has no {', '.join(missing) or 'request'} (is it a set.json of `seqedit edit`?)",
        )
    return record


def refuse_request_flags(given: Mapping[str, Any]) -> None:
    """Request-shaping flags with --replay: refused, naming the first one given."""
    for name, value in given.items():
        if value in (None, [], ()):
            continue
        if name == "--server":
            raise RequestError(
                name,
                "not with --replay",
                "a replay runs the recorded engine in this process; a server runs its own (drop --server)",
            )
        raise RequestError(
            name,
            "not with --replay",
            f"{name} changes the request, so it would not be a replay; run `seqedit edit` without --replay "
            "(only engine options such as --device, --model or --opt KEY=VALUE may override a replay)",
        )


def references(record: Mapping[str, Any], set_json: Path, ref_dir: Path | None) -> tuple[list[Path], list[str]]:
    """The reference files of the recorded request (see the module docstring), and warnings."""
    images = [str(p) for p in record["request"].get("images") or []]
    recorded = record.get("references")
    hashes: list[dict[str, Any]] = recorded if isinstance(recorded, list) and len(recorded) == len(images) else []
    warnings = [] if hashes else ["set.json records no reference hashes (an older seqedit): references are not checked"]
    found: list[Path] = []
    for i, given in enumerate(images):
        entry = hashes[i] if hashes else {}
        candidates = _candidates(given, entry.get("absolute"), set_json.parent, ref_dir)
        existing = [c for c in candidates if c.is_file()]
        if not existing:
            looked = ", ".join(str(c) for c in candidates)
            raise RequestError(
                f"images[{i}]",
                "the recorded reference",
                f"{given} not found (looked at {looked}); point --ref-dir at a folder that holds {Path(given).name}",
                code=1401,
            )
        want = entry.get("sha256")
        if not want:
            found.append(existing[0])
            continue
        match = next((c for c in existing if _sha256(c) == want), None)
        if match is None:
            raise RequestError(
                f"images[{i}]",
                "the recorded reference (same sha256)",
                f"{existing[0]} changed since the set was made: its sha256 is {_sha256(existing[0])[:16]}…, "
                f"set.json records {want[:16]}…; a changed reference cannot reproduce the set",
                code=1401,
            )
        found.append(match)
    return found, warnings


def _candidates(given: str, absolute: Any, set_dir: Path, ref_dir: Path | None) -> list[Path]:
    name = Path(given).name
    out = [ref_dir / name] if ref_dir is not None else []
    out.append(Path(given).expanduser())
    if isinstance(absolute, str):
        out.append(Path(absolute))
    out.append(set_dir / name)
    unique: list[Path] = []
    for c in out:
        if c not in unique:
            unique.append(c)
    return unique


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def engine_options(
    record: Mapping[str, Any], explicit: Mapping[str, Any], env_name: Any
) -> tuple[dict[str, Any], list[str]]:
    """The options to build the replay's engine with: the recorded ones, overridden by ``explicit`` (the
    flags and ``--opt`` of this command), and lines saying which were overridden. A secret recorded as
    ``***`` must come again from ``explicit`` or ``$SEQEDIT_<OPTION>`` (``env_name(option)``)."""
    recorded = record.get("engine_options") or {}
    if not isinstance(recorded, dict):
        raise RequestError("--replay", "a set.json written by seqedit edit", "its engine_options is not an object")
    options = {k: v for k, v in recorded.items() if v is not None and v != SECRET}
    for name, value in recorded.items():
        if value == SECRET and name not in explicit and not os.environ.get(env_name(name)):
            flag = f"--{name.replace('_', '-')}"
            raise RequestError(
                name,
                "given again",
                f"set.json records {name} as {SECRET} (a secret is never written): give it again with {flag}, "
                f"--opt {name}=… or ${env_name(name)}",
            )
    overrides = []
    for name, value in explicit.items():
        options[name] = value
        before = recorded.get(name)
        if before == SECRET:
            continue  # a secret given again is no override (and its value is never shown)
        if before != value:
            overrides.append(f"{name}: {value} (set.json: {'unset' if before is None else before})")
    return options, overrides


@dataclass(frozen=True)
class Panel:
    index: int
    recorded: str | None  # sha256 in set.json (None: the set had fewer panels)
    replayed: str | None  # sha256 now (None: the replay made fewer)

    @property
    def match(self) -> bool:
        return self.recorded is not None and self.recorded == self.replayed


def compare(recorded: list[Any], replayed: list[str]) -> list[Panel]:
    """Panel by panel: the recorded sha256 (set.json ``outputs``) against the replay's."""
    before = [o.get("sha256") if isinstance(o, dict) else None for o in recorded]
    return [
        Panel(k + 1, before[k] if k < len(before) else None, replayed[k] if k < len(replayed) else None)
        for k in range(max(len(before), len(replayed)))
    ]


def differences(recorded: Any, now: Any) -> list[str]:
    """The settings that differ between two ``provenance`` records, one line each (dotted keys)."""
    if not isinstance(recorded, dict):
        return ["set.json has no provenance (an older seqedit): what made it cannot be compared"]
    a, b = _flat(recorded), _flat(now if isinstance(now, dict) else {})
    lines = []
    for key in sorted(set(a) | set(b)):
        if key in _NOT_COMPARED or a.get(key) == b.get(key):
            continue
        lines.append(f"{key}: set.json {_shown(a, key)}, now {_shown(b, key)}")
    return lines


def _flat(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in value.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flat(v, key + "."))
        else:
            out[key] = v
    return out


def _shown(values: Mapping[str, Any], key: str) -> str:
    if key not in values:
        return "(absent)"
    return json.dumps(values[key])
