"""`edge-build pack`: index a photo collection on a Ray cluster into a library pack."""
