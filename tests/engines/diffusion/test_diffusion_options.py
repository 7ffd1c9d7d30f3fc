"""The diffusion engine's declared options from the outside: ``--opt`` and ``SEQEDIT_<OPTION>`` through
``seqedit plan`` / ``seqedit edit`` subprocesses on a tiny pipeline, the missing extra reported by name,
and an import error that is no missing extra propagating as it is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")

from seqedit.config import Settings  # noqa: E402
from seqedit.engines import MissingExtra, create  # noqa: E402
from seqedit.engines.diffusion import loader  # noqa: E402
from seqedit.engines.diffusion.tiny import references  # noqa: E402

SEQEDIT = Path(sys.executable).with_name("seqedit")
HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def env():
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("SEQEDIT_")}
    return {
        **clean,
        "PYTHONPATH": os.pathsep.join([str(HERE.parents[2] / "src"), str(HERE)]),  # this checkout's seqedit
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "OMP_NUM_THREADS": "2",
    }


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    path = tmp_path_factory.mktemp("refs") / "ref.png"
    references(1)[0].save(path)
    return path


def seqedit(*args, env, timeout=240):
    return subprocess.run([str(SEQEDIT), *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout)


def plan(tiny_models, ref, *extra, env):
    return seqedit(
        "plan",
        ref,
        "-p",
        "the mug on a desk",
        "-n",
        2,
        "--json",
        "--engine",
        "diffusion",
        "--model",
        tiny_models["flux2_klein"],
        *extra,
        env=env,
        timeout=120,
    )


def test_plan_takes_opt_and_the_environment_and_opt_wins(tiny_models, ref, env):
    r = plan(tiny_models, ref, "--opt", "strategy=grid", env=env)
    assert r.returncode == 0, r.stderr
    assert {v["note"] for v in json.loads(r.stdout)["verdicts"]} == {"grid strategy"}
    r = plan(tiny_models, ref, env={**env, "SEQEDIT_STRATEGY": "chain"})
    assert r.returncode == 0 and {v["note"] for v in json.loads(r.stdout)["verdicts"]} == {"chain strategy"}, r.stderr
    r = plan(tiny_models, ref, "--opt", "strategy=independent", env={**env, "SEQEDIT_STRATEGY": "chain"})
    assert r.returncode == 0 and {v["note"] for v in json.loads(r.stdout)["verdicts"]} == {"independent strategy"}


@pytest.mark.parametrize(
    "extra, variables, message",
    [
        (["--opt", "guidance=strong"], {}, "error: guidance must be a number ≥ 0, got 'strong'"),
        (
            [],
            {"SEQEDIT_BATCH_SIZE": "1"},
            "error: batch_size must be an integer ≥ 2, got '1' (from $SEQEDIT_BATCH_SIZE)",
        ),
        (["--opt", "overflow=squeeze"], {}, "error: unknown overflow 'squeeze'; choose one of stitch, truncate, error"),
        (["--opt", "guidence=2"], {}, "error: the diffusion engine takes no guidence option; its options: model, "),
        (["--opt", "guidance"], {}, "error: --opt takes KEY=VALUE, got 'guidance'"),
    ],
    ids=["bad-number", "bad-variable", "bad-choice", "undeclared", "no-equals"],
)
def test_a_bad_option_is_one_line_naming_it(tiny_models, ref, env, extra, variables, message):
    r = plan(tiny_models, ref, *extra, env={**env, **variables})
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith(message) and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_edit_options_reach_the_engine_and_set_json(tiny_models, ref, env, tmp_path):
    out = tmp_path / "set"
    r = seqedit(
        "edit",
        ref,
        "-p",
        "the mug on a desk",
        "-n",
        2,
        "--size",
        "64*64",
        "--seed",
        3,
        "-o",
        out,
        "-q",
        "--engine",
        "diffusion",
        "--model",
        tiny_models["flux2_klein"],
        "--steps",
        1,
        "--opt",
        "guidance=2.5",
        "--opt",
        "vae-tiling=true",
        "--opt",
        "strategy=independent",
        env={**env, "SEQEDIT_MIN_PIXELS": str(64 * 64), "SEQEDIT_STEPS": "7"},
    )
    assert r.returncode == 0, r.stderr
    record = json.loads((out / "set.json").read_text())
    options = record["engine_options"]
    assert options["guidance"] == 2.5 and options["vae_tiling"] is True and options["strategy"] == "independent"
    assert options["min_pixels"] == 64 * 64  # from the environment
    assert options["steps"] == 1  # the flag, over $SEQEDIT_STEPS
    assert options["offload"] == "none" and options["batch_size"] == 4  # the declared defaults
    assert len(record["outputs"]) == 2


def test_settings_options_reach_the_pipeline_call(tiny_models, monkeypatch):
    monkeypatch.setenv("SEQEDIT_MIN_PIXELS", str(64 * 64))
    settings = Settings(engine="diffusion", model=str(tiny_models["flux2_klein"]), guidance="3.5", steps=1)
    engine = create("diffusion", **settings.engine_options())
    seen = []
    adapter = engine.adapter
    real = type(adapter).call_kwargs
    monkeypatch.setattr(type(adapter), "call_kwargs", lambda self, **kw: seen.append(kw) or real(self, **kw))
    from seqedit.engines.base import NullProgress
    from seqedit.plan import make_plan
    from seqedit.request import EditRequest

    p = make_plan(EditRequest.create(prompt="a mug", images=["r"], size="64*64", max_images=1, seed=0))
    assert len(list(engine.generate(p, references(1), NullProgress()))) == 1
    assert seen and seen[0]["guidance"] == 3.5 and seen[0]["steps"] == 1
    assert engine.native().min_pixels == 64 * 64


BLOCK_DIFFUSERS = """
import sys
sys.modules["diffusers"] = None  # what a machine without the [diffusion] extra sees
from seqedit.client.cli import main
sys.argv = ["seqedit", *sys.argv[1:]]
main()
"""


def test_seqedit_edit_without_the_extra_names_it(ref, env, tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            BLOCK_DIFFUSERS,
            "edit",
            str(ref),
            "-p",
            "x",
            "-o",
            str(tmp_path / "o"),
            "--engine",
            "diffusion",
            "--model",
            "someone/some-model",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == (
        "error: the diffusion engine needs `pip install 'seqedit[diffusion]'` (diffusers is not installed)"
    )


def test_loading_without_a_module_of_the_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(MissingExtra, match=r"needs `pip install 'seqedit\[diffusion\]'` \(transformers is not"):
        loader.require_extra()


class _BrokenDiffusers:
    """A meta path finder for which importing diffusers fails the way a broken install does."""

    def find_spec(self, name, path=None, target=None):
        if name == "diffusers":
            raise ImportError("libcudart.so.12: cannot open shared object file: No such file or directory")
        return None


def test_a_broken_import_in_the_loader_propagates_as_it_is(monkeypatch):
    monkeypatch.delitem(sys.modules, "diffusers")
    monkeypatch.setattr(sys, "meta_path", [_BrokenDiffusers(), *sys.meta_path])
    with pytest.raises(ImportError, match="libcudart.so.12") as caught:
        loader.require_extra()
    assert not isinstance(caught.value, MissingExtra)


def test_docs_table_lists_every_declared_option():
    from seqedit.engines.diffusion.options import DiffusionOptions

    text = (HERE.parents[2] / "docs" / "gpu.md").read_text()
    table = text[text.index("| option | accepts | default | meaning |") : text.index("## Which checkpoint")]
    documented = [line.split("`")[1] for line in table.splitlines()[2:] if line.startswith("| `")]
    assert documented == list(DiffusionOptions.model_fields)
