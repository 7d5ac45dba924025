import subprocess
import sys

from conftest import REPO_ROOT, run_floe

from floe import __version__

HEAVY = ("pydantic", "yaml", "jsonschema", "requests", "rich", "sigstore", "dbt", "cryptography")


def test_version_commands_agree() -> None:
    assert run_floe("--version").stdout.strip().endswith(__version__)
    assert run_floe("version").stdout.strip() == f"floe {__version__}"


def test_help_imports_no_heavy_module() -> None:
    """`floe --help` stays fast: it imports none of the heavy modules."""
    probe = (
        "import sys\n"
        "from floe.cli.main import run\n"
        "code = run(['--help'])\n"
        f"loaded = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
        "print(code, ','.join(loaded))\n"
    )
    out = (
        subprocess.run(
            [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    code, _, loaded = out.partition(" ")
    assert code == "0"
    assert loaded == "", f"floe --help imported {loaded}"


def test_every_subcommand_help_is_cheap_and_works() -> None:
    """Every registered command renders its --help (exit 0)."""
    from floe.cli.main import cli, platform

    names = [(n,) for n in cli.commands if n != "platform"] + [
        ("platform", n) for n in platform.commands
    ]
    assert ("platform", "compile") in names and ("init",) in names
    for name in names:
        result = run_floe(*name, "--help")
        assert result.exit_code == 0, (name, result.output)
        assert "Usage:" in result.stdout
