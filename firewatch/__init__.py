"""Firewatch shared core: message contract, image decoding, postprocessing, confirmation.

`streaming/` and `batch/` both import the per-element logic from here; the `firewatch`
CLI (`firewatch.cli`) is a thin layer over the job packages.
"""
