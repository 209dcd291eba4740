"""Generic photo captions: real-looking text for calibration, parity and toy vocabularies.

Its own module because both `calibration` (int8 inputs) and `models.text_tokenizers`
(the toy vocabularies' corpus) use it, and calibration already imports the models.
"""

from __future__ import annotations

GENERIC_CAPTIONS = (
    "a photo of a dog playing on the beach",
    "two people hiking in the mountains at sunset",
    "a birthday cake with candles",
    "a city street at night with cars and lights",
    "a cat sleeping on a sofa",
    "snow covered trees in the forest",
    "a plate of pasta with tomato sauce",
    "children playing football in a park",
    "an old castle on a hill",
    "a screenshot of a spreadsheet",
    "",
    "a very long caption " + "that keeps going " * 20,
)
