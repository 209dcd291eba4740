"""The case- and accent-insensitive form of recognised text ("CAFÉ" and "cafe" alike).

Its own module: the OCR store folds lines as it writes them and the schema migration folds
the lines already stored, and the schema must not import the store (the store imports
the connection, which imports the schema).
"""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Case- and accent-insensitive form: casefold, drop combining marks, collapse spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(unicodedata.normalize("NFC", bare).split())
