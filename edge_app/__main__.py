"""``python -m edge_app ...``: the same as the ``edge-app`` console script."""

from edge_app.cli.main import main

raise SystemExit(main())
