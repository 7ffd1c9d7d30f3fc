"""Shared-anchor attention for Flux-family transformers (FLUX.1 Kontext, FLUX.2).

With the panels of a set in ONE batch, batch item 0 is the anchor (panel 1). In every attention layer
each other item attends to its own keys/values *and* the anchor's (taken after RoPE, so the anchor's
tokens keep their positions) — StyleAligned / ConsiStory-style sharing for DiTs, training-free. The
anchor itself attends only to its own keys/values exactly as the stock processor does, so sharing
never changes panel 1.

Use as a context manager around pipeline calls::

    with shared_anchor(pipe.transformer):
        pipe(prompt=[p1, p2, p3], ...)

The processors are the stock diffusers ones with only the ``dispatch_attention_fn`` call replaced;
the originals are restored on exit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from diffusers.models.attention_dispatch import dispatch_attention_fn
from diffusers.models.embeddings import apply_rotary_emb
from diffusers.models.transformers import transformer_flux as flux
from diffusers.models.transformers import transformer_flux2 as flux2


def attend_with_anchor(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, attention_mask: torch.Tensor | None, processor: Any
) -> torch.Tensor:
    """Attention over (B, S, H, D) tensors where items 1… also see item 0's keys/values."""
    run = lambda q, k, v: dispatch_attention_fn(  # noqa: E731
        q,
        k,
        v,
        attn_mask=attention_mask,
        backend=processor._attention_backend,
        parallel_config=processor._parallel_config,
    )
    batch = query.shape[0]
    if batch == 1 or attention_mask is not None:
        return run(query, key, value)
    own = run(query[:1], key[:1], value[:1])
    rest = batch - 1
    shared_key = torch.cat([key[1:], key[:1].expand(rest, -1, -1, -1)], dim=1)
    shared_value = torch.cat([value[1:], value[:1].expand(rest, -1, -1, -1)], dim=1)
    return torch.cat([own, run(query[1:], shared_key, shared_value)], dim=0)


