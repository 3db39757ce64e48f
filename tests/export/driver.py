"""Test driver: runs exported moec models (PyTorch) on given weights and inputs and writes
their outputs and gradients, for the TypeScript tests to compare with moec's WebGPU kernels.

usage: python3 driver.py JOBS.json  — a list of
  {"dir": export folder, "what": "layer" | "model", "block": K, "batch": B, "seq": S,
   "inputs": safetensors (weights by name, x or tokens/targets, dy), "out": safetensors to write}
"""
import importlib.util
import json
import sys

import torch


def load_module(folder, name):
    sys.path.insert(0, folder)
    for m in ("moec_support", "model"):
        sys.modules.pop(m, None)
    spec = importlib.util.spec_from_file_location(name, f"{folder}/model.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    sys.path.pop(0)
    return mod


def run(job):
    mod = load_module(job["dir"], "model")
    support = sys.modules["moec_support"]
    tensors, _ = support.read_safetensors(job["inputs"])
    out = {}
    losses = {}
    if job["what"] == "layer":
        layer_class = mod.Model().blocks[job["block"]].moe.__class__
        layer = layer_class("", support.Ranks())
        layer.eval()  # the GPU graphs under test run without training-only noise
        layer.load_state_dict({k: v for k, v in tensors.items() if k in dict(layer.state_dict())}, strict=True)
        x = tensors["x"].clone().requires_grad_(True)
        y = layer(x, job["batch"], job["seq"], losses)
        objective = (y * tensors["dy"]).sum() + sum(losses.values())
        objective.backward()
        out["y"] = y.detach()
        out["grad/x"] = x.grad
        named = layer.named_parameters()
    else:
        model = mod.Model()
        model.eval()
        model.load_state_dict({k: v for k, v in tensors.items() if k in dict(model.state_dict())}, strict=True)
        tokens = tensors["tokens"].long().view(job["batch"], job["seq"])
        targets = tensors["targets"].long().view(job["batch"], job["seq"])
        logits, losses = model(tokens, targets)
        objective = (logits * tensors["dy"]).sum() + sum(losses.values())
        objective.backward()
        out["logits"] = logits.detach()
        named = model.named_parameters()
    for k, v in losses.items():
        out[k] = v.detach().reshape(1)
    for name, p in named:
        if p.grad is not None:
            out[f"grad/{name}"] = p.grad
    with open(job["out"], "wb") as f:
        f.write(support.serialize_safetensors(sorted(out.items())))


if __name__ == "__main__":
    for job in json.load(open(sys.argv[1])):
        run(job)
