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
    packages=find_packages(
        include=["firewatch*", "model*", "edge*", "tuning*", "vertex*", "streaming*", "batch*", "infra*"]
    ),
    package_data={
        "infra": ["schemas/*.json", "resources.json"],
        "firewatch.console": ["templates/*.html", "static/*"],
    },
    include_package_data=True,
    # The same versions the image installs (requirements-prod.txt; a test keeps them equal), so a
    # worker that installs this package with its dependencies gets what the job was tested with.
    install_requires=[
        "apache-beam[gcp]==2.77.0",
        "tensorflow==2.21.0",  # the GPU image installs tensorflow[and-cuda] of the same version
        "google-cloud-pubsub==2.44.0",
        "google-cloud-storage==3.17.1",
        "google-cloud-bigquery==3.47.0",
        "pydantic==2.14.3",
        "pillow==12.3.0",
        "numpy==2.4.6",
        # explanations on workers: Integrated Gradients + XRAI (saliency uses scikit-image/scipy)
        "saliency==0.2.1",
        "scikit-image==0.26.0",
        "scipy==1.17.1",
    ],
    entry_points={"console_scripts": ["firewatch=firewatch.cli.dispatch:main"]},
)
