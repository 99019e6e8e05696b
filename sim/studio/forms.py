"""Form controls from a protocol's reply schema, and submitted form values back to a reply.

A person answers through the same structured reply an LLM gives (`TextProtocol.reply_schema`),
so the page can offer exactly the valid moves: enums become choices, bounded numbers numeric
inputs, ``maxLength`` strings text boxes, bounded arrays of enums multi-choices, bounded arrays
of objects rows (a proposal's lines: one row per possible entry, empty rows left out) and
``anyOf`` variants (told apart by one enum field, ``kind``/``act``/...) a choice that selects the
fields that follow. Nested closed objects are flattened: a control's ``name`` is its dotted path
(``ratings.A``). Submitted values (strings; a list for a multi-choice) are checked here, with
messages that name the field, and the JSON reply is parsed by the protocol afterwards. A role
whose protocol has no schema (or one outside this subset) gets its valid actions as buttons.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from envs.core.protocol import TextProtocol

FormValues = Mapping[str, str | Sequence[str]]
"""What a browser submits: control name -> text (a list of texts for a multi-choice)."""

ACTION_FIELD = "action"
"""The control name of the buttons form (the index of a valid action)."""


class FormError(ValueError):
    """Submitted values that make no valid reply; the message names the field and what fits."""


class UnsupportedSchema(ValueError):
    """A reply schema outside the subset forms cover (the role falls back to buttons)."""


@dataclass(frozen=True)
class Choice:
    """One value of ``options`` (JSON values), shown as ``labels``; ``nullable`` adds "none"."""

    name: str
    options: tuple[Any, ...]
    labels: tuple[str, ...]
    nullable: bool = False
    label: str = ""
    kind: str = field(default="choice", init=False)

    def texts(self) -> tuple[str, ...]:
        """The submitted text of each option."""
        return tuple(map(_text, self.options))


@dataclass(frozen=True)
class Number:
    """A number in ``[minimum, maximum]`` (whole when ``integer``); ``step`` None means any."""

    name: str
    minimum: float
    maximum: float
    integer: bool = False
    step: float | None = None
    nullable: bool = False
    label: str = ""
    kind: str = field(default="number", init=False)


@dataclass(frozen=True)
class Text:
    """Free text of at most ``max_length`` characters; when ``nullable``, empty means null."""

    name: str
    max_length: int
    nullable: bool = False
    label: str = ""
    kind: str = field(default="text", init=False)


@dataclass(frozen=True)
class MultiChoice:
    """An ordered list of ``min_items`` to ``max_items`` values of ``options`` (a slate)."""

    name: str
    options: tuple[Any, ...]
    labels: tuple[str, ...]
    min_items: int
    max_items: int
    label: str = ""
    kind: str = field(default="multi", init=False)

    def texts(self) -> tuple[str, ...]:
        return tuple(map(_text, self.options))


@dataclass(frozen=True)
class Branch:
    """The fields of one variant, shown when the variant's key takes one of ``values``."""

    values: tuple[Any, ...]
    controls: tuple[Control, ...]


@dataclass(frozen=True)
class Variant:
    """An object of several shapes: ``key`` (a `Choice` on the discriminating field) picks the
    `Branch` whose controls follow; ``path`` is where the object sits (``""``: the reply)."""

    name: str
    key: Choice
    branches: tuple[Branch, ...]
    label: str = ""
    kind: str = field(default="variant", init=False)

    def branch_for(self, value: Any) -> Branch | None:
        for branch in self.branches:
            if value in branch.values:
                return branch
        return None


@dataclass(frozen=True)
class OptionalGroup:
    """An object that may be left out (``anyOf`` of an object and null): its fields all given,
    or all left empty for null (e.g. a participant's ratings, unchanged this turn)."""

    name: str
    controls: tuple[Choice | Number | Text, ...]
    label: str = ""
    kind: str = field(default="optional", init=False)


