"""Bad input to ``spikeport sim``: one clear line naming what and where, exit 2, no output."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from spikeport.cli import main
from spikeport.sim.synthetic import write_network

CUBA = {"type": "CUBA", "iDecay": 1024, "vDecay": 512, "vThMant": 40}
DENSE = [{"type": "input", "shape": [3]}, {"type": "dense", "weight": [[2, 0, 4], [0, 0, 6]], "neuron": CUBA}]


def _make(tmp_path, case: str):
    """Write the network and input of one bad case; returns (net, input, expected fragments)."""
    net, x = tmp_path / "net.net", tmp_path / "x.npy"
    np.save(x, np.ones((3, 5)))
    if case == "not_hdf5":
        net.write_text("layer 0: dense\n")
        return net, x, ["net.net", "not an HDF5 file"]
    if case == "truncated":
        write_network(tmp_path / "full.net", DENSE)
        data = (tmp_path / "full.net").read_bytes()
        net.write_bytes(data[:len(data) * 2 // 3])
        return net, x, ["net.net", "truncated"]
    if case == "pool_no_weight":
        write_network(net, [{"type": "input", "shape": [1, 4, 4]}, {"type": "pool", "shape": [1, 2, 2]}])
        return net, x, ["net.net", "layer 1 (pool)", "'weight'"]
    if case == "unbuilt":
        write_network(net, DENSE + [{"type": "convT", "shape": [2, 1, 1]}])
        return net, x, ["net.net", "layer 2", "'convT'", "netx 0.6 does not build convT", "--num-layers 2"]
    if case == "average_not_last":
        write_network(net, DENSE + [{"type": "average", "shape": [1]},
                                    {"type": "dense", "weight": [[3]], "neuron": CUBA}])
        return net, x, ["net.net", "layer 2", "'average' but not the last layer"]
    if case == "unknown_type":
        write_network(net, DENSE[:1] + [{"type": "mystery", "shape": [3]}])
        return net, x, ["net.net", "layer 1", "'type' is 'mystery'", "allowed: input, dense"]
    if case == "missing_weight":
        write_network(net, DENSE)
        with h5py.File(net, "a") as f:
            del f["layer/1/weight"]
        return net, x, ["net.net", "layer 1", "'weight'"]
    write_network(net, DENSE)
    if case == "shape":
        np.save(x, np.ones((4, 5)))
        return net, x, ["x.npy", "(4, 5)", "expected (3, T)", "net.net"]
    if case == "nan":
        a = np.ones((3, 5))
        a[2, 3] = np.nan
        np.save(x, a)
        return net, x, ["x.npy", "NaN at index (2, 3)"]
    if case == "not_npy":
        x.write_text("1, 2, 3")
        return net, x, ["x.npy", "cannot read as a .npy array"]
    raise AssertionError(case)


CASES = ["not_hdf5", "truncated", "pool_no_weight", "unbuilt", "average_not_last", "unknown_type", "missing_weight", "shape", "nan", "not_npy"]


@pytest.mark.parametrize("backend", ["fast", "lava"])
@pytest.mark.parametrize("case", CASES)
def test_bad_input_one_line_exit_2_no_output(tmp_path, capsys, case, backend):
    net, x, fragments = _make(tmp_path, case)
    out = tmp_path / "out" / "o.npy"
    counts = tmp_path / "out" / "c.json"
    code = main(["sim", str(net), "--input", str(x), "--backend", backend, "-o", str(out), "--counts", str(counts)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("spikeport: error: ") and err.count("\n") == 1, err
    for frag in fragments:
        assert frag in err, (frag, err)
    assert not out.exists() and not counts.exists()
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_loihi_backend_says_what_is_missing(tmp_path, capsys):
    net, x, _ = _make(tmp_path, "shape")
    np.save(x, np.ones((3, 5)))
    out = tmp_path / "o.npy"
    assert main(["sim", str(net), "--input", str(x), "--backend", "loihi", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lava-loihi" in err and "not installed" in err and "INRC" in err
    assert not out.exists()


def test_loihi_check_names_the_missing_modules():
    from spikeport.errors import SpikeportError
    from spikeport.sim.loihi_backend import LOIHI_MODULES, missing_loihi_modules, require_loihi

    missing = missing_loihi_modules()
    assert missing == list(LOIHI_MODULES)          # lava-loihi is not installed here
    with pytest.raises(SpikeportError, match="lava.proc.embedded_io"):
        require_loihi()
