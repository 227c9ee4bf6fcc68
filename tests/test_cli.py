"""The `ocb` entry point lists every command; unfinished commands fail loudly."""

from click.testing import CliRunner

from opencapbench.cli import COMMANDS, main


def test_help_lists_all_commands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in ("generate-dataset", "finetune", "infer", "benchmark"):
        assert name in result.output


def test_every_command_imports_and_has_help() -> None:
    for name in COMMANDS:
        result = CliRunner().invoke(main, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