@dataclass(frozen=True)
class Rows:
    """A list of ``min_items`` to ``max_items`` objects (e.g. a proposal's lines), one row of
    controls per possible entry: row ``i`` is named ``<name>.<i>`` and is a `Variant` whose key
    may be left empty, or an `OptionalGroup`; a row left empty is left out of the list."""

    name: str
    rows: tuple[Variant | OptionalGroup, ...]
    min_items: int
    label: str = ""
    kind: str = field(default="rows", init=False)

    @property
    def max_items(self) -> int:
        return len(self.rows)


Control = Choice | Number | Text | MultiChoice | Variant | OptionalGroup | Rows


@dataclass(frozen=True)
class Form:
    """How a role answers now: ``controls`` from the reply schema, or (``schema`` None) buttons,
    one per valid action, whose ``labels`` are the protocol's own command texts."""

    controls: tuple[Control, ...]
    schema: Mapping[str, Any] | None = None

    @property
    def buttons(self) -> bool:
        return self.schema is None

    def reply(self, values: FormValues) -> Any:
        """The reply object the values make (the chosen label for buttons); `FormError` if none."""
        if self.buttons:
            return _read_choice(self.controls[0], values)
        return _assemble(self.controls, values, 0)

    def reply_text(self, values: FormValues) -> str:
        """The text to hand to `TextProtocol.parse_reply`."""
        reply = self.reply(values)
        return reply if self.buttons else json.dumps(reply, ensure_ascii=False)

    def values_of(self, reply: Any) -> dict[str, str | list[str]]:
        """The form values that make ``reply`` (prefilling a form; tests' round trips)."""
        out: dict[str, str | list[str]] = {}
        if self.buttons:
            out[ACTION_FIELD] = _text(reply)
        else:
            _fill(self.controls, reply, 0, out)
        return out


def build_form(protocol: TextProtocol, observation: Any, agent: str) -> Form:
    """The form of ``agent``'s decision now: from the reply schema where the protocol has one
    this module covers, else one button per valid action."""
    schema = protocol.reply_schema(observation, agent)
    if schema is not None:
        try:
            return Form(controls_of(schema), schema)
        except UnsupportedSchema:
            pass
    labels = tuple(choice.label for choice in protocol.valid_actions(observation, agent))
    return Form((Choice(ACTION_FIELD, labels, labels, label="action"),))


def controls_of(schema: Mapping[str, Any]) -> tuple[Control, ...]:
    """The controls of a reply schema (an object or a variant of objects)."""
    if _is_variant(schema):
        return (_variant(schema, ()),)
    if schema.get("type") != "object":
        raise UnsupportedSchema("a reply schema must be an object or a variant of objects")
    return _object_controls(schema, ())


# --- schema -> controls ---


def _object_controls(schema: Mapping[str, Any], path: tuple[str, ...]) -> tuple[Control, ...]:
    if schema.get("additionalProperties", True) is not False:
        raise UnsupportedSchema(f"{_name(path) or 'reply'}: only closed objects are covered")
    controls: list[Control] = []
    for name, sub in schema.get("properties", {}).items():
        controls += _field_controls(sub, (*path, name))
    return tuple(controls)


def _field_controls(schema: Mapping[str, Any], path: tuple[str, ...]) -> list[Control]:
    if "anyOf" in schema:
        options = list(schema["anyOf"])
        nullable = any(o.get("type") == "null" for o in options)
        rest = [o for o in options if o.get("type") != "null"]
        if len(rest) == 1 and nullable and rest[0].get("type") != "object":
            return [_scalar(rest[0], path, nullable=True)]
        if len(rest) == 1 and nullable:
            return [_optional_group(rest[0], path)]
        if not nullable and _is_variant(schema):
            return [_variant(schema, path)]
        raise UnsupportedSchema(f"{_name(path)}: this kind of anyOf is not covered")
    if schema.get("type") == "object":
        return list(_object_controls(schema, path))
    return [_scalar(schema, path)]