def _heads_with_rope(
    attn: Any, qkv: tuple[torch.Tensor, ...], encoder_qkv: tuple[Any, ...], image_rotary_emb: Any
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The stock double-stream steps (FLUX.1 and FLUX.2 alike): split heads, QK-norm, text tokens first,
    then RoPE — the keys/values the anchor shares are taken after this, so they keep their positions."""
    query, key, value = qkv
    query = attn.norm_q(query.unflatten(-1, (-1, attn.head_dim)))
    key = attn.norm_k(key.unflatten(-1, (-1, attn.head_dim)))
    value = value.unflatten(-1, (-1, attn.head_dim))
    if attn.added_kv_proj_dim is not None:
        encoder_query, encoder_key, encoder_value = encoder_qkv
        encoder_query = attn.norm_added_q(encoder_query.unflatten(-1, (-1, attn.head_dim)))
        encoder_key = attn.norm_added_k(encoder_key.unflatten(-1, (-1, attn.head_dim)))
        encoder_value = encoder_value.unflatten(-1, (-1, attn.head_dim))
        query = torch.cat([encoder_query, query], dim=1)
        key = torch.cat([encoder_key, key], dim=1)
        value = torch.cat([encoder_value, value], dim=1)
    if image_rotary_emb is not None:
        query = apply_rotary_emb(query, image_rotary_emb, sequence_dim=1)
        key = apply_rotary_emb(key, image_rotary_emb, sequence_dim=1)
    return query, key, value


class SharedAnchorFluxProcessor(flux.FluxAttnProcessor):
    """FLUX.1 (Kontext) double- and single-stream blocks."""

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, image_rotary_emb=None):
        query, key, value, encoder_query, encoder_key, encoder_value = flux._get_qkv_projections(
            attn, hidden_states, encoder_hidden_states
        )
        query, key, value = _heads_with_rope(
            attn, (query, key, value), (encoder_query, encoder_key, encoder_value), image_rotary_emb
        )
        hidden_states = attend_with_anchor(query, key, value, attention_mask, self)
        hidden_states = hidden_states.flatten(2, 3).to(query.dtype)
        if encoder_hidden_states is not None:
            encoder_hidden_states, hidden_states = hidden_states.split_with_sizes(
                [encoder_hidden_states.shape[1], hidden_states.shape[1] - encoder_hidden_states.shape[1]], dim=1
            )
            hidden_states = attn.to_out[1](attn.to_out[0](hidden_states.contiguous()))
            return hidden_states, attn.to_add_out(encoder_hidden_states.contiguous())
        return hidden_states


class SharedAnchorFlux2Processor(flux2.Flux2AttnProcessor):
    """FLUX.2 double-stream blocks."""

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, image_rotary_emb=None):
        query, key, value, encoder_query, encoder_key, encoder_value = flux2._get_qkv_projections(
            attn, hidden_states, encoder_hidden_states
        )
        query, key, value = _heads_with_rope(
            attn, (query, key, value), (encoder_query, encoder_key, encoder_value), image_rotary_emb
        )
        hidden_states = attend_with_anchor(query, key, value, attention_mask, self)
        hidden_states = hidden_states.flatten(2, 3).to(query.dtype)
        if encoder_hidden_states is not None:
            encoder_hidden_states, hidden_states = hidden_states.split_with_sizes(
                [encoder_hidden_states.shape[1], hidden_states.shape[1] - encoder_hidden_states.shape[1]], dim=1
            )
            encoder_hidden_states = attn.to_add_out(encoder_hidden_states)
        hidden_states = attn.to_out[1](attn.to_out[0](hidden_states))
        if encoder_hidden_states is not None:
            return hidden_states, encoder_hidden_states
        return hidden_states


class SharedAnchorFlux2ParallelProcessor(flux2.Flux2ParallelSelfAttnProcessor):
    """FLUX.2 single-stream (fused attention + MLP) blocks."""

    def __call__(self, attn, hidden_states, attention_mask=None, image_rotary_emb=None):
        hidden_states = attn.to_qkv_mlp_proj(hidden_states)
        qkv_dim = 3 * attn.inner_dim
        mlp_dim = attn.mlp_hidden_dim * attn.mlp_mult_factor
        local_qkv = hidden_states.shape[-1] * qkv_dim // (qkv_dim + mlp_dim)
        qkv, mlp_hidden_states = torch.split(hidden_states, [local_qkv, hidden_states.shape[-1] - local_qkv], dim=-1)
        query, key, value = qkv.chunk(3, dim=-1)
        query = attn.norm_q(query.unflatten(-1, (-1, attn.head_dim)))
        key = attn.norm_k(key.unflatten(-1, (-1, attn.head_dim)))
        value = value.unflatten(-1, (-1, attn.head_dim))
        if image_rotary_emb is not None:
            query = apply_rotary_emb(query, image_rotary_emb, sequence_dim=1)
            key = apply_rotary_emb(key, image_rotary_emb, sequence_dim=1)
        hidden_states = attend_with_anchor(query, key, value, attention_mask, self)
        hidden_states = hidden_states.flatten(2, 3).to(query.dtype)
        mlp_hidden_states = attn.mlp_act_fn(mlp_hidden_states)
        return attn.to_out(torch.cat([hidden_states, mlp_hidden_states], dim=-1))


_REPLACEMENTS: dict[type, type] = {
    flux.FluxAttnProcessor: SharedAnchorFluxProcessor,
    flux2.Flux2AttnProcessor: SharedAnchorFlux2Processor,
    flux2.Flux2ParallelSelfAttnProcessor: SharedAnchorFlux2ParallelProcessor,
}


def supports_shared_anchor(transformer: Any) -> bool:
    procs = getattr(transformer, "attn_processors", None)
    return bool(procs) and all(type(p) in _REPLACEMENTS for p in procs.values())


@contextmanager
def shared_anchor(transformer: Any) -> Iterator[None]:
    """Swap every attention processor of ``transformer`` for its shared-anchor twin, then restore."""
    original = dict(transformer.attn_processors)
    unknown = sorted({type(p).__name__ for p in original.values() if type(p) not in _REPLACEMENTS})
    if unknown:
        raise TypeError(f"no shared-anchor version of attention processor(s) {', '.join(unknown)}")
    replaced = {}
    for name, proc in original.items():
        twin = _REPLACEMENTS[type(proc)]()
        twin._attention_backend = proc._attention_backend
        twin._parallel_config = proc._parallel_config
        replaced[name] = twin
    transformer.set_attn_processor(replaced)
    try:
        yield
    finally:
        transformer.set_attn_processor(original)
