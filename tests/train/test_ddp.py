"""``train kws`` under torchrun: two CPU ranks (gloo) train one DistributedDataParallel
model on halves of every batch; rank 0 alone writes the run folder."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import torch

from spikeport.train.corpus import build_corpus, corpus_root

CORPUS = {"clips_per_word": 6, "clips_per_unknown": 2}


def test_two_ranks_train_one_model(tmp_path):
    cache, out = tmp_path / "cache", tmp_path / "run"
    build_corpus(corpus_root(cache, **CORPUS), progress=False, **CORPUS)  # once, before the ranks start
    script = tmp_path / "ddp_train.py"
    script.write_text(textwrap.dedent(f"""
        import os, torch
        import spikeport.train.kws as kws

        nets, init = [], []
        build = kws.build_snn

        def keep(*a, **k):  # each rank's network and the weights it started from
            nets.append(build(*a, **k))
            init.append({{n: v.clone() for n, v in nets[-1].state_dict().items()}})
            return nets[-1]

        kws.build_snn = keep
        cfg = kws.KwsConfig(epochs=2, ann_epochs=1, device="cpu", ema=0.0, corpus={CORPUS!r})  # ema 0: compare raw weights
        s = kws.train_kws(cfg, {str(out)!r}, cache_dir={str(cache)!r}, progress=False)
        rank = os.environ["RANK"]
        torch.save({{"final": nets[0].state_dict(), "init": init[0]}}, {str(tmp_path)!r} + f"/rank{{rank}}.pt")
        print("rank", rank, "of", os.environ["WORLD_SIZE"], "summary", bool(s))
    """))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          str(script)], capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "rank 0 of 2 summary True" in res.stdout and "rank 1 of 2 summary False" in res.stdout
    assert [m["epoch"] for m in json.loads((out / "metrics.json").read_text())] == [1, 2]
    assert 0.0 <= json.loads((out / "summary.json").read_text())["quantized_accuracy"] <= 1.0
    # the ranks saw different clips but applied the same all-reduced gradients: one model
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    trained = torch.load(out / "model.pt", weights_only=True)["state_dict"]
    w0, w1 = r0["final"], r1["final"]
    assert w0.keys() == w1.keys() == trained.keys()
    for name in w0:
        assert torch.equal(w0[name], w1[name]), name
        assert torch.equal(w0[name], trained[name]), name
    weights = [n for n in w0 if n.endswith("synapse.weight")]
    assert weights and all(not torch.equal(w0[n], r0["init"][n]) for n in weights)
