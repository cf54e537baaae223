"""Parsing a CLI command line the way the Azure CLI and azd read theirs: command words first, then
``--name value`` / ``--name=value`` / ``-n value`` options and ``--flag`` switches.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NamedTuple, NoReturn

from .transport import CliError


class Command(NamedTuple):
    """One command of a stand-in: its words, its options (aliases map to one canonical name), its flags."""

    words: tuple[str, ...]
    options: dict[str, str] = {}  # alias (e.g. "-n", "--name") -> canonical; never mutated
    flags: dict[str, str] = {}
    repeatable: frozenset[str] = frozenset()


class Invocation:
    """A parsed command line: option values by canonical name, and the switches given."""

    def __init__(self, command: Command, values: dict[str, list[str]], switches: set[str]) -> None:
        self.command = command
        self.values = values
        self.switches = switches

    def get(self, name: str, default: str | None = None) -> str | None:
        found = self.values.get(name)
        return found[-1] if found else default

    def all(self, name: str) -> list[str]:
        return self.values.get(name, [])

    def flag(self, name: str) -> bool:
        return name in self.switches


def match(argv: list[str], commands: list[Command]) -> tuple[Command | None, list[str]]:
    """The command whose words start ``argv`` (longest first), and the words that were given."""
    words: list[str] = []
    for token in argv:
        if token.startswith("-"):
            break
        words.append(token)
    for command in sorted(commands, key=lambda c: -len(c.words)):
        if tuple(words[: len(command.words)]) == command.words:
            return command, words
    return None, words


def parse(
    argv: list[str], command: Command, global_options: dict[str, str], global_flags: dict[str, str]
) -> Invocation:
    options = {**global_options, **command.options}
    flags = {**global_flags, **command.flags}
    values: dict[str, list[str]] = {}
    switches: set[str] = set()
    rest = argv[len(command.words) :]
    unknown: list[str] = []
    i = 0
    while i < len(rest):
        token = rest[i]
        name, has_value, inline = token.partition("=") if token.startswith("--") else (token, "", "")
        if name in flags and not has_value:
            switches.add(flags[name])
        elif name in options:
            if has_value:
                value = inline
            elif i + 1 < len(rest):
                i += 1
                value = rest[i]
            else:
                raise CliError(f"argument {name}: expected one argument", exit_code=2)
            canonical = options[name]
            if canonical in command.repeatable:
                # `--scope a b` takes several values, as argparse's nargs="+" does.
                collected = [value]
                while i + 1 < len(rest) and not rest[i + 1].startswith("-"):
                    i += 1
                    collected.append(rest[i])
                values.setdefault(canonical, []).extend(collected)
            else:
                values.setdefault(canonical, []).append(value)
        else:
            unknown.append(token)
        i += 1
    if unknown:
        raise CliError(f"unrecognized arguments: {' '.join(unknown)}", exit_code=2)
    return Invocation(command, values, switches)


def run_and_exit(run: Callable[[list[str]], int], *, hint: str, unexpected: str) -> NoReturn:
    """Run a stand-in on ``sys.argv``; every failure ends in the CLI's own stderr lines, never a traceback.

    ``hint`` formats a :class:`CliError`'s hint (``"{}"`` for az, ``"Suggestion: {}"`` for azd);
    ``unexpected`` opens the one line written for anything else.
    """
    try:
        code = run(sys.argv[1:])
    except CliError as err:
        sys.stderr.write(f"ERROR: {err.message}\n")
        if err.hint:
            sys.stderr.write(hint.format(err.hint) + "\n")
        code = err.exit_code
    except KeyboardInterrupt:
        code = 130
    except Exception as err:
        sys.stderr.write(f"ERROR: {unexpected}: {type(err).__name__}\n")
        code = 1
    sys.stdout.flush()
    raise SystemExit(code)
