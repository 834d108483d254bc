"""Shared fixtures. Importing spikeport installs the Python 3.11 fix for Lava."""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest

import spikeport  # noqa: F401


@pytest.fixture(scope="session")
def netx_gts() -> Path:
    """Folder of lava-dl's netx ground truths (``tests/lava/lib/dl/netx``).

    Found through lava-dl's installed file list rather than by importing its
    top-level ``tests`` package, a name our own test folder also has.
    """
    try:
        files = distribution("lava-dl").files or []
    except PackageNotFoundError:
        pytest.fail("lava-dl is not installed (run `make test`, which installs it)")
    for f in files:
        if f.as_posix().endswith("tests/lava/lib/dl/netx/tiny.net"):
            root = Path(f.locate()).parent
            assert (root / "gts").is_dir(), f"{root}/gts missing"
            return root
    pytest.fail("lava-dl's netx ground truths (tests/lava/lib/dl/netx) are not in its wheel")


@pytest.fixture(scope="session")
def digits_slice(tmp_path_factory):
    """One small run of the digits train -> export -> Lava slice, shared by tests."""
    from spikeport.vertical_slice import run_digits_slice

    out = tmp_path_factory.mktemp("slice")
    return run_digits_slice(out, epochs=3, lava_samples=16, seed=0, progress=False)
