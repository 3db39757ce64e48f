"""Support code of a moec PyTorch export, the same for every spec.

What moec computes outside the model, reproduced so that an exported model
trains as `moec train` does: the seeded random stream (xoshiro128**, the
same numbers as moec's), parameter initialisation, the built-in synthetic
corpus and text files, the learning-rate schedule, the optimizers with
moec's exact semantics, router jitter noise, safetensors files and moec
checkpoints (their metadata and SHA-256 written byte for byte as moec writes
them), and the all-to-all exchange of expert parallelism.

Runs on PyTorch 1.13 and 2.x, CPU or CUDA.
"""

import hashlib
import json
import math
import os
import struct

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn

MASK = 0xFFFFFFFF


# ---------------------------------------------------------------- the random stream

def _imul(a, b):
    return (a * b) & MASK


def _rotl(x, k):
    return ((x << k) | (x >> (32 - k))) & MASK


def hash_string(s):
    """FNV-1a of a name: derives independent streams from names."""
    h = 0x811C9DC5
    for ch in s:
        h ^= ord(ch)
        h = _imul(h, 0x01000193)
    return h


class Rng:
    """moec's seeded generator (xoshiro128**, seeded by splitmix32): the same stream as moec's Rng."""

    def __init__(self, seed, stream=0):
        x = (seed & MASK) ^ _imul(stream & MASK, 0x9E3779B9)
        words = []
        for _ in range(4):
            x = (x + 0x9E3779B9) & MASK
            z = x
            z = _imul(z ^ (z >> 16), 0x85EBCA6B)
            z = _imul(z ^ (z >> 13), 0xC2B2AE35)
            words.append((z ^ (z >> 16)) & MASK)
        if all(w == 0 for w in words):
            words[0] = 1
        self.s = words

    @staticmethod
    def for_name(seed, name):
        return Rng(seed, hash_string(name))

    def next_u32(self):
        s = self.s
        result = _imul(_rotl(_imul(s[1], 5), 7), 9)
        t = (s[1] << 9) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 11)
        return result

    def uniform(self):
        hi = self.next_u32() >> 5
        lo = self.next_u32() >> 6
        return (hi * 67108864 + lo) / 9007199254740992

    def int(self, n):
        return math.floor(self.uniform() * n)

    def normal(self):
        u = 1 - self.uniform()
        v = self.uniform()
        return math.sqrt(-2 * math.log(u)) * math.cos(2 * math.pi * v)


def init_tensor(name, shape, init, seed):
    """A parameter's initial values from its init spec (docs/MODEL.md), rounded to float32 as moec does."""
    n = 1
    for d in shape:
        n *= d
    kind = init["kind"]
    if kind == "zeros":
        out = np.zeros(n, dtype=np.float32)
    elif kind == "ones":
        out = np.ones(n, dtype=np.float32)
    elif kind == "constant":
        out = np.full(n, init["value"], dtype=np.float32)
    else:
        rng = Rng.for_name(seed, name)
        std = init["std"]
        out = np.array([rng.normal() * std for _ in range(n)], dtype=np.float64).astype(np.float32)
    return torch.from_numpy(out.reshape(shape))


# ---------------------------------------------------------------- data

SUB_LANGUAGES = ["arithmetic", "reversal", "repetition", "chatter"]
CHATTER = "!\"#$%&'()*,-/:<>?@[]^_{}~"


def _chatter_table():
    rng = Rng(20261128, 7)
    return [[rng.int(len(CHATTER)) for _ in range(3)] for _ in CHATTER]


_TABLE = _chatter_table()


def _sentence(lang, rng, out):
    if lang == 0:
        a = rng.int(100)
        b = rng.int(100)
        out.extend(f"{a}+{b}={a + b};".encode("ascii"))
    elif lang == 1:
        n = 3 + rng.int(5)
        w = "".join(chr(97 + rng.int(26)) for _ in range(n))
        out.extend(f"{w}|{w[::-1]}.".encode("ascii"))
    elif lang == 2:
        n = 2 + rng.int(4)
        p = "".join(chr(65 + rng.int(26)) for _ in range(n))
        times = 3 + rng.int(4)
        out.extend(f"{p} ".encode("ascii") * times)
    else:
        s = rng.int(len(CHATTER))
        n = 8 + rng.int(16)
        for _ in range(n):
            out.append(ord(CHATTER[s]))
            s = _TABLE[s][rng.int(3)] if rng.uniform() < 0.9 else rng.int(len(CHATTER))
        out.append(10)


