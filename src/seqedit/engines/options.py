"""Engine options: one declaration per engine, read by every front end.

An engine declares its options as a pydantic model, one field per option with a type, a default and
a description, and hands it to ``register(name, factory, options=TheModel)``. Everything else is
derived from that declaration:

* ``check`` checks values from any source (keyword arguments, ``--opt key=value``, ``SEQEDIT_<OPTION>``)
  and returns the typed model. Strings are fine: pydantic's lax mode turns ``"2.5"``, ``"true"`` and
  ``"4"`` into the declared float, bool and int. A bad value is a ``Problem`` that names the option and
  says what it accepts (``engines.base.parse_options`` raises it as ``OptionError``, code 1400); an
  undeclared name lists the options there are.
* ``describe`` lists the options for people (``seqedit engines``, docs/gpu.md): name, what it
  accepts, default, description.

What a field accepts is read from its JSON schema (``Literal`` → the choices, ``gt=0`` → "a positive
integer"), so the error messages and the listing cannot drift from the declaration.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError


@dataclass(frozen=True)
class OptionInfo:
    """One declared option, as a person reads it."""

    name: str
    accepts: str  # "anchor | chain", "a positive integer", "true | false", "a number ≥ 0", "text"
    default: Any
    description: str

    @property
    def default_text(self) -> str:
        if self.default is None or self.default == "":
            return "(unset)"
        return str(self.default).lower() if isinstance(self.default, bool) else str(self.default)


def describe(model: type[BaseModel]) -> list[OptionInfo]:
    """The options ``model`` declares, in declaration order."""
    schema = model.model_json_schema().get("properties", {})
    return [
        OptionInfo(name, accepts(schema.get(name, {})), field.default, field.description or "")
        for name, field in model.model_fields.items()
    ]


def accepts(schema: Mapping[str, Any]) -> str:
    """What a value must be, in words, from one field's JSON schema."""
    if "anyOf" in schema:
        parts = [accepts(s) for s in schema["anyOf"] if s.get("type") != "null"]
        return " or ".join(parts) if parts else "empty"
    if "enum" in schema:
        return " | ".join(str(v) for v in schema["enum"])
    kind = schema.get("type")
    if kind == "boolean":
        return "true | false"
    if kind in ("integer", "number"):
        noun = "an integer" if kind == "integer" else "a number"
        if kind == "integer" and schema.get("exclusiveMinimum") == 0 and "maximum" not in schema:
            return "a positive integer"
        bounds = [
            f"> {schema['exclusiveMinimum']}" if "exclusiveMinimum" in schema else "",
            f"≥ {schema['minimum']}" if "minimum" in schema else "",
            f"< {schema['exclusiveMaximum']}" if "exclusiveMaximum" in schema else "",
            f"≤ {schema['maximum']}" if "maximum" in schema else "",
        ]
        return " ".join([noun, *[b for b in bounds if b]])
    if kind == "string":
        return "text"
    return str(kind or "a value")


def unknown_message(
    engine: str, model: type[BaseModel] | None, keys: Iterable[str], elsewhere: Iterable[str] = ()
) -> str:
    """ "the classic engine takes no model option (those are for --engine diffusion)", or the options
    there are when no other engine declares the names either."""
    keys, elsewhere = sorted(keys), sorted(elsewhere)
    message = f"the {engine} engine takes no {', '.join(keys)} option"
    if elsewhere:
        return f"{message} (those are for {' or '.join(f'--engine {e}' for e in elsewhere)})"
    declared = list(model.model_fields) if model is not None else []
    return f"{message}; its options: {', '.join(declared)}" if declared else f"{message}; it takes no options"


class Problem(ValueError):
    """One option ``check`` refused; ``option`` is its name, the message says what it accepts."""

    def __init__(self, message: str, option: str) -> None:
        super().__init__(message)
        self.message, self.option = message, option


def check(engine: str, model: type[BaseModel], values: Mapping[str, Any], elsewhere: Iterable[str] = ()) -> BaseModel:
    """``values`` checked against ``model``: the typed options, or a ``Problem`` naming the first bad one.
    ``elsewhere``: other engines that declare the undeclared names (for the hint)."""
    unknown = set(values) - set(model.model_fields)
    if unknown:
        raise Problem(unknown_message(engine, model, unknown, elsewhere), sorted(unknown)[0])
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else ""
        raise Problem(_message(model, name, error), name) from None


def _message(model: type[BaseModel], name: str, error: Mapping[str, Any]) -> str:
    schema = model.model_json_schema().get("properties", {}).get(name, {})
    value = error.get("input")
    choices = schema.get("enum") or next((s["enum"] for s in schema.get("anyOf", ()) if "enum" in s), None)
    if choices and error.get("type") == "literal_error":
        return f"unknown {name} {value!r}; choose one of {', '.join(map(str, choices))}"
    return f"{name} must be {accepts(schema)}, got {value!r}"


def secret_fields(model: Any) -> set[str]:
    """The options a model marks ``json_schema_extra={"secret": True}`` (an API key): never recorded."""
    fields = getattr(model, "model_fields", {})
    return {n for n, f in fields.items() if isinstance(f.json_schema_extra, dict) and f.json_schema_extra.get("secret")}
