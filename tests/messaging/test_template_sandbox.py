"""The template sandbox: HTML escaped, unknown names refused at save, and the known bombs
refused at render instead of allocating or looping."""

from __future__ import annotations

import time

import pytest

from herald.errors import InvalidInput
from herald.messaging.rendering import RenderError, check_template, render

pytestmark = pytest.mark.fast
CUSTOMER = {"customer": {"first_name": "<Ada>"}}


def test_html_output_escapes_what_customers_typed_and_text_does_not() -> None:
    assert render("Hi {{ customer.first_name }}", CUSTOMER, html=True) == "Hi &lt;Ada&gt;"
    assert render("Hi {{ customer.first_name }}", CUSTOMER) == "Hi <Ada>"


def test_saving_refuses_bad_syntax_and_unknown_variables_naming_field_and_line() -> None:
    with pytest.raises(InvalidInput, match=r"subject, line 1"):
        check_template("{{ customer.first_name ", "subject")
    with pytest.raises(InvalidInput, match=r"body, line 2: unknown variable 'secrets'"):
        check_template("Hello\n{{ secrets }}", "body")


@pytest.mark.parametrize(
    "bomb",
    [
        "{{ 'x' * 1000000000 }}",
        "{{ 'x'.ljust(1000000000) }}",
        "{{ 9 ** 999999 }}",
        "{% for i in range(10000000) %}x{% endfor %}",
        "{{ ''.__class__ }}",
        "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
    ],
)
def test_a_bomb_is_refused_quickly(bomb: str) -> None:
    started = time.perf_counter()
    with pytest.raises(RenderError):
        render(bomb, {}, field="body")
    assert time.perf_counter() - started < 3


def test_a_missing_value_says_how_to_give_it_a_default() -> None:
    with pytest.raises(RenderError, match=r"default\("):
        render("{{ customer.last_name }}", CUSTOMER, field="subject")
