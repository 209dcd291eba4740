"""edge_bench."""
