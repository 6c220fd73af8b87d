"""Command job types: loading operator-declared argv templates and rendering one run's argv."""

from __future__ import annotations

import textwrap

import marshmallow as ma
import pytest

from config.catalog import build_catalog, load_command_types
from tasks.command import render_argv


@pytest.fixture
def command_file(tmp_path):
    """`command_file(toml)`: write a command-types file, return its path."""

    def write(body: str) -> str:
        path = tmp_path / "commands.toml"
        path.write_text(textwrap.dedent(body))
        return str(path)

    return write


def test_declared_placeholders_load_with_their_payload_schema_and_limits(command_file):
    path = command_file("""
        [types.convert]
        argv = ["convert", "--size", "{size}", "{source}"]
        queue = "media"
        max_retries = 2
        soft_time_limit = 5
        time_limit = 10

        [types.convert.payload]
        size = { type = "integer" }
        source = { type = "string" }
        verbose = { type = "boolean", required = false }
    """)

    (convert,) = load_command_types(path)

    assert convert.name == "convert"
    assert convert.kind == "command"
    assert convert.command == ("convert", "--size", "{size}", "{source}")
    assert (convert.queue, convert.max_retries) == ("media", 2)
    assert (convert.soft_time_limit, convert.time_limit) == (5, 10)
    assert convert.description == "Runs convert"
    schema = convert.payload_schema()
    assert schema.load({"size": 3, "source": "a.png"}) == {"size": 3, "source": "a.png"}
    assert set(schema.validate({"size": "big"})) == {"size", "source"}
    with pytest.raises(ma.ValidationError):
        schema.load({"size": 3, "source": "a.png", "extra": 1})


def test_undeclared_placeholder_is_refused(command_file):
    path = command_file("""
        [types.copy]
        argv = ["cp", "{source}", "{target}"]

        [types.copy.payload]
        source = { type = "string" }
    """)

    with pytest.raises(ValueError, match=r"argv uses undeclared \{target\}"):
        load_command_types(path)


def test_braces_inside_a_longer_element_are_not_a_placeholder(command_file):
    path = command_file("""
        [types.greet]
        argv = ["echo", "--name={name}", "{name}x", "{name}"]

        [types.greet.payload]
        name = { type = "string" }
    """)

    (greet,) = load_command_types(path)

    assert render_argv(greet.command, {"name": "bob"}) == ["echo", "--name={name}", "{name}x",
                                                          "bob"]


def test_braces_inside_an_element_need_no_declaration(command_file):
    path = command_file("""
        [types.fmt]
        argv = ["printf", "{x} and {y}"]
    """)

    (fmt,) = load_command_types(path)

    assert render_argv(fmt.command, {}) == ["printf", "{x} and {y}"]


@pytest.mark.parametrize(("table", "message"), [
    ('[types.Bad_Name]\nargv = ["true"]', "name must match"),
    ("[types.empty]\nargv = []", "argv must be a non-empty list of strings"),
    ('[types.mixed]\nargv = ["sleep", 1]', "argv must be a non-empty list of strings"),
], ids=["bad-name", "empty-argv", "non-string-argv"])
def test_malformed_command_type_is_refused(command_file, table, message):
    with pytest.raises(ValueError, match=message):
        load_command_types(command_file(table))


def test_command_type_may_not_shadow_a_built_in(command_file):
    path = command_file('[types.echo]\nargv = ["echo"]')

    with pytest.raises(ValueError, match="'echo' declared twice"):
        build_catalog(path)


def test_render_argv_replaces_whole_elements_with_payload_values_as_text():
    template = ("tool", "--count", "{count}", "{path}", "{flag}")

    argv = render_argv(template, {"count": 3, "path": "a b; rm -rf / $(x)", "flag": True})

    assert argv == ["tool", "--count", "3", "a b; rm -rf / $(x)", "True"]


def test_render_argv_leaves_literal_elements_untouched():
    assert render_argv(("python3", "-c", "print('{x}')"), {"x": "no"}) == [
        "python3", "-c", "print('{x}')"]
