"""The commands that only run or count an exported network start light: `sim --backend
fast`, `eval --backend fast`, `hw map`, `hw profile`, `report --input / --activity` and
`--help` import neither torch, torchvision nor Lava (each run in its own process,
``sys.modules`` read at its end)."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from spikeport.train.corpus import corpus_root

HEAVY = ("torch", "torchvision", "lava")
PROBE = """
import json, sys
from spikeport.cli import main
try:
    rc = main(sys.argv[1:])
except SystemExit as e:
    rc = e.code
print("PROBE " + json.dumps({"rc": rc, "loaded": [m for m in %r if m in sys.modules]}))
""" % (HEAVY,)


def _run(args: list[str], env_cache=None) -> dict:
    env = None
    if env_cache is not None:
        import os

        env = {**os.environ, "SPIKEPORT_CACHE": str(env_cache)}
    r = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=600, env=env)
    line = [l for l in r.stdout.splitlines() if l.startswith("PROBE ")]
    assert line, r.stdout + r.stderr
    return json.loads(line[-1][6:])


@pytest.fixture(scope="module")
def files(tmp_path_factory, conv_run):
    d = tmp_path_factory.mktemp("light")
    from spikeport.sim.netx_reader import read_network

    shape = read_network(conv_run / "model.net").input_shape
    np.save(d / "x.npy", np.random.default_rng(0).integers(-100, 200, (2,) + tuple(shape) + (30,)).astype(np.int32))
    return d


@pytest.mark.parametrize("name", ["sim", "hw map", "hw profile", "report --input", "report --activity", "help",
                                  "eval"])
def test_light_commands_import_no_torch_or_lava(name, files, conv_run, kws_cache):
    net, d = str(conv_run / "model.net"), files
    if name == "report --activity":
        assert _run(["sim", net, "--input", str(d / "x.npy"), "--backend", "fast", "-o", str(d / "y.npy"),
                     "--counts", str(d / "c.json")])["rc"] == 0
    args = {"sim": ["sim", net, "--input", str(d / "x.npy"), "--backend", "fast", "-o", str(d / "y1.npy")],
            "hw map": ["hw", "map", net],
            "hw profile": ["hw", "profile", "loihi1"],
            "report --input": ["report", net, "--input", str(d / "x.npy"), "--quiet", "-o", str(d / "r1")],
            "report --activity": ["report", net, "--activity", str(d / "c.json"), "-o", str(d / "r2")],
            "help": ["--help"],
            "eval": ["eval", net, "--data", str(corpus_root(kws_cache, clips_per_word=12, clips_per_unknown=4)), "--quiet", "--limit", "6"]}[name]
    got = _run(args, env_cache=kws_cache)
    assert got["rc"] == 0, got
    assert got["loaded"] == [], f"{name} imported {got['loaded']}"