def _optional_group(schema: Mapping[str, Any], path: tuple[str, ...]) -> OptionalGroup:
    fields = _object_controls(schema, path)
    if not fields or not all(isinstance(c, Choice | Number | Text) for c in fields):
        raise UnsupportedSchema(f"{_name(path)}: an optional object of other than plain fields")
    optional = tuple(replace(c, nullable=True) for c in fields)
    return OptionalGroup(_name(path), optional, _label(path))


def _scalar(schema: Mapping[str, Any], path: tuple[str, ...], nullable: bool = False) -> Control:
    name, label = _name(path), _label(path)
    kind = schema.get("type")
    if "enum" in schema or "const" in schema:
        values = tuple(schema["enum"] if "enum" in schema else [schema["const"]])
        return Choice(name, values, tuple(map(_humane, values)), nullable, label)
    if kind == "boolean":
        return Choice(name, (True, False), ("yes", "no"), nullable, label)
    if kind in ("number", "integer"):
        low, high = _bounds(schema, path)
        integer = kind == "integer"
        step = schema.get("multipleOf", 1 if integer else None)
        return Number(name, low, high, integer, step, nullable, label)
    if kind == "string":
        if "maxLength" not in schema:
            raise UnsupportedSchema(f"{name}: free text needs a maxLength")
        return Text(name, int(schema["maxLength"]), nullable, label)
    if kind == "array" and not nullable:
        items = schema.get("items", {})
        if "enum" not in items:
            return _rows(schema, path)
        values = tuple(items["enum"])
        low = int(schema.get("minItems", 0))
        high = int(schema.get("maxItems", len(values)))
        return MultiChoice(name, values, tuple(map(_humane, values)), low, high, label)
    raise UnsupportedSchema(f"{name}: type {kind!r} is not covered")


MAX_ROWS = 12
"""The most rows a list of objects is offered with (a longer list falls back to buttons)."""


def _rows(schema: Mapping[str, Any], path: tuple[str, ...]) -> Rows:
    """A bounded list of objects (each a closed object, or a variant of them) as rows."""
    items, name = schema.get("items", {}), _name(path)
    if "maxItems" not in schema or int(schema["maxItems"]) > MAX_ROWS:
        raise UnsupportedSchema(f"{name}: a list of objects needs at most {MAX_ROWS} items")
    rows: list[Variant | OptionalGroup] = []
    for index in range(int(schema["maxItems"])):
        row_path = (*path, str(index))
        label = _label(row_path)
        if _is_variant(items):
            variant = _variant(items, row_path)
            rows.append(replace(variant, key=replace(variant.key, nullable=True), label=label))
        elif items.get("type") == "object":
            rows.append(replace(_optional_group(items, row_path), label=label))
        else:
            raise UnsupportedSchema(f"{name}: only lists of enums or of objects are covered")
    return Rows(name, tuple(rows), int(schema.get("minItems", 0)), _label(path))


def _bounds(schema: Mapping[str, Any], path: tuple[str, ...]) -> tuple[float, float]:
    if "exclusiveMinimum" in schema or "exclusiveMaximum" in schema:
        raise UnsupportedSchema(f"{_name(path)}: exclusive bounds are not covered")
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is None or high is None:
        raise UnsupportedSchema(f"{_name(path)}: numbers need both bounds")
    return low, high


def _discriminator(variants: Sequence[Mapping[str, Any]]) -> str | None:
    """The field every variant has as an enum, with no value shared between variants."""
    if not variants or any(v.get("type") != "object" for v in variants):
        return None
    first = variants[0].get("properties", {})
    for name in first:
        enums = [v.get("properties", {}).get(name, {}).get("enum") for v in variants]
        if any(e is None for e in enums):
            continue
        flat = [value for e in enums for value in e]
        if len(flat) == len(set(map(_text, flat))):
            return name
    return None


