"""A Hugging Face folder's model computed the way transformers' Mixtral and Qwen2-MoE code does
(separate q/k/v projections, rotate_half rotary, softmax top-k router, per-expert SwiGLU
w1/w3/w2 or gate/up/down, Qwen2-MoE's sigmoid-gated shared expert and qkv biases), written here
from the families' published definitions, for the test that `moec export --format hf` writes
the same model as the export's model.py. (Checked once against transformers 5.18 itself; see
docs/SCALE.md.)

usage: python3 hf_reference.py EXPORT_DIR CHECKPOINT|- OUT.safetensors
Writes `hf_logits` and `export_logits` [B·S, vocab] for fixed random tokens.
"""
import json
import sys

import torch


def rms(x, w, eps):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], -1)


def forward(cfg, W, tokens):
    B, S = tokens.shape
    d, H = cfg["hidden_size"], cfg["num_attention_heads"]
    D = cfg.get("head_dim") or d // H
    eps = cfg["rms_norm_eps"]
    qwen = cfg["model_type"] == "qwen2_moe"
    inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    ang = torch.arange(S, dtype=torch.float64)[:, None] * inv[None, :]
    emb = torch.cat([ang, ang], -1)
    cos, sin = emb.cos().float(), emb.sin().float()
    x = W["model.embed_tokens.weight"][tokens]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms(x, W[p + "input_layernorm.weight"], eps)

        def proj(name):
            y = h @ W[p + f"self_attn.{name}_proj.weight"].t()
            if qwen:
                y = y + W[p + f"self_attn.{name}_proj.bias"]
            return y.view(B, S, H, D).transpose(1, 2)

        q, k, v = proj("q"), proj("k"), proj("v")
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        att = (q @ k.transpose(-1, -2)) / D**0.5
        att = att.masked_fill(~torch.ones(S, S, dtype=torch.bool).tril(), float("-inf")).softmax(-1)
        o = (att @ v).transpose(1, 2).reshape(B, S, d) @ W[p + "self_attn.o_proj.weight"].t()
        x = x + o
        h = rms(x, W[p + "post_attention_layernorm.weight"], eps)
        x = x + ffn(cfg, W, p, h.reshape(B * S, d), i).view(B, S, d)
    x = rms(x, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else W["lm_head.weight"]
    return (x @ head.t()).reshape(B * S, -1)


def swiglu(x, gate, up, down):
    return (torch.nn.functional.silu(x @ gate.t()) * (x @ up.t())) @ down.t()


def ffn(cfg, W, p, x, layer):
    qwen = cfg["model_type"] == "qwen2_moe"
    if qwen and layer in cfg["mlp_only_layers"]:
        return swiglu(x, W[p + "mlp.gate_proj.weight"], W[p + "mlp.up_proj.weight"], W[p + "mlp.down_proj.weight"])
    m = p + ("mlp." if qwen else "block_sparse_moe.")
    probs = torch.softmax(x @ W[m + "gate.weight"].t(), -1)
    top, idx = torch.topk(probs, cfg["num_experts_per_tok"], -1)
    if not qwen or cfg["norm_topk_prob"]:
        top = top / top.sum(-1, keepdim=True)
    y = torch.zeros_like(x)
    E = cfg["num_experts"] if qwen else cfg["num_local_experts"]
    names = ("gate_proj", "up_proj", "down_proj") if qwen else ("w1", "w3", "w2")
    for e in range(E):
        rows, slot = torch.nonzero(idx == e, as_tuple=True)
        if rows.numel():
            w = [W[m + f"experts.{e}.{n}.weight"] for n in names]
            y.index_add_(0, rows, swiglu(x[rows], *w) * top[rows, slot, None])
    if qwen:
        s = [W[m + f"shared_expert.{n}.weight"] for n in names]
        y = y + torch.sigmoid(x @ W[m + "shared_expert_gate.weight"].t()) * swiglu(x, *s)
    return y


if __name__ == "__main__":
    folder, ckpt, out = sys.argv[1], sys.argv[2], sys.argv[3]
    sys.path.insert(0, folder)
    import moec_support
    import model as exported

    cfg = json.load(open(f"{folder}/hf/config.json"))
    W, _ = moec_support.read_safetensors(f"{folder}/hf/model.safetensors")
    m = exported.Model()
    if ckpt == "-":
        m.initialize()
    else:
        m.load_tensors(moec_support.load_checkpoint(ckpt)[0])
    m.eval()
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, cfg["vocab_size"], (2, cfg["max_position_embeddings"]), generator=g)
    with torch.no_grad():
        ours, _ = m(tokens, tokens)
        theirs = forward(cfg, W, tokens)
    with open(out, "wb") as f:
        f.write(moec_support.serialize_safetensors([("export_logits", ours), ("hf_logits", theirs)]))