def synthesize(lang, rng, length):
    out = []
    skip = rng.int(24)
    while len(out) < length + skip:
        _sentence(lang, rng, out)
    return out[skip : skip + length]


def _pack(seqs, context):
    tokens = torch.tensor([s[:context] for s in seqs], dtype=torch.long)
    targets = torch.tensor([s[1 : context + 1] for s in seqs], dtype=torch.long)
    return tokens, targets


class SyntheticCorpus:
    """moec's built-in corpus: four sub-languages, a pure function of (seed, split, index)."""

    description = "built-in synthetic corpus (arithmetic, reversal, repetition, chatter)"

    def __init__(self, seed):
        self.seed = seed

    def batch(self, split, index, batch, context):
        rng = Rng.for_name(self.seed, f"synthetic/{split}/{index}")
        seqs = [synthesize((b + index) % len(SUB_LANGUAGES), rng, context + 1) for b in range(batch)]
        return _pack(seqs, context)


class TextFile:
    """A UTF-8 text file read byte by byte, its last `validation` fraction held out (moec's --data)."""

    def __init__(self, path, validation, context, seed):
        data = open(path, "rb").read()
        if not data:
            raise ValueError(f"{path} is empty")
        if b"\0" in data:
            raise ValueError(f"{path} looks binary (a NUL byte at offset {data.index(0)})")
        data.decode("utf-8")
        cut = math.floor(len(data) * (1 - validation))
        self.train, self.validation = data[:cut], data[cut:]
        if min(len(self.train), len(self.validation)) < context + 1:
            raise ValueError(f"{path} is too short for one sequence of {context + 1} bytes in both parts")
        self.seed = seed
        self.description = f"{path} ({len(data)} bytes, {len(self.validation)} held out)"

    def batch(self, split, index, batch, context):
        data = self.train if split == "train" else self.validation
        rng = Rng.for_name(self.seed, f"file/{split}/{index}")
        seqs = []
        for _ in range(batch):
            start = rng.int(len(data) - context)
            seqs.append(list(data[start : start + context + 1]))
        return _pack(seqs, context)


# ---------------------------------------------------------------- schedule and optimizers

def learning_rate(peak, warmup, min_lr, kind, step, total):
    """Linear warm-up to the peak, then cosine, linear or constant decay to min_lr x peak (moec's schedule)."""
    if warmup > 0 and step <= warmup:
        return peak * step / warmup
    if kind == "constant":
        return peak
    span = max(1, total - warmup)
    p = min(1, max(0, (step - warmup) / span))
    floor = min_lr * peak
    if kind == "linear":
        return floor + (peak - floor) * (1 - p)
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * p))


def decays(name, shape):
    """Decoupled weight decay applies to tensors of two or more dimensions, except IA3 scales."""
    return len(shape) >= 2 and ".ia3." not in name


