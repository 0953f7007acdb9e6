"""Packaging for Firewatch: the shared core, the jobs' packages and the `firewatch` CLI.

The same file is used by Dataflow workers (`--setup_file ./setup.py`), so it lists
only the Python packages and no heavy build steps.
"""

from setuptools import find_packages, setup

setup(
    name="firewatch",
    version="0.1.0",
    description="Event-driven fire-detection inference on Apache Beam (streaming and batch).",
    python_requires=">=3.11",
    packages=find_packages(include=["firewatch*", "model*", "streaming*", "batch*", "infra*"]),
    package_data={
        "infra": ["schemas/*.json", "resources.json"],
        "firewatch.console": ["templates/*.html", "static/*"],
    },
    include_package_data=True,
    install_requires=[
        "apache-beam[gcp]",
        "tensorflow",
        "google-cloud-pubsub",
        "google-cloud-storage",
        "google-cloud-bigquery",
        "pydantic>=2",
        "pillow",
        "numpy",
        # explanations on workers: Integrated Gradients + XRAI (saliency uses scikit-image/scipy)
        "saliency==0.2.1",
        "scikit-image",
        "scipy",
    ],
    entry_points={"console_scripts": ["firewatch=firewatch.cli.dispatch:main"]},
)
