"""Every `ocb` command shown in the README and docs/ names a command and options that exist
(checked with click's own parser, so a renamed option or a removed command fails here), and
the ones that can run offline on built-in data run."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from opencapbench.cli import main

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
#: shell variables of the documented scripts (docs/cluster.md), with values they may take
SHELL_VALUES = {"SLURM_CPUS_PER_TASK": "2", "SLURM_ARRAY_TASK_ID": "0", "N": "3"}


def _commands(path: Path) -> list[tuple[str, list[str]]]:
    """`ocb ...` command lines of the fenced code blocks of a Markdown file."""
    found = []
    in_block = False
    pending = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            in_block = not in_block
            continue
        if not in_block:
            continue
        text = pending + line.split(" #")[0].strip()
        if text.endswith("\\"):
            pending = text[:-1] + " "
            continue
        pending = ""
        for part in re.split(r"&&|\|", text):
            words = part.strip()
            words = re.sub(r"^[A-Z_]+=\S+\s+", "", words)  # VAR=value prefixes
            if words.startswith("ocb "):
                args = [
                    re.sub(r"\$\{?(\w+)\}?", lambda m: SHELL_VALUES.get(m[1], m[0]), a)
                    for a in shlex.split(words)[1:]
                ]
                found.append((f"{path.name}: {words}", args))
    return found


CASES = [c for doc in DOCS for c in _commands(doc)]


def test_the_docs_show_commands() -> None:
    assert len(CASES) >= 20
    names = {args[0] for _, args in CASES if args}
    assert {"benchmark", "infer", "generate-dataset", "finetune", "demo"} <= names


def _parse(cmd: click.Command, name: str, args: list[str]) -> None:
    if isinstance(cmd, click.Group):  # `ocb generate-dataset SOURCE ...`: no group options
        sub_name, *rest = args
        sub = cmd.get_command(click.Context(cmd), sub_name)
        assert sub is not None, f"{name}: no sub-command {sub_name!r}"
        _parse(sub, sub_name, rest)
        return
    with cmd.make_context(name, list(args)):
        pass


@pytest.mark.parametrize(("where", "args"), CASES, ids=[c[0][:80] for c in CASES])
def test_documented_command_parses(where: str, args: list[str]) -> None:
    if not args or args[0].startswith("-"):
        return  # `ocb --help` and the like
    cmd = main.get_command(click.Context(main), args[0])
    assert cmd is not None, f"{where}: no command {args[0]!r}"
    try:
        _parse(cmd, args[0], args[1:])
    except (click.NoSuchOption, click.BadOptionUsage) as err:
        pytest.fail(f"{where}: {err.format_message()}")
    except click.UsageError as err:
        message = err.format_message()
        # a placeholder path that does not exist here is fine; an unknown option or
        # command is not
        if "does not exist" in message or "Missing" in message:
            return
        pytest.fail(f"{where}: {message}")
    except click.exceptions.Exit:
        pass


#: documented commands that need nothing but the package; the others need data that the tests
#: make themselves (`ocb demo`: tests/benchmark/test_demo.py; `ocb finetune ... tiny_cpu.py`:
#: tests/synthpose/test_finetune_learning.py; `ocb compare`: tests/report/test_compare.py)
RUNNABLE = ("pose2sim-skeleton",)


@pytest.mark.parametrize(
    ("where", "args"), [c for c in CASES if c[1] and c[1][0] in RUNNABLE], ids=lambda v: str(v)[:60]
)
def test_documented_offline_command_runs(
    where: str, args: list[str], tmp_path, monkeypatch
) -> None:
    from click.testing import CliRunner

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, f"{where}: {result.output}"
    assert any(tmp_path.iterdir()), f"{where}: wrote nothing"
