"""edge_app."""
