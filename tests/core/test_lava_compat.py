"""The Python 3.11 fix for lava-nc 0.10.0 is real, scoped, and holds in workers."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from spikeport import lava_compat

PY311 = sys.version_info >= (3, 11)


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=300, cwd="/")


def test_rewrite_gives_each_instance_its_own_default():
    src = textwrap.dedent("""
        from __future__ import annotations
        from dataclasses import dataclass
        @dataclass
        class Inner:
            a: int = 0
        @dataclass
        class Outer:
            x: Inner = Inner()
            n: int = 3
    """)
    code, count = lava_compat.rewrite_source(src, "<snippet>")
    assert count == 1
    ns: dict = {}
    exec(code, ns)
    a, b = ns["Outer"](), ns["Outer"]()
    assert a.x == ns["Inner"]() and a.x is not b.x and a.n == 3


@pytest.mark.skipif(not PY311, reason="the unpatched module imports fine before Python 3.11")
def test_lava_magma_fails_without_the_fix():
    r = _run("import lava.magma.compiler.var_model")
    assert r.returncode != 0 and "mutable default" in r.stderr


def test_lava_magma_imports_through_the_fix():
    r = _run("""
        import spikeport, sys
        from spikeport import lava_compat
        import lava.magma.compiler.var_model as vm
        import lava.magma.core.run_configs
        assert lava_compat.installed() == (sys.version_info >= (3, 11))
        assert vm.CoreEncoder().x is not vm.CoreEncoder().x
        print("ok")
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_fix_holds_in_forked_worker_processes():
    # The parent installs the finder but never imports var_model; a forked child does.
    r = _run("""
        import multiprocessing as mp, sys
        import spikeport
        def child():
            import lava.magma.compiler.var_model
        assert "lava.magma.compiler.var_model" not in sys.modules
        p = mp.get_context("fork").Process(target=child)
        p.start(); p.join()
        sys.exit(p.exitcode)
    """)
    assert r.returncode == 0, r.stderr


def test_does_nothing_where_not_needed():
    r = _run("""
        import sys
        sys.version_info = (3, 10, 14, "final", 0)
        import spikeport
        from spikeport import lava_compat
        assert not lava_compat.needed() and not lava_compat.installed()
        assert lava_compat.install() is False and not lava_compat.installed()
        print("ok")
    """)
    assert r.returncode == 0, r.stderr


def test_lava_imports_after_multiprocessing_was_used():
    # Torch and scikit-learn fix the start method; Lava then calls set_start_method('fork').
    r = _run("""
        import multiprocessing
        multiprocessing.get_start_method()
        from spikeport.lava_compat import prepare_lava_import
        prepare_lava_import()
        from lava.lib.dl import netx
        print("ok")
    """)
    assert r.returncode == 0, r.stderr