def _is_variant(schema: Mapping[str, Any]) -> bool:
    return "anyOf" in schema and _discriminator(schema["anyOf"]) is not None


def _variant(schema: Mapping[str, Any], path: tuple[str, ...]) -> Variant:
    variants = schema["anyOf"]
    key_name = _discriminator(variants)
    assert key_name is not None
    branches = []
    options: list[Any] = []
    for sub in variants:
        values = tuple(sub["properties"][key_name]["enum"])
        options += values
        rest = {k: v for k, v in sub["properties"].items() if k != key_name}
        fields = {**sub, "properties": rest}
        branches.append(Branch(values, _object_controls(fields, path)))
    key_path = (*path, key_name)
    key = Choice(_name(key_path), tuple(options), tuple(map(_humane, options)), False,
                 _label(key_path))  # fmt: skip
    return Variant(_name(path), key, tuple(branches), _label(path))


# --- values -> reply ---


def _assemble(controls: Sequence[Control], values: FormValues, depth: int) -> Any:
    out: dict[str, Any] = {}
    for control in controls:
        value = _read(control, values)
        path = control.name.split(".")[depth:] if control.name else []
        if isinstance(control, Variant) and not path:
            return value  # the reply itself is the variant
        _put(out, path, value)
    return out


def _put(target: dict[str, Any], path: Sequence[str], value: Any) -> None:
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value


def _read(control: Control, values: FormValues) -> Any:
    if isinstance(control, Choice):
        return _read_choice(control, values)
    if isinstance(control, Number):
        return _read_number(control, values)
    if isinstance(control, Text):
        return _read_text(control, values)
    if isinstance(control, MultiChoice):
        return _read_multi(control, values)
    if isinstance(control, OptionalGroup):
        return _read_optional(control, values)
    if isinstance(control, Rows):
        return _read_rows(control, values)
    key = _read_choice(control.key, values)
    if key is None:  # a row of a list, left empty
        return None
    branch = control.branch_for(key)
    assert branch is not None
    depth = len(control.name.split(".")) if control.name else 0
    body = _assemble(branch.controls, values, depth)
    return {control.key.name.split(".")[-1]: key, **body}


def _read_optional(control: OptionalGroup, values: FormValues) -> dict[str, Any] | None:
    given = [_read(c, values) for c in control.controls]
    if all(value is None for value in given):
        return None
    if any(value is None for value in given):
        raise FormError(f"{_what(control)}: give every value or leave them all empty")
    out: dict[str, Any] = {}  # the values read above, at their places (fields are plain)
    depth = len(control.name.split("."))
    for field_control, value in zip(control.controls, given, strict=True):
        _put(out, field_control.name.split(".")[depth:], value)
    return out


def _read_rows(control: Rows, values: FormValues) -> list[Any]:
    given = [row for row in (_read(r, values) for r in control.rows) if row is not None]
    if not control.min_items <= len(given) <= control.max_items:
        raise FormError(
            f"{_what(control)}: fill {control.min_items} to {control.max_items} rows, "
            f"got {len(given)}"
        )
    return given


def _single(control: Control, values: FormValues) -> str:
    value = values.get(control.name, "")
    if isinstance(value, Sequence) and not isinstance(value, str):
        filled = [v for v in value if not isinstance(v, str) or v.strip()]
        if len(filled) > 1:  # (without script a variant's branches all send their fields,
            raise FormError(f"{_what(control)}: give one value")  # the unchosen ones empty)
        value = filled[0] if filled else ""
    if not isinstance(value, str):
        raise FormError(f"{_what(control)}: expected text")
    return value


def _read_choice(control: Choice, values: FormValues) -> Any:
    text = _single(control, values).strip()
    texts = control.texts()
    if text in texts:
        return control.options[texts.index(text)]
    if not text and control.nullable:
        return None
    if not text and len(texts) == 1:
        return control.options[0]
    shown = ", ".join(texts[:12]) + (", ..." if len(texts) > 12 else "")
    if not text:
        raise FormError(f"{_what(control)}: choose one of {shown}")
    raise FormError(f"{_what(control)}: {text[:40]!r} is not one of {shown}")