class Optimizer:
    """AdamW or SGD with momentum, exactly as moec's kernels apply them: global-norm clipping
    (min(1, clip / (norm + 1e-6))), no update at all when the norm is not finite, decoupled weight
    decay before the step. State tensors are named as in moec checkpoints (`optimizer.NAME/m`)."""

    def __init__(self, named_params, opt, clip):
        self.params = list(named_params)
        self.opt = opt
        self.clip = clip
        self.state = {}
        for name, p in self.params:
            keys = ["m", "v"] if opt["kind"] == "adamw" else ["momentum"]
            for k in keys:
                self.state[f"optimizer.{name}/{k}"] = torch.zeros_like(p, dtype=torch.float32)

    @torch.no_grad()
    def load_state(self, tensors, ranks):
        """Moments from a moec checkpoint's `optimizer.*` tensors (stored flat); sharded experts take this rank's rows."""
        for name, p in self.params:
            sharded = getattr(p, "moec_sharded", False)
            for key in [k for k in self.state if k.startswith(f"optimizer.{name}/")]:
                if key not in tensors:
                    continue
                full = tensors[key].reshape((p.shape[0] * ranks.world, *p.shape[1:]) if sharded else p.shape)
                if sharded:
                    full = full[ranks.rank * p.shape[0] : (ranks.rank + 1) * p.shape[0]]
                self.state[key] = full.clone().to(p.device)

    def full_state(self, ranks):
        """The moments by moec name, flat as moec stores them, sharded experts' gathered from every rank."""
        out = {}
        for name, p in self.params:
            for key in [k for k in self.state if k.startswith(f"optimizer.{name}/")]:
                t = self.state[key]
                out[key] = (ranks.gather(t) if getattr(p, "moec_sharded", False) else t).reshape(-1)
        return out

    def grad_norm(self, extra_square_sum=None):
        total = torch.zeros((), dtype=torch.float32)
        for _, p in self.params:
            if p.grad is not None:
                total = total + (p.grad.float() * p.grad.float()).sum()
        if extra_square_sum is not None:
            total = extra_square_sum(total)
        return torch.sqrt(total)

    @torch.no_grad()
    def step(self, lr, step, norm):
        if not bool(torch.isfinite(norm)):
            return False
        scale = min(1.0, self.clip / (float(norm) + 1e-6)) if self.clip > 0 else 1.0
        o = self.opt
        c1 = 1 - o["beta1"] ** step
        c2 = 1 - o["beta2"] ** step
        for name, p in self.params:
            if p.grad is None:
                continue
            g = p.grad * scale
            if o["kind"] == "adamw":
                if decays(name, p.shape) and o["weight_decay"] > 0:
                    p.mul_(1 - lr * o["weight_decay"])
                m = self.state[f"optimizer.{name}/m"]
                v = self.state[f"optimizer.{name}/v"]
                m.mul_(o["beta1"]).add_(g, alpha=1 - o["beta1"])
                v.mul_(o["beta2"]).add_(g * g, alpha=1 - o["beta2"])
                p.sub_(lr * (m / c1) / (torch.sqrt(v / c2) + o["eps"]))
            else:
                if decays(name, p.shape) and o["weight_decay"] > 0:
                    p.mul_(1 - lr * o["weight_decay"])
                b = self.state[f"optimizer.{name}/momentum"]
                b.mul_(o["momentum"]).add_(g)
                p.sub_(lr * b)
        return True


# ---------------------------------------------------------------- router jitter

def _pcg(v):
    s = (v * np.uint32(747796405) + np.uint32(2891336453)).astype(np.uint32)
    w = (((s >> ((s >> np.uint32(28)) + np.uint32(4))) ^ s) * np.uint32(277803737)).astype(np.uint32)
    return (w >> np.uint32(22)) ^ w


def jitter_noise(seed, step, rows, width, eps, row0=0):
    """The multiplicative router-input noise of a training step, U(1 - eps, 1 + eps) from the PCG
    hash of (seed, step, token, channel), in float32 as moec's kernels compute it."""
    with np.errstate(over="ignore"):
        t = np.arange(row0, row0 + rows, dtype=np.uint32)[:, None]
        c = np.arange(width, dtype=np.uint32)[None, :]
        h = _pcg(np.uint32(seed) ^ _pcg(np.uint32(step) ^ _pcg(t * np.uint32(width) + c)))
    unit = (h >> np.uint32(8)).astype(np.float32) / np.float32(16777216.0)
    return torch.from_numpy(np.float32(1 - eps) + np.float32(2 * eps) * unit)


# ---------------------------------------------------------------- safetensors and moec checkpoints

