"""``edge-app tls show | install | regenerate``: the certificate the web UI is served with.

``install`` puts the owner's certificate (e.g. from a school CA) in place after checking
that key and certificate belong together; ``regenerate`` goes back to the box's own.
Both take effect when the daemon restarts (``systemctl restart edge-search``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edge_app.settings import Settings


def tls_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    sub.add_parser("show", help="the served certificate's fingerprint and where it comes from")
    install = sub.add_parser("install", help="serve your own certificate (PEM files)")
    install.add_argument("--cert", type=Path, required=True, help="the server certificate")
    install.add_argument("--key", type=Path, required=True, help="its private key (unencrypted)")
    install.add_argument("--chain", type=Path, help="intermediate certificates, if any")
    sub.add_parser("regenerate", help="drop an installed certificate, serve the box's own")


def tls(args: argparse.Namespace, settings: Settings) -> int:
    from edge_app.appliance import tls as box_tls
    from edge_app.cli.appliance import tls_lines

    if args.action == "install":
        box_tls.install_owner_certificate(settings, args.cert, args.key, args.chain)
        print("installed; restart the daemon to serve it: systemctl restart edge-search")
    elif args.action == "regenerate":
        box_tls.use_generated(settings)
        print("the box's own certificate is back; restart the daemon to serve it")
    for line in tls_lines(settings):
        print(line)
    return 0
