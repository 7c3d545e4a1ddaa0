# Thin shim for `python setup.py develop` / old `pip install -e .` habits; metadata lives in pyproject.toml.
from setuptools import setup

setup()
