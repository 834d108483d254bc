"""Chip profiles: built-ins carry a source for every known figure, Loihi 2's unpublished
energies stay unknown, user profiles load from TOML/JSON, bad ones fail clearly."""
from __future__ import annotations

import json

import pytest

from spikeport.cli import main
from spikeport.errors import SpikeportError
from spikeport.hw.profiles import ENERGY_FIELDS, LIMIT_FIELDS, TIME_FIELDS, load_profile


def _toml(overrides: dict[str, str] | None = None, drop: str | None = None) -> str:
    """A complete profile as TOML text; ``overrides`` replace a figure's body
    (``"energy.synop": 'value = -1\\nsource = "x"'``), ``drop`` removes one."""
    overrides = overrides or {}
    lines = ['name = "testchip"', 'description = "a chip for tests"']
    for section, fields in (("energy", ENERGY_FIELDS), ("time", TIME_FIELDS), ("limits", LIMIT_FIELDS)):
        for k in fields:
            key = f"{section}.{k}"
            if key == drop:
                continue
            body = overrides.get(key, 'value = 2\nsource = "test source"')
            lines += [f"[{key}]", body]
    return "\n".join(lines) + "\n"


def test_builtin_profiles_have_sources_and_unknowns():
    l1, l2 = load_profile("loihi1"), load_profile("LOIHI2")
    for p in (l1, l2):
        assert set(p.energy) == set(ENERGY_FIELDS) and set(p.time) == set(TIME_FIELDS)
        assert set(p.limits) == set(LIMIT_FIELDS)
        for f in [*p.energy.values(), *p.time.values(), *p.limits.values()]:
            assert (f.low is None) == (f.high is None)
            if f.known:
                assert f.source.strip(), f
                assert 0 <= f.low <= f.high
            else:
                assert f.text() == "unknown"
    # Davies et al. 2018, Table 2
    assert l1.energy["synop"].low == 23.6
    assert (l1.energy["neuron_update_active"].low, l1.energy["neuron_update_inactive"].low) == (81, 52)
    assert l1.energy["spike_within_tile"].low == 1.7
    assert l1.limit("neurons_per_core") == 1024 and l1.limit("cores_per_chip") == 128
    assert l1.energy_known
    # Loihi 2: resources published, per-op energy not
    assert l2.limit("neurons_per_core") == 8192 and l2.limit("max_delay") == 62
    assert not any(f.known for f in l2.energy.values()) and not l2.energy_known
    assert l2.energy_stand_in == "loihi1"
    assert l2.limit("in_axons_per_core") is None


def test_user_toml_profile_loads(tmp_path):
    text = _toml({"energy.synop": 'low = 10\nhigh = 12.5\nsource = "my measurement"',
                  "time.timestep": 'value = "unknown"'})
    p = tmp_path / "chip.toml"
    p.write_text(text)
    prof = load_profile(p)
    assert prof.name == "testchip"
    assert (prof.energy["synop"].low, prof.energy["synop"].high) == (10, 12.5)
    assert prof.energy["synop"].source == "my measurement"
    assert not prof.time["timestep"].known
    assert prof.limit("neurons_per_core") == 2


def test_user_json_profile_with_null_is_unknown(tmp_path):
    data = {"name": "j", "energy": {}, "time": {}, "limits": {}}
    for section, fields in (("energy", ENERGY_FIELDS), ("time", TIME_FIELDS), ("limits", LIMIT_FIELDS)):
        for k in fields:
            data[section][k] = {"value": 3, "source": "s"}
    data["energy"]["hop_east_west"] = {"value": None}
    p = tmp_path / "chip.json"
    p.write_text(json.dumps(data))
    prof = load_profile(p)
    assert not prof.energy["hop_east_west"].known and prof.energy["synop"].low == 3


@pytest.mark.parametrize("overrides,drop,message", [
    ({}, "energy.synop", "energy.synop missing"),
    ({}, "limits.max_delay", "limits.max_delay missing"),
    ({"energy.neuron_update_active": 'value = -81\nsource = "x"'}, None, "negative figure -81"),
    ({"limits.weight_bits": 'value = 8.5\nsource = "x"'}, None, "whole number"),
    ({"energy.synop": 'value = "cheap"\nsource = "x"'}, None, "not a number"),
    ({"energy.synop": "value = 23.6"}, None, "needs its 'source'"),
    ({"energy.synop": 'low = 5\nhigh = 2\nsource = "x"'}, None, "low 5 is above high 2"),
    ({"energy.synop": 'source = "x"'}, None, "missing 'value'"),
])
def test_bad_profile_files_fail_clearly(tmp_path, overrides, drop, message):
    p = tmp_path / "bad.toml"
    p.write_text(_toml(overrides, drop))
    with pytest.raises(SpikeportError) as e:
        load_profile(p)
    assert message in str(e.value) and str(p) in str(e.value) and "\n" not in str(e.value)


def test_unknown_figure_name_and_bad_syntax(tmp_path):
    p = tmp_path / "typo.toml"
    p.write_text(_toml() + '[energy.synopp]\nvalue = 1\nsource = "x"\n')
    with pytest.raises(SpikeportError, match="unknown figure"):
        load_profile(p)
    p.write_text("name = \n")
    with pytest.raises(SpikeportError, match="not valid TOML"):
        load_profile(p)
    with pytest.raises(SpikeportError, match="no such profile file"):
        load_profile(tmp_path / "missing.toml")


def test_unknown_chip_name():
    with pytest.raises(SpikeportError, match="unknown chip 'loihi3'"):
        load_profile("loihi3")


def test_cli_unknown_chip_is_one_line(tmp_path, capsys):
    net = tmp_path / "n.net"
    net.write_bytes(b"")
    assert main(["hw", "map", str(net), "--chip", "truenorth"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("spikeport: error: unknown chip 'truenorth'") and "\n" not in err


def test_cli_profile_lists_sources(capsys):
    assert main(["hw", "profile", "loihi2"]) == 0
    out = capsys.readouterr().out
    assert "energy.synop" in out and "unknown" in out and "Intel has not published" in out
    assert "limits.neurons_per_core" in out and "8,192" in out
