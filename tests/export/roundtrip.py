"""Checkpoint round trip through an export: reads a moec checkpoint into the exported model and
optimizer (on WORLD processes, experts sharded over them), gathers everything back and writes it
with the same record. The bytes must equal the input's.

usage: python3 roundtrip.py EXPORT_DIR IN.safetensors OUT.safetensors WORLD PORT
"""
import os
import sys

import torch.distributed as dist
import torch.multiprocessing as mp


def run(rank, folder, src, dst, world, port):
    sys.path.insert(0, folder)
    import moec_support
    import model as exported
    import train

    if world > 1:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    ranks = moec_support.DistRanks() if world > 1 else moec_support.Ranks()
    tensors, record = moec_support.load_checkpoint(src)
    m = exported.Model(ranks)
    m.load_tensors({k: v for k, v in tensors.items() if not k.startswith("optimizer.")})
    trained = [(n, p) for n, p in m.named_parameters() if p.requires_grad]
    opt = moec_support.Optimizer(trained, train.CONFIG["optimizer"], train.CONFIG["clip"])
    opt.load_state(tensors, ranks)
    full = {**m.full_tensors(), **opt.full_state(ranks)}
    if ranks.rank == 0:
        moec_support.save_checkpoint(dst, moec_support.checkpoint_tensors(exported.PARAMETERS, full), record)
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    folder, src, dst, world, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    if world > 1:
        mp.spawn(run, args=(folder, src, dst, world, port), nprocs=world)
    else:
        run(0, folder, src, dst, 1, port)
