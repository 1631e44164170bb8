"""Template rendering in Jinja2's immutable sandbox, bounded in time, size and memory for any
template.

The sandbox blocks ``_``-attributes and unsafe callables; it does not bound work. So:

- Compilation cannot allocate: Jinja's optimizer, which evaluates constant expressions while
  compiling (``{{ 'x' * 10**9 }}`` built a gigabyte before anything ran), is switched off.
- A template made only of constructs that cannot amplify (text, lookups, conditions, ``~`` and
  arithmetic that cannot repeat, a list of linear filters, ``for`` over such values) and with
  at most ``MAX_IN_PROCESS_LOOKUPS`` lookups renders here: no single step can build more than
  the lookups times the largest value, the output cap stops it at ``MAX_OUTPUT_CHARS``, and a
  template with a loop (the only way to repeat a step) may execute at most ``MAX_LOOP_STEPS``
  of its lines. Steps, not seconds: each step's cost is bounded, and a count does not depend
  on how busy the machine is (a clock would fail an honest render that waited for a core, for
  the interpreter lock or for the garbage collector).
- Any other template (loops, macros, method calls, assignments, ``*``, ``%``, ``**`` and the
  other filters) renders in a render process with a deadline it is killed at and a memory cap
  (``herald.messaging.render_process``). At save such a template is tried once with empty
  values, so a constant bomb is refused before anyone can send it.

A missing variable without an explicit ``default`` is an error, never a silent "Hi ,".
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable, Mapping
from functools import lru_cache
from types import FrameType
from typing import Any

from jinja2 import (
    ChainableUndefined,
    Environment,
    StrictUndefined,
    Template,
    TemplateSyntaxError,
    UndefinedError,
    nodes,
    pass_context,
)
from jinja2.compiler import CodeGenerator, Frame
from jinja2.meta import TrackingCodeGenerator
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from herald.errors import InvalidInput
from herald.messaging.email_design import (
    DesignStyle,
    ProductCard,
    product_cards_html,
    product_cards_text,
)
from herald.messaging.render_process import (
    LimitExceeded,
    RenderProcesses,
    TemplateFailed,
    serve,
)

# What templates may refer to. Everything else is a typo caught when the template is saved.
CONTEXT_ROOTS = frozenset(
    {
        "customer",
        "subscriber",
        "event",
        "organization",
        "journey",
        "campaign",
        "message",
        "unsubscribe_url",
    }
)
MAX_OUTPUT_CHARS = 512 * 1024
MAX_RANGE = 1_000
MAX_IN_PROCESS_LOOKUPS = 200
# Template lines a looping template may execute in one render (an honest one over a few hundred
# order items runs a few thousand; 50,000 run in about 20 ms).
MAX_LOOP_STEPS = 50_000
_TEMPLATE_FILE = "<template>"
# Nodes whose output is at most linear in what they read: nothing repeats, nothing recurses.
_LINEAR_NODES: frozenset[type[nodes.Node]] = frozenset(
    {
        nodes.Template,
        nodes.Output,
        nodes.TemplateData,
        nodes.Const,
        nodes.Name,
        nodes.Getattr,
        nodes.Getitem,
        nodes.Slice,
        nodes.Filter,
        nodes.Test,
        nodes.If,
        nodes.CondExpr,
        nodes.Compare,
        nodes.Operand,
        nodes.And,
        nodes.Or,
        nodes.Not,
        nodes.Concat,
        nodes.Add,
        nodes.Sub,
        nodes.Div,
        nodes.FloorDiv,
        nodes.Neg,
        nodes.Pos,
        nodes.List,
        nodes.Tuple,
        nodes.Dict,
        nodes.Pair,
        nodes.Keyword,
        nodes.For,  # over a value, never recursive (checked below): one step per item
    }
)
# Filters whose output is at most a small multiple of their input, whatever their arguments.
_LINEAR_FILTERS = frozenset(
    {
        "abs",
        "capitalize",
        "count",
        "d",
        "default",
        "e",
        "escape",
        "first",
        "float",
        "forceescape",
        "int",
        "last",
        "length",
        "lower",
        "max",
        "min",
        "reverse",
        "round",
        "safe",
        "sort",
        "string",
        "striptags",
        "sum",
        "title",
        "trim",
        "truncate",
        "unique",
        "upper",
        "urlencode",
        "wordcount",
    }
)
_LOOKUPS = (nodes.Name, nodes.Getattr, nodes.Getitem)
_PROCESSES = RenderProcesses()


class RenderError(InvalidInput):
    """A template that cannot render for this context (missing variable, limit hit)."""


class RenderLimit(Exception):
    """The output cap: a limit like the render process's time and memory."""


class _NothingEvaluatedAtCompileTime(CodeGenerator):
    """Jinja pre-renders an output expression it can compute from constants while compiling
    (``{{ '%0999999999d' % 1 }}``, ``{{ 'x' | center(10**9) }}``): a template saved, never
    rendered, took a gigabyte that way. Here only literal text is pre-rendered."""

    def _output_child_to_const(self, node: nodes.Expr, frame: Frame, finalize: Any) -> str:
        if not isinstance(node, nodes.TemplateData):
            raise nodes.Impossible()
        return super()._output_child_to_const(node, frame, finalize)


