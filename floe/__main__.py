"""`python -m floe`: the same entry point as the `floe` command."""

from floe.cli.main import main

main()
