"""The fake vendors and the demo: ``sandbox`` and ``demo``."""

from __future__ import annotations

from typing import Annotated

import typer

from patchbay.cli.common import fail_usage, stdout


def sandbox_cmd(
    port: Annotated[
        int, typer.Option("--port", help="First port (NinjaOne; Microsoft on the next). 0: any.")
    ] = 0,
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant id for the printed lines.")] = (
        "demo"
    ),
) -> None:
    """Serve every fake vendor on loopback until Ctrl-C, and print how to connect to them."""
    import signal
    import threading

    from patchbay.sandboxes import start_sandbox

    try:
        run = start_sandbox(port)
    except OSError as exc:
        fail_usage(f"cannot listen on port {port}: {exc.strerror}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stdout.print("[bold]patchbay sandbox[/] (fake vendors; Ctrl-C to stop)")
        for vendor, server in run.servers.items():
            stdout.print(f"  {vendor:10} {server.base_url}")
        stdout.print("\nConnect a tenant to them:")
        for line in run.connect_lines(tenant):
            typer.echo(f"  {line}")
        stdout.print(
            "\nFault injection and the request log: POST <url>/__sandbox/faults, "
            "GET <url>/__sandbox/requests"
        )
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        run.stop()


def demo_cmd() -> None:
    """Run the embedded demo (its own data directory; safe to run again)."""
    from patchbay.demo import run_demo

    raise typer.Exit(run_demo(stdout))
