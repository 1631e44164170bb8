"""Template rendering in Jinja2's immutable sandbox, bounded in time, size and arithmetic.

The sandbox already blocks ``_``-attributes and unsafe callables. It does not bound work or output,
so this module adds: a render deadline enforced on every executed template line, a cap on the
output, capped ``range`` and refused huge ``*`` / ``**`` results. A missing variable without an
explicit ``default`` is an error, never a silent "Hi ,".
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from functools import lru_cache
from types import FrameType
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from herald.errors import InvalidInput

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
RENDER_DEADLINE_S = 0.25
_TEMPLATE_FILE = "<template>"


class RenderError(InvalidInput):
    """A template that cannot render for this context (missing variable, limit hit)."""


class _RenderTimeout(Exception):
    pass


class _BoundedSandbox(ImmutableSandboxedEnvironment):
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


def _capped_range(*args: int) -> range:
    values = range(*args)
    if len(values) > MAX_RANGE:
        raise SecurityError(f"range() is limited to {MAX_RANGE} items")
    return values


def _environment(autoescape: bool) -> _BoundedSandbox:
    env = _BoundedSandbox(autoescape=autoescape, undefined=StrictUndefined)
    env.globals["range"] = _capped_range
    return env


_HTML = _environment(autoescape=True)
_TEXT = _environment(autoescape=False)


def check_template(source: str, field: str) -> None:
    """Refuse bad syntax and unknown top-level variables, naming the field and line."""
    try:
        tree = _TEXT.parse(source)
    except TemplateSyntaxError as exc:
        raise InvalidInput(f"{field}, line {exc.lineno}: {exc.message}", field=field) from exc
    unknown = meta.find_undeclared_variables(tree) - CONTEXT_ROOTS - set(_TEXT.globals)
    if unknown:
        name = sorted(unknown)[0]
        line = next((n.lineno for n in tree.find_all(nodes.Name) if n.name == name), 1)
        raise InvalidInput(
            f"{field}, line {line}: unknown variable {name!r}; templates can use "
            + ", ".join(sorted(CONTEXT_ROOTS)),
            field=field,
        )


@lru_cache(maxsize=1024)
def _compiled(source: str, html: bool) -> tuple[Any, bool]:
    """The compiled template, and whether it loops: only a loop can run long without output
    (anything else is one pass over a bounded template, every call and operator capped), so
    only a looping template pays for the line-by-line clock."""
    env = _HTML if html else _TEXT
    tree = env.parse(source)  # parsed once: compiled, and looked through for loops
    return env.from_string(tree), tree.find(nodes.For) is not None


def _deadline_tracer(deadline: float) -> Callable[[FrameType, str, Any], Any]:
    """A trace function that checks the clock on every line the template itself executes."""

    def on_line(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line" and time.perf_counter() > deadline:
            raise _RenderTimeout
        return on_line

    def on_call(frame: FrameType, event: str, arg: Any) -> Any:
        return on_line if frame.f_code.co_filename == _TEMPLATE_FILE else None

    return on_call


def render(source: str, context: Mapping[str, Any], *, html: bool = False, field: str = "") -> str:
    template, loops = _compiled(source, html)
    previous = sys.gettrace()
    if loops:
        sys.settrace(_deadline_tracer(time.perf_counter() + RENDER_DEADLINE_S))
    try:
        size, parts = 0, []
        for chunk in template.generate(dict(context)):
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                raise RenderError(
                    f"{field}: output exceeds {MAX_OUTPUT_CHARS} characters", field=field
                )
            parts.append(chunk)
        return "".join(parts)
    except UndefinedError as exc:
        raise RenderError(
            f"{field}: {exc.message}; give it a default, e.g. {{{{ x | default('') }}}}",
            field=field,
        ) from exc
    except SecurityError as exc:
        raise RenderError(f"{field}: not allowed in a template: {exc}", field=field) from exc
    except _RenderTimeout as exc:
        raise RenderError(
            f"{field}: rendering took longer than {RENDER_DEADLINE_S}s", field=field
        ) from exc
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise RenderError(f"{field}: {exc}", field=field) from exc
    finally:
        if loops:
            sys.settrace(previous)
