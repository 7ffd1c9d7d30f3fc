"""The engine registry: declared options (the contract every engine's options model meets, and how
values reach a factory from keywords, ``--opt`` and ``SEQEDIT_*``), missing extras reported by name,
and import errors that are no missing extra propagating as they are."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from seqedit.client.cli_engines import explicit_options, parse_opts
from seqedit.config import Settings, env_name
from seqedit.engines import base
from seqedit.engines.base import EngineError, Extra, MissingExtra, OptionError, create, names, register, registration
from seqedit.engines.options import accepts, describe

# --- a throw-away engine with declared options ------------------------------------------------------------


class _Options(BaseModel):
    model_config = {"extra": "forbid"}

    colour: Literal["red", "green"] = Field("red", description="the colour")
    count: int | None = Field(None, gt=0, description="how many; unset: one")
    scale: float = Field(1.0, ge=0, description="a scale")
    loud: bool = Field(False, description="shout")


class _Engine:
    name = "test-declared"

    def __init__(self, **options: Any) -> None:
        self.options = options


@pytest.fixture(autouse=True)
def registry(monkeypatch):
    """Each test registers into a copy of the registry."""
    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY))


@pytest.fixture
def declared():
    register("test-declared", _Engine, options=_Options)
    return "test-declared"


def test_create_checks_declared_options_and_passes_every_one_typed(declared):
    engine = create(declared, colour="green", count="3", loud="yes", scale=None)  # None: not given
    assert engine.options == {"colour": "green", "count": 3, "scale": 1.0, "loud": True}


@pytest.mark.parametrize(
    "values, message",
    [
        ({"colour": "blue"}, "unknown colour 'blue'; choose one of red, green"),
        ({"count": 0}, "count must be a positive integer, got 0"),
        ({"count": "many"}, "count must be a positive integer, got 'many'"),
        ({"scale": "big"}, "scale must be a number ≥ 0, got 'big'"),
        ({"loud": "maybe"}, "loud must be true | false, got 'maybe'"),
        ({"colur": "red"}, "the test-declared engine takes no colur option; its options: colour, count, scale, loud"),
    ],
)
def test_bad_options_are_1400_naming_the_option(declared, values, message):
    with pytest.raises(OptionError) as caught:
        create(declared, **values)
    assert caught.value.message == message and caught.value.code == 1400
    assert caught.value.option == next(iter(values))


def test_an_option_another_engine_declares_says_which(declared):
    with pytest.raises(
        OptionError,
        match=r"^the test-declared engine takes no guidance option "
        r"\(those are for --engine diffusion\)$",
    ):
        create(declared, guidance=2.5)


def test_a_factory_registered_without_options_gets_its_keywords_unchecked():
    """``register(name, factory)`` as the classic engine calls it: the factory checks its own keywords."""
    register("test-legacy", lambda **kw: kw)
    assert create("test-legacy", work_pixels=5, other=None) == {"work_pixels": 5}
    assert registration("test-legacy").options is None


def test_unknown_engine():
    with pytest.raises(EngineError, match=r"unknown engine 'nope'; available: .*classic.*diffusion") as caught:
        create("nope")
    assert caught.value.code == 1400


def test_names_does_not_import_the_engines():
    code = (
        "import sys; from seqedit.engines import names; print(names()); "
        "print(sorted(m for m in ('seqedit.engines.classic', 'seqedit.engines.diffusion', 'torch', 'cv2') "
        "if m in sys.modules))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["['auto', 'classic', 'diffusion', 'remote']", "[]"]


# --- the contract every declared options model meets -------------------------------------------------------


def _declared_engines() -> list[str]:
    """Every registered engine that declares options (the built-ins must; plugins and test engines may not)."""
    declared = [name for name in names() if registration(name).options is not None]
    assert {"classic", "diffusion"} <= set(declared), declared
    return declared


def _sample(schema: dict[str, Any], default: Any) -> tuple[Any, str]:
    """A value other than the default that the field accepts, and how it is written on a command line."""
    schema = next((s for s in schema.get("anyOf", ()) if s.get("type") != "null"), schema)
    if "enum" in schema:
        value = next(v for v in reversed(schema["enum"]) if v != default)
    elif schema.get("type") == "boolean":
        value = not default
        return value, str(value).lower()
    elif schema.get("type") in ("integer", "number"):
        floor = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        value = int(floor) + 7 if schema["type"] == "integer" else float(floor) + 2.5
    else:
        value = "sample-text"
    return value, str(value)


@pytest.mark.parametrize("engine", _declared_engines())
def test_every_option_is_typed_defaulted_described_and_clear_of_settings(engine):
    model = registration(engine).options
    for name, field in model.model_fields.items():
        assert field.annotation is not None, name
        assert not field.is_required(), f"{engine}.{name} has no default"
        assert field.description, f"{engine}.{name} has no description"
        assert name not in Settings.model_fields, f"{engine}.{name} would share ${env_name(name)} with a setting"
    assert [i.name for i in describe(model)] == list(model.model_fields)
    assert all(i.accepts for i in describe(model))


@pytest.mark.parametrize("engine", _declared_engines())
def test_every_option_is_reachable_from_the_environment_and_from_opt(engine, monkeypatch):
    entry = registration(engine)
    schema = entry.options.model_json_schema()["properties"]
    for name, field in entry.options.model_fields.items():
        value, text = _sample(schema[name], field.default)
        monkeypatch.setenv(env_name(name), text)
        from_env = Settings(engine=engine).engine_options()
        assert from_env[name] == value, (name, from_env)
        monkeypatch.delenv(env_name(name))
        from_opt = Settings(engine=engine, options=parse_opts([f"{name.replace('_', '-')}={text}"]))
        assert entry.parse(from_opt.engine_options())[name] == value, name
        round_trip = Settings(engine=engine, options={name: value}).engine_options()
        assert entry.parse(round_trip) == {**entry.parse({}), name: value}, name


# --- Settings: one place reads the environment -------------------------------------------------------------


def test_explicit_options_win_over_the_environment_which_is_read_once(declared, monkeypatch):
    monkeypatch.setenv("SEQEDIT_COLOUR", "green")
    monkeypatch.setenv("SEQEDIT_COUNT", "")  # empty: unset
    settings = Settings(engine=declared, scale=2)  # a keyword that is no setting is an engine option
    assert settings.options == {"scale": 2}
    assert settings.engine_options() == {"colour": "green", "scale": 2}
    monkeypatch.setenv("SEQEDIT_COLOUR", "red")
    assert settings.engine_options()["colour"] == "green"  # read once per Settings and engine
    assert Settings(engine=declared, options={"colour": "red"}).engine_options()["colour"] == "red"


def test_a_bad_variable_is_named(declared, monkeypatch):
    monkeypatch.setenv("SEQEDIT_COUNT", "lots")
    with pytest.raises(OptionError, match=r"^count must be a positive integer, got 'lots' \(from \$SEQEDIT_COUNT\)$"):
        Settings(engine=declared).engine_options()


def test_variables_of_undeclared_options_are_not_read(monkeypatch):
    """SEQEDIT_MODEL configures the diffusion engine; with the classic engine it is not an option given."""
    monkeypatch.setenv("SEQEDIT_MODEL", "/models/x")
    assert Settings(engine="classic").engine_options() == {}
    assert Settings(engine="diffusion").engine_options() == {"model": "/models/x"}


def test_opt_parsing():
    assert parse_opts(["guidance=2.5", "VAE-tiling=true", "steps=4", "steps="]) == {
        "guidance": "2.5",
        "vae_tiling": "true",
    }
    with pytest.raises(OptionError, match="--opt takes KEY=VALUE, got 'guidance'"):
        parse_opts(["guidance"])
    with pytest.raises(OptionError, match="--model and --opt model=… both given"):
        explicit_options({"model": "a", "steps": None}, ["model=b"])
    assert explicit_options({"model": "a", "steps": None}, ["guidance=1"]) == {"model": "a", "guidance": "1"}


def test_accepts_in_words():
    assert accepts({"type": "integer", "exclusiveMinimum": 0}) == "a positive integer"
    assert accepts({"type": "integer", "minimum": 2}) == "an integer ≥ 2"
    assert accepts({"anyOf": [{"type": "number", "minimum": 0}, {"type": "null"}]}) == "a number ≥ 0"
    assert accepts({"enum": ["a", "b"], "type": "string"}) == "a | b"
    assert accepts({"type": "boolean"}) == "true | false"


# --- optional extras and import errors ---------------------------------------------------------------------


def test_a_missing_extra_is_reported_by_name(monkeypatch):
    monkeypatch.setitem(sys.modules, "diffusers", None)  # what `import diffusers` sees when it is not installed
    with pytest.raises(MissingExtra) as caught:
        create("diffusion", model="someone/some-model")
    assert caught.value.message == (
        "the diffusion engine needs `pip install 'seqedit[diffusion]'` (diffusers is not installed)"
    )
    assert caught.value.code == 1400 and caught.value.module == "diffusers"


def test_extra_tells_a_missing_module_from_a_broken_one():
    extra = Extra("x", ("no_such_module_xyz", "json"))
    assert extra.missing() == "no_such_module_xyz"
    assert Extra("x", ("json",)).missing() is None
    assert extra.provides(
        ModuleNotFoundError("No module named 'no_such_module_xyz.sub'", name="no_such_module_xyz.sub")
    )
    assert not extra.provides(ImportError("libGL.so.1: cannot open shared object file", name="cv2"))
    assert not extra.provides(ModuleNotFoundError("No module named 'yaml'", name="yaml"))


BROKEN_CV2 = 'raise ImportError("libGL.so.1: cannot open shared object file: No such file or directory")\n'


def test_a_broken_import_inside_an_engine_propagates_with_its_own_message(tmp_path):
    """A non-optional dependency that fails to import is that error, not "unknown engine 'classic'", and it
    breaks only the engine that needs it."""
    (tmp_path / "cv2.py").write_text(BROKEN_CV2)
    code = textwrap.dedent("""
        from seqedit.engines import create, names
        print(names())
        print(type(create("diffusion", model="someone/some-model")).__name__)
        create("classic")
    """)
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(tmp_path), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )
    assert r.returncode == 1
    from seqedit.engines.base import _BUILTINS

    # every built-in still registered (this process also has the fixture engines; the child has not)
    assert r.stdout.splitlines() == [str(sorted(_BUILTINS)), "DiffusionEngine"]
    assert "ImportError: libGL.so.1: cannot open shared object file" in r.stderr
    assert "unknown engine" not in r.stderr
