"""Packaging: stage folders install as spikeport.* subpackages, nothing generic lands
in site-packages, and a plain (non-editable) wheel holds the same packages."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import spikeport

REPO = Path(__file__).resolve().parents[2]


def test_stage_packages_map_to_their_folders():
    import spikeport.export
    import spikeport.hw
    import spikeport.sim
    import spikeport.train

    for name in ("train", "export", "sim", "hw"):
        mod = sys.modules[f"spikeport.{name}"]
        assert Path(mod.__file__).resolve() == REPO / name / "__init__.py"
    assert Path(spikeport.__file__).resolve() == REPO / "spikeport" / "__init__.py"


def test_no_generic_top_level_names_outside_the_repo():
    code = ("import importlib.util as u; import spikeport.train; "
            "print([n for n in ('train','export','sim','hw') if u.find_spec(n)])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_plain_wheel_contains_only_spikeport(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(REPO)],
        capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, r.stderr
    (whl,) = tmp_path.glob("spikeport-*.whl")
    names = zipfile.ZipFile(whl).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"spikeport", next(t for t in tops if t.endswith(".dist-info"))}
    for sub in ("train", "export", "sim", "hw"):
        assert f"spikeport/{sub}/__init__.py" in names
    assert "spikeport/lava_compat.py" in names
