"""One parameter model for every environment: a frozen dataclass whose fields carry their rules.

An env family declares its constructor parameters once, as a subclass of `Params`::

    @dataclass(frozen=True)
    class FeedParams(Params):
        domain: str = choice("books", DOMAINS, doc="catalog domain")
        n_items: int = integer(500, 100, 100_000, doc="items in the generated catalog")

        def validate(self) -> FeedParams:  # rules between fields, after each field's own
            ...

and everything else reads that class: `Params.checked` validates (one line naming the first bad
field and what is allowed), `Params.defaults` and `Params.table` give `mercato envs` and
experiment validation the defaults without building an env, and `keyword_signature` publishes the
fields as the env constructor's keyword parameters.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self

RULE = "mercato_rule"
Kind = Literal["int", "real", "flag", "choice", "value"]


@dataclass(frozen=True)
class Rule:
    """What one parameter allows: its kind, bounds or choices, and whether None is allowed."""

    kind: Kind
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    choices: tuple[Any, ...] = ()
    optional: bool = False
    doc: str = ""
    why: str = ""  # appended to the error: why the bound is where it is

    def allowed(self) -> str:
        """What the rule allows, as the end of "<name> must be ..." ."""
        if self.kind == "int":
            text = (
                f"an int >= {self.low}"
                if self.high is None
                else (f"an int in [{self.low}, {self.high}]")
            )
        elif self.kind == "real":
            text = _real_range(self)
        elif self.kind == "flag":
            text = "true or false"
        elif self.kind == "choice":
            text = f"one of {self.choices}"
        else:
            text = "a value the env accepts"
        return f"None or {text}" if self.optional else text

    def check(self, name: str, value: Any) -> None:
        """ValueError "<name> must be <allowed>, got <value>" unless ``value`` fits."""
        if value is None and self.optional:
            return
        if not self._fits(value):
            why = f" ({self.why})" if self.why else ""
            raise ValueError(f"{name} must be {self.allowed()}{why}, got {value!r}")

    def _fits(self, value: Any) -> bool:
        if self.kind == "int":
            return is_int(value) and _within(self, value)
        if self.kind == "real":
            return is_real(value) and math.isfinite(value) and _within(self, value)
        if self.kind == "flag":
            return isinstance(value, bool)
        if self.kind == "choice":
            return any(value == option and type(value) is type(option) for option in self.choices)
        return True


def is_int(value: Any) -> bool:
    """An integral number that is not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value: Any) -> bool:
    """A real number that is not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _within(rule: Rule, value: Any) -> bool:
    if rule.low is not None and (value <= rule.low if rule.open_low else value < rule.low):
        return False
    return rule.high is None or (value < rule.high if rule.open_high else value <= rule.high)


def _number(bound: float | None) -> str:
    """A bound as people write it: 1 rather than 1.0, 0.001 as is."""
    if isinstance(bound, float) and bound.is_integer() and abs(bound) < 1e15:
        return str(int(bound))
    return f"{bound:g}" if isinstance(bound, float) and abs(bound) >= 1e15 else str(bound)


def _real_range(rule: Rule) -> str:
    if rule.high is None:
        return f"a finite number {'>' if rule.open_low else '>='} {_number(rule.low)}"
    left = "(" if rule.open_low else "["
    right = ")" if rule.open_high else "]"
    return f"a number in {left}{_number(rule.low)}, {_number(rule.high)}{right}"


def _field(default: Any, rule: Rule) -> Any:
    return dataclasses.field(default=default, metadata={RULE: rule})


def integer(
    default: int | None, low: int, high: int | None = None, *, optional: bool = False, doc: str = ""
) -> Any:
    """An int parameter in ``[low, high]`` (no upper bound when ``high`` is None)."""
    return _field(default, Rule("int", low, high, optional=optional, doc=doc))


def real(
    default: float,
    low: float,
    high: float | None = None,
    *,
    open_low: bool = False,
    open_high: bool = False,
    optional: bool = False,
    doc: str = "",
    why: str = "",
) -> Any:
    """A finite number in ``[low, high]`` (either end open on request)."""
    rule = Rule("real", low, high, open_low, open_high, optional=optional, doc=doc, why=why)
    return _field(default, rule)


def flag(default: bool | None, *, optional: bool = False, doc: str = "") -> Any:
    """A true/false parameter (or None as well, when ``optional``)."""
    return _field(default, Rule("flag", optional=optional, doc=doc))


def choice(default: Any, choices: tuple[Any, ...], *, optional: bool = False, doc: str = "") -> Any:
    """One of ``choices``."""
    return _field(default, Rule("choice", choices=tuple(choices), optional=optional, doc=doc))


def value(default: Any, *, doc: str = "") -> Any:
    """A parameter of any shape, checked by the class's `Params.validate`."""
    if isinstance(default, list | dict | set):
        raise TypeError("a mutable default would be shared; use a tuple or None")
    return _field(default, Rule("value", doc=doc))


@dataclass(frozen=True)
class ParamDoc:
    """One parameter as `mercato envs` and the docs list it."""

    name: str
    default: Any
    allowed: str
    doc: str


class Params:
    """Base of every env's frozen parameter dataclass (see the module docstring)."""

    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    @classmethod
    def checked(cls, **values: Any) -> Self:
        """Validated parameters: unknown names refused, each field checked by its rule in
        declaration order, then `validate` for the rules between fields. The ValueError names
        the first bad parameter and what is allowed."""
        allowed = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            raise ValueError(f"unknown parameter {unknown[0]!r}; allowed: {sorted(allowed)}")
        params = cls(**values)
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            rule = f.metadata.get(RULE)
            if rule is not None:
                rule.check(f.name, getattr(params, f.name))
        return params.validate()

    def validate(self) -> Self:
        """Rules between fields (a subclass overrides it); returns the parameters to use, a
        normalised copy where a value is converted."""
        return self

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Every parameter's default, in declaration order."""
        return {f.name: f.default for f in dataclasses.fields(cls)}  # type: ignore[arg-type]

    @classmethod
    def table(cls) -> list[ParamDoc]:
        """Every parameter with its default, what it allows and its one-line meaning."""
        rows = []
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            rule = f.metadata.get(RULE)
            allowed = rule.allowed() if rule is not None and rule.kind != "value" else ""
            rows.append(ParamDoc(f.name, f.default, allowed, rule.doc if rule else ""))
        return rows

    def as_dict(self) -> dict[str, Any]:
        """The parameters by name (shallow: values are not copied)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]


def keyword_signature(params_class: type[Params], *, with_self: bool) -> inspect.Signature:
    """``render_mode`` plus every field of ``params_class`` as keyword-only parameters with their
    defaults: assign it to ``__init__.__signature__`` (and the factory's) of an env that takes
    ``**params``, so `inspect.signature` and IDEs show the real parameters."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("render_mode", keyword, default=None)]
    params += [
        inspect.Parameter(name, keyword, default=default)
        for name, default in params_class.defaults().items()
    ]
    if with_self:
        params.insert(0, inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD))
    return inspect.Signature(params)
