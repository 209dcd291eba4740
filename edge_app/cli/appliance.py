"""``edge-app serve | import | install | uninstall``: the appliance's subcommands.

Kept apart from `edge_app.cli.main` (search/index/demo) so each module stays small; they are
registered in the same `SUBCOMMANDS` table and share its settings and error handling.
Heavy modules are imported inside each ``run`` function so ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from edge_app.cli.enrich import choice_from_args, enrich_args, enrich_sentences
from edge_app.settings import Settings

if TYPE_CHECKING:
    from edge_app.usb.commands import ImportReport

Say = Callable[[str], None]


def serve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help="address to listen on (default from settings: 0.0.0.0)")
    p.add_argument("--port", type=int, help="port to listen on (default from settings: 8443)")


def with_listen_overrides(args: argparse.Namespace, settings: Settings) -> Settings:
    """--host/--port win over the settings file and EDGE_* variables."""
    from dataclasses import replace

    changes: dict[str, object] = {}
    if getattr(args, "host", None):
        changes["host"] = args.host
    if getattr(args, "port", None):
        changes["port"] = args.port
    return replace(settings, **changes) if changes else settings  # type: ignore[arg-type]


def serve(args: argparse.Namespace, settings: Settings, say: Say) -> int:
    return run_server(with_listen_overrides(args, settings), say, False, args.verbose)


def run_server(settings: Settings, say: Say, banner: bool, verbose: int = 0) -> int:
    """The daemon; on a terminal with a start-up banner and readable logs on stderr
    (warnings only, unless -v), otherwise (systemd, pipes) JSON logs on stdout and a
    banner only when ``banner``."""
    from dataclasses import replace

    from edge_app.appliance.daemon import serve as run_daemon

    human = sys.stdout.isatty()
    if human and not verbose and settings.log_level in ("DEBUG", "INFO"):
        settings = replace(settings, log_level="WARNING")

    def ready(port: int) -> None:
        if human or banner:
            announce_web_ui(settings, say, human, port)
        sys.stdout.flush()

    return run_daemon(settings, on_ready=ready, human_logs=human)


def announce_web_ui(
    settings: Settings, say: Say, human_logs: bool = False, port: int | None = None
) -> None:
    """Where to point a browser, how the first visitor becomes the admin, where logs go."""
    from webui.passwords import PasswordStore

    port = port or settings.port
    scheme = "http" if settings.tls == "off" else "https"
    local = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    say(f"\nweb UI: {scheme}://{local}:{port}/")
    if settings.host in ("0.0.0.0", "::"):
        say(f"        {scheme}://{_lan_address()}:{port}/  (from other machines on the LAN)")
    for line in tls_lines(settings):
        say(line)
    token = PasswordStore(settings.data_dir).setup_token()
    if token is None:
        say("log in with the admin password chosen on the first run")
    else:
        say(
            f"first run: open the page, enter the setup token {token} (also in "
            f"{settings.data_dir / 'setup_token'}) and choose the admin password"
        )
    if human_logs:
        say("logs:   warnings on stderr below (-v: all; JSON on stdout when not on a terminal)")
    else:
        say("logs:   JSON lines on stdout (under systemd: journalctl -u edge-search)")
    say("stop with Ctrl+C")


def _lan_address() -> str:
    from edge_app.appliance.tls import lan_address

    return lan_address() or "<this-machine's-address>"


def tls_lines(settings: Settings) -> list[str]:
    """How a first visitor checks they reached this box (banner and `edge-app status`)."""
    from edge_app.appliance.tls import TlsFiles, fingerprint

    if settings.tls != "auto":
        return [f"TLS:    {settings.tls} (plain HTTP here; see docs/SECURITY.md)"]
    files = TlsFiles.of(settings)
    source = files.source()
    if source is None:
        return ["TLS:    no certificate yet (made on the first start of the daemon)"]
    lines = [f"TLS:    certificate SHA-256 {fingerprint(files.cert)}"]
    if source == "generated":
        lines.append(f"        issued by this box's own CA: {files.ca} (trust it once, or check")
        lines.append("        that the browser shows the same fingerprint on the first visit)")
    else:
        lines.append("        the owner's certificate (edge-app tls install)")
    return lines


def import_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", nargs="?", type=Path, help="a folder or a mounted stick")
    p.add_argument("--device", help="block device (used by the udev-started import unit)")
    p.add_argument("--mount-point", type=Path, help="where --device is mounted read-only")
    p.add_argument("--no-index", action="store_true", help="copy only; the daemon indexes")
    enrich_args(p)


def import_(args: argparse.Namespace, settings: Settings, say: Say) -> int:
    from edge_app.usb.commands import import_command

    return import_command(
        settings,
        args.path,
        device=args.device,
        mount_point=args.mount_point,
        index=not args.no_index,
        on_done=lambda report: print_import_report(report, say),
        enrich=choice_from_args(args),
        on_pack_done=lambda r: say(
            f"library pack {r.pack_id[:12]}: {r.added} added, {r.duplicates} duplicate(s), "
            f"{r.skipped_done} already imported (no photo encoded)"
        ),
    )


def print_import_report(report: ImportReport, say: Say) -> None:
    """Counts, destination and every file not copied (with why): an import that skipped
    everything must say so, not end silently."""
    p = report.progress
    say(
        f"import {p.state}: {p.found} found, {p.copied} copied, "
        f"{p.skipped_duplicate} duplicate(s) skipped, {p.failed} failed"
    )
    if report.dest_dir is not None:
        say(f"copied to {report.dest_dir}")
    if p.reason:
        say(f"note: {p.reason}")
    for path, reason in report.not_copied:
        say(f"  not copied: {path}: {reason}")
    for path, reason in report.not_indexed:
        say(f"  copied, not indexed: {path}: {reason}")
    if p.found == 0:
        say("no photos found there (JPEG, PNG, HEIC, ... are looked for in all subfolders)")
    if report.enrichment is not None:
        for line in enrich_sentences(report.enrichment, report.ocr_counts):
            say(line)


def root_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", type=Path, default=Path("/"), help="install into another root")


def install_args(p: argparse.ArgumentParser) -> None:
    root_args(p)
    p.add_argument("--no-enable", action="store_true", help="do not enable the service")


def uninstall_args(p: argparse.ArgumentParser) -> None:
    root_args(p)
    p.add_argument("--purge", action="store_true", help="also delete data, config and user")


def install(args: argparse.Namespace, settings: Settings, say: Say) -> int:
    from edge_app.appliance import installer

    for line in installer.install(args.root, enable=not args.no_enable):
        say(line)
    return 0


def uninstall(args: argparse.Namespace, settings: Settings, say: Say) -> int:
    from edge_app.appliance import installer

    for line in installer.uninstall(args.root, purge=args.purge):
        say(line)
    return 0