class _UndeclaredNames(TrackingCodeGenerator, _NothingEvaluatedAtCompileTime):
    """``jinja2.meta.find_undeclared_variables``, compiling the same way: without the
    optimizer and the pre-rendering (its own generator would evaluate the constants)."""

    def __init__(self, environment: Environment) -> None:
        CodeGenerator.__init__(
            self, environment, "<introspection>", "<introspection>", optimized=False
        )
        self.undeclared_identifiers: set[str] = set()


def _undeclared(tree: nodes.Template) -> set[str]:
    tracker = _UndeclaredNames(_TEXT)
    tracker.visit(tree)
    return tracker.undeclared_identifiers


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """Refuses the commonest bombs at once, with a clear reason, instead of letting them run into
    the render process's limits (which bound them anyway)."""

    code_generator_class = _NothingEvaluatedAtCompileTime

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > 64:
            raise SecurityError("exponent too large")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple) and isinstance(times, int)
                if sized and len(seq) * times > MAX_OUTPUT_CHARS:
                    raise SecurityError("repetition too large")
        return super().call_binop(context, operator, left, right)

    def call(self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        # A size argument past the output cap is a bomb, never a template's honest need
        # ("x".ljust(10**9) allocates a gigabyte in one call, before any limit could look).
        for value in (*args, *kwargs.values()):
            if isinstance(value, int) and abs(value) > MAX_OUTPUT_CHARS:
                raise SecurityError("argument too large")
        return super().call(__context, __obj, *args, **kwargs)


# ``recommendations(n)``: up to n products the recipient is likely to buy next, from their
# context (``customer.recommendations``), each with name, url, image and price.
RECOMMENDATIONS = "recommendations"
MAX_RECOMMENDED = 12


class Recommended(list[dict[str, Any]]):
    """What ``recommendations(n)`` gives a template: looped over for a custom layout, or
    printed whole, a row of product cards in HTML and a line per product in text."""

    def _cards(self) -> list[ProductCard]:
        return [
            ProductCard.model_construct(
                name=p.get("name") or "",
                url=p.get("url"),
                image_url=p.get("image"),
                price=" ".join(str(v) for v in (p.get("price"), p.get("currency")) if v) or None,
            )
            for p in self
        ]

    def __html__(self) -> str:
        return product_cards_html(self._cards(), DesignStyle().text_color)

    def __str__(self) -> str:
        return product_cards_text(self._cards())


@pass_context
def _recommendations(context: Context, count: int = 3) -> Recommended:
    customer = context.get("customer")
    found = customer.get(RECOMMENDATIONS) if isinstance(customer, Mapping) else None
    products = found if isinstance(found, list) else []
    return Recommended(products[: max(0, min(int(count), MAX_RECOMMENDED))])


def _is_recommendations_call(node: nodes.Node) -> bool:
    """``recommendations()`` with at most a constant count: its output is bounded."""
    return (
        isinstance(node, nodes.Call)
        and isinstance(node.node, nodes.Name)
        and node.node.name == RECOMMENDATIONS
        and len(node.args) <= 1
        and all(isinstance(arg, nodes.Const) for arg in node.args)
        and not node.kwargs
        and node.dyn_args is None
        and node.dyn_kwargs is None
    )


def _capped_range(*args: int) -> range:
    values = range(*args)
    if len(values) > MAX_RANGE:
        raise SecurityError(f"range() is limited to {MAX_RANGE} items")
    return values


def _environment(
    autoescape: bool, undefined: type[StrictUndefined | ChainableUndefined]
) -> _BoundedSandbox:
    # optimized=False: no constant folding, so compiling never evaluates the template's own
    # expressions.
    env = _BoundedSandbox(autoescape=autoescape, undefined=undefined, optimized=False)
    env.globals["range"] = _capped_range
    env.globals[RECOMMENDATIONS] = _recommendations
    return env


_HTML = _environment(True, StrictUndefined)
_TEXT = _environment(False, StrictUndefined)
# For the trial at save: every value missing renders empty, so the whole template runs.
_PROBE_HTML = _environment(True, ChainableUndefined)
_PROBE_TEXT = _environment(False, ChainableUndefined)


def check_template(source: str, field: str) -> None:
    """Refuse bad syntax, unknown top-level variables (naming the field and line) and a template
    that exceeds the render limits even with empty values."""
    try:
        tree = _parse(_TEXT, source)
    except TemplateSyntaxError as exc:
        raise InvalidInput(f"{field}, line {exc.lineno}: {exc.message}", field=field) from exc
    except SecurityError as exc:
        raise InvalidInput(f"{field}: {exc}", field=field) from exc
    unknown = _undeclared(tree) - CONTEXT_ROOTS - set(_TEXT.globals)
    if unknown:
        name = sorted(unknown)[0]
        line = next((n.lineno for n in tree.find_all(nodes.Name) if n.name == name), 1)
        raise InvalidInput(
            f"{field}, line {line}: unknown variable {name!r}; templates can use "
            + ", ".join(sorted(CONTEXT_ROOTS)),
            field=field,
        )
    if not _bounded_in_process(tree):
        try:
            _PROCESSES.render(source, {}, html=False, probe=True)
        except LimitExceeded as exc:
            raise InvalidInput(f"{field}: {exc}", field=field) from exc
        except TemplateFailed:
            pass  # it needs real values: judged when it renders


def _bounded_in_process(tree: nodes.Template) -> bool:
    """Whether the template's cost is bounded by its shape: only linear nodes and filters, and
    few enough lookups that no value can be repeated past what the output cap allows for."""
    lookups = 0
    for node in tree.find_all(nodes.Node):
        if type(node) not in _LINEAR_NODES and not _is_recommendations_call(node):
            return False
        if isinstance(node, nodes.Filter) and node.name not in _LINEAR_FILTERS:
            return False
        if isinstance(node, nodes.For) and node.recursive:
            return False
        lookups += isinstance(node, _LOOKUPS)
    return lookups <= MAX_IN_PROCESS_LOOKUPS


def _parse(env: _BoundedSandbox, source: str) -> nodes.Template:
    try:
        tree = env.parse(source)
    except RecursionError as exc:  # the parser recurses once per level of brackets
        raise SecurityError("expressions are nested too deeply") from exc
    # Their settings are expressions Jinja computes while compiling; whether a field escapes
    # HTML is Herald's to decide anyway.
    if tree.find(nodes.EvalContextModifier) is not None:
        raise SecurityError("autoescape blocks are not allowed; the field decides escaping")
    return tree


class Placement(enum.Enum):
    HERE = "here"
    HERE_COUNTED = "here, its steps counted"  # it loops
    RENDER_PROCESS = "the render process"


@lru_cache(maxsize=1024)
def _compiled(source: str, html: bool, probe: bool = False) -> tuple[Template, Placement]:
    """The compiled template, and where it may render."""
    env = (_PROBE_HTML if html else _PROBE_TEXT) if probe else (_HTML if html else _TEXT)
    tree = _parse(env, source)  # parsed once: compiled, and looked through
    if not _bounded_in_process(tree):
        placement = Placement.RENDER_PROCESS
    elif tree.find(nodes.For) is not None:
        placement = Placement.HERE_COUNTED
    else:
        placement = Placement.HERE
    return env.from_string(tree), placement


class _TooManySteps(RenderLimit):
    pass


def _step_counter() -> Callable[[FrameType, str, Any], Any]:
    """A trace function that counts the lines the template itself executes."""
    steps = 0

    def on_line(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal steps
        if event == "line":
            steps += 1
            if steps > MAX_LOOP_STEPS:
                raise _TooManySteps(f"rendering ran more than {MAX_LOOP_STEPS} steps")
        return on_line

    def on_call(frame: FrameType, event: str, arg: Any) -> Any:
        return on_line if frame.f_code.co_filename == _TEMPLATE_FILE else None

    return on_call


def render_here(source: str, context: Mapping[str, Any], *, html: bool, probe: bool = False) -> str:
    """Render in this process, with the output cap, and its steps counted if it loops (also
    the render process's entry point: there the process's limits hold as well)."""
    template, placement = _compiled(source, html, probe)
    counted = placement is Placement.HERE_COUNTED
    previous = sys.gettrace()
    if counted:
        sys.settrace(_step_counter())
    try:
        size, parts = 0, []
        for chunk in template.generate(dict(context)):
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                raise RenderLimit(f"output exceeds {MAX_OUTPUT_CHARS} characters")
            parts.append(chunk)
        return "".join(parts)
    finally:
        if counted:
            sys.settrace(previous)


def render(source: str, context: Mapping[str, Any], *, html: bool = False, field: str = "") -> str:
    try:
        if _compiled(source, html)[1] is Placement.RENDER_PROCESS:
            return _PROCESSES.render(source, context, html=html)
        return render_here(source, context, html=html)
    except RENDER_FAILURES as exc:
        raise RenderError(f"{field}: {failure_reason(exc)}", field=field) from exc


# How a template fails for its data or its limits (anything else is a bug of Herald's).
RENDER_FAILURES = (
    UndefinedError,
    SecurityError,
    RenderLimit,
    LimitExceeded,
    TemplateFailed,
    TypeError,
    ValueError,
    ArithmeticError,
)


def failure_reason(exc: BaseException) -> str:
    if isinstance(exc, UndefinedError):
        return f"{exc.message}; give it a default, e.g. {{{{ x | default('') }}}}"
    if isinstance(exc, SecurityError):
        return f"not allowed in a template: {exc}"
    return str(exc)


def _judge(exc: Exception) -> tuple[bool, str]:
    """For the render process: whether a failure is a limit, and its reason."""
    return isinstance(exc, RenderLimit | SecurityError), failure_reason(exc)


if __name__ == "__main__":  # a render process (herald.messaging.render_process)
    serve(
        lambda source, context, html, probe: render_here(source, context, html=html, probe=probe),
        _judge,
    )
