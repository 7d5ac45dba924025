"""`floe doctor`: what this machine has, and whether the configured registry answers."""

from __future__ import annotations

from typing import Any

import click

from floe.cli import common


def _text_report(report: dict[str, Any]) -> None:
    def line(ok: bool | None, text: str) -> None:
        mark = {True: "✓", False: "✗", None: "-"}[ok]
        click.echo(f"  {mark} {text}")

    py = report["python"]
    click.echo("floe doctor")
    line(py["ok"], f"Python {py['version']} ({py['executable']})" + ("" if py["ok"] else " < 3.11"))
    line(True, f"floe {report['floe']['version']}")
    click.echo("Optional extras")
    for dist, info in report["extras"].items():
        if info["installed"]:
            line(True, f"{dist} {info['version']}")
        else:
            line(None, f"{dist} not installed (pip install 'floe[{info['extra']}]')")
    click.echo("Tools on PATH")
    for name, info in report["tools"].items():
        line(True if info["found"] else None, f"{name} {info['path'] or 'not found'}")
    click.echo("Registry")
    reg = report["registry"]
    if reg is None:
        line(None, "none configured (--registry, FLOE_REGISTRY or floe.yaml platform.ref)")
    elif reg.get("kind") == "oci-layout":
        state = "exists" if reg["exists"] else "will be created on first publish"
        line(True, f"{reg['ref']} ({reg['source']}): OCI layout at {reg['path']} {state}")
    elif reg["reachable"]:
        line(True, f"{reg['ref']} ({reg['source']}): {reg['url']} answered HTTP {reg['status']}")
    else:
        why = reg.get("error") or f"HTTP {reg.get('status')}"
        line(False, f"{reg['ref']} ({reg['source']}): unreachable: {why}")


@click.command("doctor")
@click.option("--registry", "registry", default=None, help="Registry reference to probe.")
@click.option("--plain-http", is_flag=True, help="Probe the registry over plain HTTP.")
@common.format_option()
def doctor(registry: str | None, plain_http: bool, fmt: str) -> None:
    """Report Python, floe, optional extras, tools and registry reachability."""
    from floe.artifact.doctor import diagnose

    report = diagnose(registry, plain_http=plain_http)
    if fmt == "json":
        common.emit_json(report)
    else:
        _text_report(report)


def register(cli: click.Group, platform: click.Group) -> None:
    """Attach this area's commands to the root group and the `platform` group."""
    cli.add_command(doctor)
