"""Keyword-spotting recipe probe: how fast does a variant of the conv SNN learn, and does it
generalise? Each variant trains on the same n training clips of the embedded corpus (384
unless set) for 12 epochs unless set and reports accuracy on those clips and on 256 validation
clips (unseen voices) three times, plus the firing per layer (input, convs, dense, output).

    .venv/bin/python bench/kws_recipe.py 'base' 'scale1 scale=1.0' 'combo scale=1.0 vdecay=0.1 tau=0.3'

Keys: scale (direct-input scale), offset (added to the z-scores), tail (silent steps after
the clip), delays (0/1), lr, gain (CE gain), pen (spike penalty weight), conv (channels of the
convolutions, "32/64/64") and stride (their strides over frequency, "1/2/2"), hidden (dense
neurons), pm (1: ON and OFF input neurons, +x and -x), n (training clips), bs (batch size),
drop (neuron dropout), epochs (accuracies are printed three times), and the CUBA neuron's
vdecay, cdecay, thr, tau (tau_grad), sg (scale_grad); anything not given is the value of the
"base" recipe below (the first version's). About 70 s per variant on 2 cores (n=1536 epochs=3: about 95 s).
"""
from __future__ import annotations

import ast
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from spikeport.train.config import KwsConfig
from spikeport.train.kws import build_snn, model_spec, spike_penalty
from spikeport.train.kws_data import encode_batch, prepare_data

BASE = {"scale": 4.0, "offset": 0.0, "tail": 50, "delays": 1, "lr": 3e-3, "gain": 10.0, "pen": 0.1,
        "vdecay": 0.03, "cdecay": 0.25, "thr": 5.0, "tau": 0.03, "sg": 3.0, "epochs": 12,
        "conv": "32/64/64", "stride": "1/2/2", "hidden": 128, "n": 384, "bs": 32, "pm": 0, "drop": 0.0, "inneuron": 1, "pop": 1}
NEURON_KEYS = {"vdecay": "voltage_decay", "cdecay": "current_decay", "thr": "threshold", "tau": "tau_grad",
               "sg": "scale_grad"}


def probe(name: str, o: dict, data: dict) -> str:
    torch.manual_seed(0)
    xtr, ytr = data["train"]
    xva, yva = data["validation"]
    if o["pm"]:  # ON and OFF input neurons: +x and -x
        xtr, xva = (np.concatenate([a, -a], axis=1) for a in (xtr, xva))
    pick = np.random.default_rng(0).choice(len(xtr), int(o["n"]), replace=False)
    xs, ys = xtr[pick], ytr[pick]
    vpick = np.random.default_rng(1).choice(len(xva), 256, replace=False)
    xv, yv = xva[vpick], yva[vpick]
    cfg = KwsConfig(encoder_params={"scale": o["scale"]}, tail=o["tail"], delays=bool(o["delays"]),
                    dropout=o["drop"])
    spec = model_spec(cfg, 6 if o["pm"] else 3, 40, 12)
    spec["neuron"].update({NEURON_KEYS[k]: o[k] for k in NEURON_KEYS})
    convs = [{"kind": "conv", "out": int(w), "kernel": [3, 1], "stride": [int(s), 1], "padding": [1, 0]}
             for w, s in zip(str(o["conv"]).split("/"), str(o["stride"]).split("/"))]
    spec["layers"] = convs + spec["layers"][-3:]
    spec["layers"][-2]["out"] = int(o["hidden"])
    spec["input_neuron"] = bool(o["inneuron"])
    pop = int(o["pop"])
    spec["layers"][-1]["out"] = 12 * pop

    def scores(out):  # (batch, 12 * pop, T) -> (batch, 12) mean rate of each class's group
        return out.reshape(out.shape[0], 12, pop, -1).mean((2, 3))
    net = build_snn(spec, seed=0)
    opt = torch.optim.Adam(net.parameters(), lr=o["lr"])
    off = np.float32(o["offset"])

    def accuracy(x, y):
        net.eval()
        right, rates = 0, 0
        with torch.no_grad():
            for i in range(0, len(x), 128):
                outs = net(encode_batch(cfg, x[i:i + 128] + off, 0), return_all=True)
                right += int((scores(outs[-1]).argmax(1).numpy() == y[i:i + 128]).sum())
                rates = rates + np.array([float(t.mean()) for t in outs]) * len(outs[-1])
        net.train()
        return right / len(x), (rates / len(x)).round(3).tolist()

    t0, cols, rates = time.time(), [], []
    for ep in range(int(o["epochs"])):
        order = np.random.default_rng(ep).permutation(len(xs))
        for i in range(0, len(xs), int(o["bs"])):
            idx = order[i:i + int(o["bs"])]
            outs = net(encode_batch(cfg, xs[idx] + off, 0), return_all=True)
            loss = F.cross_entropy(scores(outs[-1]) * o["gain"], torch.as_tensor(ys[idx])) \
                + o["pen"] * spike_penalty(outs)
            opt.zero_grad()
            loss.backward()
            opt.step()
            net.clamp_delays()
        if (ep + 1) % max(1, int(o["epochs"]) // 3) == 0:
            tr, rates = accuracy(xs, ys)
            cols.append(f"ep{ep + 1} {tr:.2f}/{accuracy(xv, yv)[0]:.2f}")
    return f"{name:12s} " + "  ".join(cols) + f"  firing {rates}  {time.time() - t0:.0f} s"


def main() -> None:
    variants = sys.argv[1:] or ["base"]
    data = prepare_data(KwsConfig(), progress=False)
    print("variant      train/validation accuracy every 4 epochs, firing per layer at the end")
    for arg in variants:
        name, *kv = arg.split()
        o = dict(BASE)
        for item in kv:
            key, value = item.split("=", 1)
            if key not in BASE:
                raise SystemExit(f"unknown key {key!r} (known: {', '.join(BASE)})")
            o[key] = value if key in ("conv", "stride") else ast.literal_eval(value)
        print(probe(name, o, data), flush=True)


if __name__ == "__main__":
    main()
