"""`npm run bench`'s PyTorch side: times exported moec models on this machine's CPU.

usage: python3 pytorch_bench.py JOBS.json  — a list of
  {"dir": export folder, "what": "layer", "batch": B, "seq": S, "runs": R}   the first MoE layer: forward, forward+backward
  {"dir": export folder, "what": "train", "runs": R}                        a full training step at the spec's batch
Prints one JSON object: torch's version and threads, and per job the timings in ms (median, min, max, runs).
"""
import importlib.util
import json
import sys
import time

import torch


def load(folder):
    for m in ("moec_support", "model", "train"):
        sys.modules.pop(m, None)
    sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location("model", f"{folder}/model.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    train = importlib.util.spec_from_file_location("train", f"{folder}/train.py")
    tmod = importlib.util.module_from_spec(train)
    train.loader.exec_module(tmod)
    sys.path.pop(0)
    return mod, sys.modules["moec_support"], tmod


def timed(fn, runs, warmup=2):
    for _ in range(warmup):
        fn()
    ms = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1000)
    ms.sort()
    return {"median": ms[len(ms) // 2], "min": ms[0], "max": ms[-1], "runs": runs}


def layer_job(job):
    mod, support, _ = load(job["dir"])
    model = mod.Model()
    model.initialize()
    layer = model.moe_layers()[0]
    B, S = job["batch"], job["seq"]
    width = model.embed.weight.shape[1]
    g = torch.Generator().manual_seed(1)
    x = torch.randn(B * S, width, generator=g)
    dy = torch.randn(B * S, width, generator=g)

    def forward():
        with torch.no_grad():
            layer(x, B, S, {})

    def train():
        xr = x.clone().requires_grad_(True)
        losses = {}
        y = layer(xr, B, S, losses)
        ((y * dy).sum() + sum(losses.values(), torch.zeros(()))).backward()

    layer.eval()
    f = timed(forward, job["runs"])
    layer.train()
    t = timed(train, job["runs"])
    return {"forward": f, "train": t, "tokens": B * S}


def train_job(job):
    mod, support, tmod = load(job["dir"])
    cfg = tmod.CONFIG
    model = mod.Model()
    model.initialize()
    model.train()
    trained = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    opt = support.Optimizer(trained, cfg["optimizer"], cfg["clip"])
    data = support.SyntheticCorpus(cfg["seed"])
    B, S, A = cfg["batch"], cfg["context"], cfg["accumulate"]
    state = {"step": 0}

    def step():
        state["step"] += 1
        s = state["step"]
        model.set_step(s)
        for p in model.parameters():
            p.grad = None
        for m in range(A):
            tokens, targets = data.batch("train", (s - 1) * A + m, B, S)
            _, losses = model(tokens, targets)
            (sum(losses.values()) / A).backward()
        opt.step(1e-3, s, opt.grad_norm())
        model.update_state()

    return {"step": timed(step, job["runs"]), "tokens": B * S * A}


if __name__ == "__main__":
    jobs = json.load(open(sys.argv[1]))
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "jobs": []}
    for job in jobs:
        out["jobs"].append(layer_job(job) if job["what"] == "layer" else train_job(job))
    print(json.dumps(out))
