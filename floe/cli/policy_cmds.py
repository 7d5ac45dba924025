"""`floe platform test`: the platform's built-in checks and its own policy cases."""

from __future__ import annotations

from pathlib import Path

import click

from floe.cli import common


def register(cli: click.Group, platform: click.Group) -> None:
    """Attach this area's commands to the root group and the `platform` group."""
    platform.add_command(test_command)


@click.command("test")
@click.option(
    "--artifacts",
    "artifacts",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path(".floe/artifacts"),
    show_default=True,
    help="The compiled platform tree to test.",
)
@click.option(
    "--manifest-dir",
    "manifest_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder with the platform's tests/ (default: manifests/<name>/tests).",
)
@common.format_option("text", "json")
def test_command(artifacts: Path, manifest_dir: Path | None, fmt: str) -> None:
    """Run the platform's policy tests against the compiled tree (exit 1 on a failure)."""
    from floe.platform.policy_test import find_tests_dir, run_policy_tests
    from floe.tree.model import load_tree

    tree = load_tree(artifacts)
    cwd = Path.cwd()
    tests_dir = find_tests_dir(tree, manifest_dir, cwd)
    report = run_policy_tests(tree, tests_dir, display_root=cwd)
    if fmt == "json":
        common.emit_json(report.to_json())
    else:
        for line in report.text_lines():
            click.echo(line)
    if not report.passed:
        raise click.exceptions.Exit(1)