def _js_number(x):
    """A number as JavaScript's JSON.stringify writes it (so checksums over JSON text agree)."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    if x != x or x in (float("inf"), float("-inf")):
        return "null"
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    r = repr(abs(x))
    mant, _, exp = r.partition("e")
    whole, _, frac = mant.partition(".")
    digits = (whole + frac).lstrip("0")
    # value = 0.DIGITS x 10^n
    n = (len(whole.lstrip("0")) if whole.strip("0") else -(len(frac) - len(frac.lstrip("0")))) + (int(exp) if exp else 0)
    digits = digits.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    es = f"e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + (digits if k == 1 else digits[0] + "." + digits[1:]) + es


def js_json(v):
    """JSON text exactly as JavaScript's JSON.stringify(v) writes it."""
    if v is None:
        return "null"
    if isinstance(v, (bool, int, float)):
        return _js_number(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(js_json(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(json.dumps(str(k), ensure_ascii=False) + ":" + js_json(x) for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {type(v).__name__} as JSON")


_DTYPES = {"F32": (torch.float32, np.float32), "I32": (torch.int32, np.int32)}


def read_safetensors(path):
    """(tensors by name, metadata) of a safetensors file; float32 and int32 tensors."""
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, e in header.items():
        if e["dtype"] not in _DTYPES:
            raise ValueError(f"{path}: tensor {name} is {e['dtype']}; moec files hold F32 and I32")
        b, end = e["data_offsets"]
        arr = np.frombuffer(raw[8 + n + b : 8 + n + end], dtype=_DTYPES[e["dtype"]][1]).reshape(e["shape"])
        tensors[name] = torch.from_numpy(arr.copy())
    return tensors, meta


def serialize_safetensors(tensors, metadata=None):
    """Bytes of a safetensors file, laid out as moec writes them (header in the given order, space-padded to 8 bytes)."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    blobs = []
    offset = 0
    for name, t in tensors:
        t = t.detach().cpu().contiguous()
        dtype = "I32" if t.dtype == torch.int32 else "F32"
        data = t.to(_DTYPES[dtype][0]).numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    encoded = js_json(header).encode("utf-8")
    encoded += b" " * ((8 - (8 + len(encoded)) % 8) % 8)
    return struct.pack("<Q", len(encoded)) + encoded + b"".join(blobs)


def checkpoint_checksum(record, tensors):
    """moec's checkpoint checksum: SHA-256 over the record's JSON and every tensor (by name) with its dtype and shape."""
    h = hashlib.sha256(js_json({k: v for k, v in record.items() if k != "checksum"}).encode("utf-8"))
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        dtype = "I32" if t.dtype == torch.int32 else "F32"
        h.update(f"\n{name} {dtype} {'x'.join(str(s) for s in t.shape)}\n".encode("utf-8"))
        h.update(t.to(_DTYPES[dtype][0]).numpy().tobytes())
    return "sha256:" + h.hexdigest()


def load_checkpoint(path):
    """(tensors, record) of a moec checkpoint, its checksum verified."""
    tensors, meta = read_safetensors(path)
    if "moec" not in meta:
        raise ValueError(f"{path} has no moec metadata: a safetensors file, but not a moec checkpoint")
    record = json.loads(meta["moec"])
    if record.get("checksum") is not None and record["checksum"] != checkpoint_checksum(record, tensors):
        raise ValueError(f"{path} is corrupt: its data does not match the checksum in its metadata")
    return tensors, record


def checkpoint_tensors(parameter_names, full):
    """The tensors of a checkpoint in moec's order: the model's (`parameter_names`), then each one's optimizer moments."""
    names = list(parameter_names) + [f"optimizer.{n}/{k}" for n in parameter_names for k in ("m", "v", "momentum")]
    return {n: full[n].detach().cpu() for n in names if n in full}


def save_checkpoint(path, tensors, record):
    """Writes a moec checkpoint atomically (temp file, fsync, rename), its checksum in the metadata."""
    items = list(tensors.items())
    sealed = dict(record)
    sealed.pop("checksum", None)
    sealed["checksum"] = checkpoint_checksum(sealed, dict(items))
    data = serialize_safetensors(items, {"moec": js_json(sealed)})
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# ---------------------------------------------------------------- expert parallelism

class AllToAll(torch.autograd.Function):
    """all_to_all_single with uneven splits; its backward sends the gradients back with the splits swapped."""

    @staticmethod
    def forward(ctx, x, send, recv):
        ctx.send, ctx.recv = send, recv
        out = x.new_empty((sum(recv),) + tuple(x.shape[1:]))
        dist.all_to_all_single(out, x.contiguous(), output_split_sizes=recv, input_split_sizes=send)
        return out

    @staticmethod
    def backward(ctx, grad):
        back = grad.new_empty((sum(ctx.send),) + tuple(grad.shape[1:]))
        dist.all_to_all_single(back, grad.contiguous(), output_split_sizes=ctx.send, input_split_sizes=ctx.recv)
        return back, None, None


def all_to_all(x, send, recv):
    return AllToAll.apply(x, list(send), list(recv))


def all_gather_cat(x):
    """Every rank's `x` concatenated along dim 0, in rank order (not differentiated: routing tables and counts)."""
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, 0)


# ---------------------------------------------------------------- parameters by moec name

def declare(module, path, value, how, sharded=False):
    """Registers a parameter ('param', 'frozen') or buffer under a dotted moec name, creating the containers on the way."""
    *parents, leaf = path.split(".")
    m = module
    for part in parents:
        if part not in m._modules:
            m.add_module(part, nn.Module())
        m = m._modules[part]
    if how == "buffer":
        m.register_buffer(leaf, value)
        return
    p = nn.Parameter(value, requires_grad=how == "param")
    p.moec_sharded = sharded
    m.register_parameter(leaf, p)


def _named(model):
    return list(model.named_parameters()) + list(model.named_buffers())


@torch.no_grad()
def load_tensors(model, tensors, ranks):
    """Sets every parameter and buffer from full tensors by moec name; sharded experts take this rank's rows."""
    for name, t in _named(model):
        if name not in tensors:
            raise KeyError(f"no tensor {name}")
        full = tensors[name].to(t.dtype)
        if getattr(t, "moec_sharded", False):
            per = full.shape[0] // ranks.world
            full = full[ranks.rank * per : (ranks.rank + 1) * per]
        if tuple(full.shape) != tuple(t.shape):
            raise ValueError(f"{name} is {list(full.shape)}, the model has {list(t.shape)}")
        t.copy_(full)


def full_tensors(model, ranks):
    """Every parameter and buffer by moec name, sharded experts gathered from all ranks."""
    out = {}
    for name, t in _named(model):
        out[name] = ranks.gather(t.detach()) if getattr(t, "moec_sharded", False) else t.detach()
    return out


def rank_within(key, order=None):
    """The rank of each element among the elements with the same key, counted in `order` (default: index order)."""
    n = key.numel()
    idx = torch.arange(n, device=key.device)
    if order is None:
        order = idx
    k = key[order]
    by_key = torch.sort(k, stable=True).indices  # equal keys together, `order` kept within each
    sorted_keys = k[by_key]
    starts = torch.ones(n, dtype=torch.bool, device=key.device)
    starts[1:] = sorted_keys[1:] != sorted_keys[:-1]
    group_start = torch.cummax(torch.where(starts, idx, torch.zeros_like(idx)), 0).values
    rank = torch.empty_like(idx)
    rank[order[by_key]] = idx - group_start
    return rank


class Ranks:
    """One process: every exchange between ranks is the identity."""

    world = 1
    rank = 0

    def gather(self, t):
        return t

    def mine(self, t):
        return t

    def sum(self, t):
        return t

    def row0(self, n):
        return 0


class DistRanks(Ranks):
    """torch.distributed ranks (gloo on CPU, nccl on GPU): each holds B/world sequences of every micro-batch."""

    def __init__(self):
        self.world = dist.get_world_size()
        self.rank = dist.get_rank()

    def gather(self, t):
        return all_gather_cat(t)

    def mine(self, t):
        n = t.shape[0] // self.world
        return t[self.rank * n : (self.rank + 1) * n]

    def sum(self, t):
        t = t.clone()
        dist.all_reduce(t)
        return t

    def row0(self, n):
        return self.rank * n


def expert_parallel(x, slot_token, offsets, ranks, expert):
    """Routed experts sharded over ranks: this rank's tokens' rows go to the ranks that own their experts
    (all_to_all_single, uneven splits), each rank runs its experts on the rows it received, and the
    results come back the same way (the backward swaps the splits). `slot_token` and `offsets` are the
    tables of every rank's tokens; returns the rows of the whole micro-batch with this rank's filled in."""
    world, me, n = ranks.world, ranks.rank, x.shape[0]
    experts = offsets.numel() - 1
    per = experts // world
    rows = int(offsets[-1])
    expert_of_row = torch.repeat_interleave(torch.arange(experts, device=x.device), offsets[1:] - offsets[:-1])
    owner = expert_of_row // per
    source = slot_token // n
    mine = (source == me).nonzero().squeeze(1)
    send = mine[torch.sort(owner[mine], stable=True).indices]
    ours = (owner == me).nonzero().squeeze(1)
    recv = ours[torch.sort(source[ours], stable=True).indices]
    send_counts = torch.bincount(owner[send], minlength=world).tolist()
    recv_counts = torch.bincount(source[recv], minlength=world).tolist()
    inputs = all_to_all(x[slot_token[send] - me * n], send_counts, recv_counts)
    local = expert_of_row[recv] - me * per
    by_expert = torch.sort(local, stable=True).indices
    pieces = [expert(inputs[by_expert][local[by_expert] == e], e) for e in range(per)]
    done = torch.cat(pieces + [x.new_zeros(0, x.shape[1])])
    results = torch.empty_like(done)
    results = results.index_copy(0, by_expert, done)
    back = all_to_all(results, recv_counts, send_counts)
    return x.new_zeros(rows, x.shape[1]).index_copy(0, send, back)
