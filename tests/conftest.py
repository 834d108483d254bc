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
    from support.digits_slice import run_digits_slice

    out = tmp_path_factory.mktemp("slice")
    return run_digits_slice(out, epochs=3, lava_samples=16, seed=0, progress=False)


# A small embedded corpus: enough clips for every split, fast to build.
SMALL_CORPUS = {"clips_per_word": 12, "clips_per_unknown": 4}


@pytest.fixture(scope="session")
def small_corpus() -> dict:
    """The embedded corpus options of :func:`kws_cache` (a copy: tests may extend it)."""
    return dict(SMALL_CORPUS)


@pytest.fixture(scope="session")
def kws_cache(tmp_path_factory) -> Path:
    """A cache folder holding the small corpus (built once per session)."""
    from spikeport.train.corpus import build_corpus, corpus_root

    cache = tmp_path_factory.mktemp("kws-cache")
    build_corpus(corpus_root(cache, **SMALL_CORPUS), progress=False, **SMALL_CORPUS)
    return cache





def _train_and_export(out: Path, cache: Path, **cfg) -> Path:
    from spikeport.export import export_run
    from spikeport.train.kws import KwsConfig, train_kws

    train_kws(KwsConfig(corpus=SMALL_CORPUS, seed=0, **cfg), out, cache_dir=cache, progress=False)
    export_run(out)
    return out


@pytest.fixture(scope="session")
def conv_run(tmp_path_factory, kws_cache) -> Path:
    """A trained conv SNN with axonal delays (2 epochs), its ANN twin and DS-CNN, exported."""
    return _train_and_export(tmp_path_factory.mktemp("conv-run"), kws_cache, epochs=2, ann_epochs=2,
                             reference_epochs=2)


@pytest.fixture(scope="session")
def dense_run(tmp_path_factory, kws_cache) -> Path:
    """A trained dense SNN without delays (2 epochs) and its ANN twin, exported."""
    return _train_and_export(tmp_path_factory.mktemp("dense-run"), kws_cache, model="dense", delays=False,
                             epochs=2, ann_epochs=2, reference="none")
