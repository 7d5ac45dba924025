from conftest import run_floe

from floe import __version__


def test_version_commands_agree() -> None:
    assert run_floe("--version").stdout.strip().endswith(__version__)
    assert run_floe("version").stdout.strip() == f"floe {__version__}"