def _read_number(control: Number, values: FormValues) -> float | int | None:
    text = _single(control, values).strip()
    if not text and control.nullable:
        return None
    try:
        number = float(text)
    except ValueError:
        raise FormError(f"{_what(control)}: {text[:40]!r} is not a number") from None
    if not math.isfinite(number):
        raise FormError(f"{_what(control)}: {text[:40]!r} is not a finite number")
    if control.integer and not number.is_integer():
        raise FormError(f"{_what(control)}: {text[:40]!r} is not a whole number")
    if not control.minimum <= number <= control.maximum:
        raise FormError(
            f"{_what(control)}: {plain_number(number)} is outside "
            f"{plain_number(control.minimum)} to {plain_number(control.maximum)}"
        )
    return int(number) if control.integer else number


def _read_text(control: Text, values: FormValues) -> str | None:
    text = _single(control, values).replace("\r\n", "\n").replace("\r", "\n")
    if not text and control.nullable:
        return None
    if len(text) > control.max_length:
        raise FormError(
            f"{_what(control)}: {len(text)} characters, at most {control.max_length} allowed"
        )
    return text


def _read_multi(control: MultiChoice, values: FormValues) -> list[Any]:
    given = values.get(control.name, [])
    items = [given] if isinstance(given, str) else list(given)
    texts = control.texts()
    chosen = []
    for item in items:
        if not isinstance(item, str):
            raise FormError(f"{_what(control)}: expected text")
        item = item.strip()
        if not item:
            continue
        if item not in texts:
            raise FormError(f"{_what(control)}: {item[:40]!r} is not an option")
        chosen.append(control.options[texts.index(item)])
    if not control.min_items <= len(chosen) <= control.max_items:
        raise FormError(
            f"{_what(control)}: choose {control.min_items} to {control.max_items}, "
            f"got {len(chosen)}"
        )
    return chosen


# --- reply -> values ---


def _fill(controls: Sequence[Control], reply: Any, depth: int, out: dict[str, Any]) -> None:
    for control in controls:
        path = control.name.split(".")[depth:] if control.name else []
        value = _get(reply, path)
        if isinstance(control, Variant):
            key_field = control.key.name.split(".")[-1]
            key = value.get(key_field) if isinstance(value, Mapping) else None
            out[control.key.name] = _text(key)
            branch = control.branch_for(key)
            if branch is not None:
                _fill(branch.controls, value, len(control.name.split(".")) if path else 0, out)
        elif isinstance(control, MultiChoice):
            out[control.name] = [_text(v) for v in value or []]
        elif isinstance(control, OptionalGroup):
            _fill(control.controls, value or {}, len(control.name.split(".")), out)
        elif isinstance(control, Rows):
            entries = {str(i): entry for i, entry in enumerate(value or [])}
            _fill(control.rows, entries, len(control.name.split(".")), out)
        else:
            out[control.name] = "" if value is None else _text(value)


def _get(reply: Any, path: Sequence[str]) -> Any:
    for part in path:
        reply = reply.get(part) if isinstance(reply, Mapping) else None
    return reply


# --- names and labels ---


def _text(value: Any) -> str:
    """How a JSON value is submitted in a form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return plain_number(value)
    return str(value)


def plain_number(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else repr(float(number))


def _humane(value: Any) -> str:
    return _text(value).replace("_", " ")


def _name(path: Sequence[str]) -> str:
    return ".".join(path)


def _label(path: Sequence[str]) -> str:
    """A field's path for people: ``lines.0.unit_price`` -> ``lines 1 unit price``."""
    return " ".join(str(int(p) + 1) if p.isdigit() else p.replace("_", " ") for p in path)


def _what(control: Control) -> str:
    return control.label or control.name or "reply"
