"""Zero-shot tags ("Things"): label sets, prompt ensembles, calibration and assignment.

Modules: `labels` (validating user definitions), `scoring` (the numpy maths: label
vectors, calibration, assignment), `builtin` (the shipped everyday set, a committed JSON
file: no torch/open_clip at run time), `tagger` (computes label vectors and re-tags the
library from stored embeddings; run as a daemon job), `admin` (create/edit/delete sets).
The method is documented in docs/TAGS.md.
"""
