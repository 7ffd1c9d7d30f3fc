"""Speed and memory options, applied to a loaded pipeline: one function per kind.

    speed = Speed.of(options)                  # the hashable part of DiffusionOptions that loading needs
    speed.check(model_index)                   # when the engine is built: packages, files, family (no torch)
    pipe = from_pretrained(..., quantization_config=quantization(speed, dtype))
    lora(pipe, speed); cache(pipe, speed, steps); offload(pipe, ...); compile_denoiser(pipe, speed)

``check`` runs in ``DiffusionEngine.__init__`` so a bad combination stops ``serve`` at start (exit 2)
instead of failing the first job; the functions that touch the pipeline raise the same ``OptionError``
for what only the loaded pipeline can tell (a denoiser without ``enable_cache``). Exact options:
``offload``, ``compile`` (up to kernel rounding), ``lora`` (it changes the model on purpose).
Approximate: ``cache`` (skips or extrapolates denoiser work) and ``quantize`` (rounds weights).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqedit.engines.base import OptionError
from seqedit.engines.diffusion.options import DiffusionOptions

# quantize value -> (diffusers quant_backend, the package it needs, how to install it)
QUANT_BACKENDS = {
    "bnb_4bit": ("bitsandbytes_4bit", "bitsandbytes", "pip install bitsandbytes"),
    "bnb_8bit": ("bitsandbytes_8bit", "bitsandbytes", "pip install bitsandbytes"),
    "torchao_int8wo": ("torchao", "torchao", "pip install torchao"),
    "torchao_float8wo": ("torchao", "torchao", "pip install torchao"),
}
DENOISERS = ("transformer", "unet")
MAG_RATIOS_NAMED = ("flux", "calibrate")


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


@dataclass(frozen=True)
class Speed:
    """What loading needs of the speed and memory options; frozen and hashable (``loader.shared`` key)."""

    offload_group_type: str = "block_level"
    offload_group_blocks: int = 1
    offload_stream: bool = False
    cache: str = "none"
    cache_threshold: float | None = None
    cache_interval: int | None = None
    cache_warmup: int | None = None
    cache_ratios: str = ""
    quantize: str = "none"
    quantize_components: tuple[str, ...] = ()
    compile: str = "none"
    compile_backend: str = "inductor"
    lora: tuple[str, ...] = ()
    lora_scale: float = 1.0
    steps: int | None = None  # magcache only (its ratios are per step): the run's steps; None: the family's

    @classmethod
    def of(cls, opts: DiffusionOptions, steps: int | None = None) -> Speed:
        return cls(
            offload_group_type=opts.offload_group_type,
            offload_group_blocks=opts.offload_group_blocks,
            offload_stream=opts.offload_stream,
            cache=opts.cache,
            cache_threshold=opts.cache_threshold,
            cache_interval=opts.cache_interval,
            cache_warmup=opts.cache_warmup,
            cache_ratios=opts.cache_ratios.strip(),
            quantize=opts.quantize,
            quantize_components=_split(opts.quantize_components),
            compile=opts.compile,
            compile_backend=opts.compile_backend.strip() or "inductor",
            lora=_split(opts.lora),
            lora_scale=opts.lora_scale,
            steps=steps if opts.cache == "magcache" else None,  # else engines differing in steps share a pipeline
        )

    def pixels(self) -> dict[str, Any]:
        """The options that change pixels (for a record of the run)."""
        out: dict[str, Any] = {}
        if self.cache != "none":
            out.update(cache=self.cache, cache_threshold=self.cache_threshold, cache_ratios=self.cache_ratios)
            out.update(cache_interval=self.cache_interval, cache_warmup=self.cache_warmup)
        if self.quantize != "none":
            out.update(quantize=self.quantize, quantize_components=list(self.quantize_components))
        if self.lora:
            out.update(lora=list(self.lora), lora_scale=self.lora_scale)
        return out

    # --- when the engine is built (no torch) -------------------------------------------------
    def check(self, index: dict[str, Any] | None = None) -> None:
        """Everything that can be told without loading: the backend package, the LoRA files and peft, the
        MagCache ratios, and (with the model's ``model_index.json``) which components the family has."""
        self._check_cache()
        self._check_quantize()
        self._check_lora()
        if index is not None:
            self._check_family(index)

    def _check_cache(self) -> None:
        if self.cache != "magcache":
            return
        if not self.cache_ratios:
            raise OptionError(
                "cache=magcache needs cache_ratios: the checkpoint's magnitude ratios (comma-separated numbers, "
                "e.g. from a run with cache_ratios=calibrate), or cache_ratios=flux for FLUX.1 [dev]/[schnell]",
                option="cache_ratios",
            )
        if self.cache_ratios not in MAG_RATIOS_NAMED:
            try:
                ratios = [float(x) for x in _split(self.cache_ratios)]
            except ValueError:
                ratios = []
            if len(ratios) < 2:
                raise OptionError(
                    f"cache_ratios must be flux, calibrate or at least 2 comma-separated numbers, "
                    f"got {self.cache_ratios!r}",
                    option="cache_ratios",
                )

    def _check_quantize(self) -> None:
        if self.quantize == "none":
            return
        _, package, install = QUANT_BACKENDS[self.quantize]
        if importlib.util.find_spec(package) is None:
            raise OptionError(
                f"quantize={self.quantize} needs the {package} package, which is not installed (`{install}`)",
                option="quantize",
            )

    def _check_lora(self) -> None:
        if not self.lora:
            return
        for path in self.lora:
            file = Path(path).expanduser()
            if not file.is_file():
                raise OptionError(f"lora file {path} does not exist (lora takes local files)", option="lora")
        if importlib.util.find_spec("peft") is None:
            raise OptionError("lora needs the peft package, which is not installed (`pip install peft`)", option="lora")

    def _check_family(self, index: dict[str, Any]) -> None:
        components = {k for k, v in index.items() if not k.startswith("_") and isinstance(v, list) and v[0]}
        name = index.get("_class_name", "this pipeline")
        if self.cache != "none" and "transformer" not in components:
            raise OptionError(
                f"cache={self.cache} needs a transformer denoiser (diffusers enable_cache); {name} has a UNet: "
                "use cache=none",
                option="cache",
            )
        unknown = [c for c in self.quantize_components if c not in components]
        if unknown:
            raise OptionError(
                f"quantize_components: {name} has no {', '.join(unknown)}; its components: "
                f"{', '.join(sorted(components))}",
                option="quantize_components",
            )


# --- applied while loading --------------------------------------------------------------------
def denoiser(pipe: Any) -> Any:
    for name in DENOISERS:
        module = getattr(pipe, name, None)
        if module is not None:
            return module
    raise OptionError(f"{type(pipe).__name__} has no transformer or unet", option="cache")


def quantization(speed: Speed, dtype: str, index: dict[str, Any]) -> Any:
    """The ``PipelineQuantizationConfig`` for ``from_pretrained``, or None. ``index``: model_index.json.
    bitsandbytes goes by ``quant_backend``; torchao's diffusers and transformers configs differ in their
    signatures, so it goes by ``quant_mapping`` (each component gets its own library's config)."""
    if speed.quantize == "none":
        return None
    speed._check_quantize()
    import torch
    from diffusers import PipelineQuantizationConfig

    components = {k: v[0] for k, v in index.items() if not k.startswith("_") and isinstance(v, list) and v[0]}
    wanted = list(speed.quantize_components) or [c for c in DENOISERS if c in components][:1]
    backend, _, _ = QUANT_BACKENDS[speed.quantize]
    if speed.quantize == "bnb_4bit":
        kwargs = {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4", "bnb_4bit_compute_dtype": getattr(torch, dtype)}
        return PipelineQuantizationConfig(quant_backend=backend, quant_kwargs=kwargs, components_to_quantize=wanted)
    if speed.quantize == "bnb_8bit":
        kwargs = {"load_in_8bit": True}
        return PipelineQuantizationConfig(quant_backend=backend, quant_kwargs=kwargs, components_to_quantize=wanted)
    from diffusers import TorchAoConfig as DiffusersTorchAo
    from torchao.quantization import Float8WeightOnlyConfig, Int8WeightOnlyConfig
    from transformers import TorchAoConfig as TransformersTorchAo

    kind = Int8WeightOnlyConfig if speed.quantize == "torchao_int8wo" else Float8WeightOnlyConfig
    mapping = {
        name: (TransformersTorchAo if components[name] == "transformers" else DiffusersTorchAo)(quant_type=kind())
        for name in wanted
    }
    return PipelineQuantizationConfig(quant_mapping=mapping)


def lora(pipe: Any, speed: Speed) -> list[str]:
    """Load every LoRA file as its own adapter (``lora0``, ``lora1``, …) at ``lora_scale``; the names."""
    if not speed.lora:
        return []
    speed._check_lora()
    if not hasattr(pipe, "load_lora_weights"):
        raise OptionError(f"{type(pipe).__name__} cannot load LoRA weights", option="lora")
    names = []
    for i, path in enumerate(speed.lora):
        file = Path(path).expanduser()
        name = f"lora{i}"
        try:
            pipe.load_lora_weights(str(file.parent), weight_name=file.name, adapter_name=name)
        except (ValueError, KeyError, RuntimeError, OSError) as exc:
            raise OptionError(f"lora {path} cannot be loaded into {type(pipe).__name__}: {exc}", option="lora") from exc
        names.append(name)
    pipe.set_adapters(names, adapter_weights=[speed.lora_scale] * len(names))
    return names


def cache_config(speed: Speed, steps: int) -> Any:
    """The diffusers cache config for ``speed.cache`` (``steps``: the run's step count), or None."""
    if speed.cache == "none":
        return None
    speed._check_cache()
    from diffusers import FirstBlockCacheConfig, MagCacheConfig, TaylorSeerCacheConfig

    if speed.cache == "first_block":
        return FirstBlockCacheConfig(threshold=speed.cache_threshold or 0.05)
    if speed.cache == "taylorseer":
        kwargs: dict[str, Any] = {}
        if speed.cache_interval is not None:
            kwargs["cache_interval"] = speed.cache_interval
        if speed.cache_warmup is not None:
            kwargs["disable_cache_before_step"] = speed.cache_warmup
        return TaylorSeerCacheConfig(**kwargs)
    threshold = speed.cache_threshold or 0.06
    if speed.cache_ratios == "calibrate":
        return MagCacheConfig(threshold=threshold, num_inference_steps=steps, calibrate=True)
    if speed.cache_ratios == "flux":
        from diffusers.hooks.mag_cache import FLUX_MAG_RATIOS

        ratios = FLUX_MAG_RATIOS.tolist()
    else:
        ratios = [float(x) for x in _split(speed.cache_ratios)]
    return MagCacheConfig(threshold=threshold, num_inference_steps=steps, mag_ratios=ratios)


def _blocks(module: Any) -> list[Any]:
    """The denoiser's transformer blocks in order, as diffusers' cache hooks find them."""
    import torch
    from diffusers.hooks._common import _ALL_TRANSFORMER_BLOCK_IDENTIFIERS

    return [
        block
        for name, child in module.named_children()
        if name in _ALL_TRANSFORMER_BLOCK_IDENTIFIERS and isinstance(child, torch.nn.ModuleList)
        for block in child
    ]


def _cache_refusal(pipe: Any, module: Any, kind: str) -> str:
    """Why diffusers' ``kind`` cache cannot run on this pipeline, or "" when it can."""

    if not hasattr(module, "enable_cache"):
        return f"the {type(module).__name__} of {type(pipe).__name__} has no step cache (diffusers enable_cache)"
    if kind == "first_block":
        from diffusers.hooks._helpers import TransformerBlockRegistry

        blocks = _blocks(module)
        if len(blocks) >= 2:
            head, tail = (TransformerBlockRegistry.get(type(b)) for b in (blocks[0], blocks[-1]))
            if (head.return_encoder_hidden_states_index is None) != (tail.return_encoder_hidden_states_index is None):
                # diffusers 0.42.1 subtracts the head block's (hidden, encoder) pair from a tail block that
                # returns one tensor: a TypeError at the first step (FLUX.2's single-stream blocks)
                return (
                    f"diffusers' first-block cache cannot run {type(module).__name__}: its first and last blocks "
                    "return different outputs"
                )
    return ""


def cache(pipe: Any, speed: Speed, steps: int) -> None:
    config = cache_config(speed, steps)
    if config is None:
        return
    module = denoiser(pipe)
    refusal = _cache_refusal(pipe, module, speed.cache)
    if refusal:
        usable = "cache=none" if not hasattr(module, "enable_cache") else "another cache, or cache=none"
        raise OptionError(f"cache={speed.cache}: {refusal}; use {usable}", option="cache")
    module.enable_cache(config)
    if not names_its_calls(pipe):
        name_calls(module)
    fresh_state_per_call(pipe, module)


def fresh_state_per_call(pipe: Any, module: Any) -> None:
    """Reset the cache hooks' state when a pipeline call starts. Pipelines reset it when they finish, but
    a run cancelled from its step callback never finishes, and the next run would start from the dead
    run's step count and residuals. A call starts with ``scheduler.set_timesteps``, which makes a new
    ``timesteps`` tensor: the first denoiser call that sees a new one resets (once, before CFG's second
    call of the same step). Reads diffusers' hook registry (private names of the pinned 0.42.1)."""
    from diffusers.hooks.hooks import HookRegistry, StateManager, _set_cache_context

    seen: list[Any] = [None]

    def context_of(mod: Any) -> Any:
        registry = HookRegistry.check_if_exists_or_initialize(mod)
        for child in (registry, *registry._get_child_registries()):
            for hook in child.hooks.values():
                for attr in vars(hook).values():
                    if isinstance(attr, StateManager) and attr._context is not None:
                        return attr._context
        return None

    def reset_if_new_call(mod: Any, args: Any) -> None:
        timesteps = getattr(pipe.scheduler, "timesteps", None)
        if timesteps is not seen[0]:
            seen[0] = timesteps
            context = context_of(mod)  # the pipeline's cache_context for this call: resetting clears it
            mod._reset_stateful_cache()
            if context is not None:
                _set_cache_context(mod, context)

    module.register_forward_pre_hook(reset_if_new_call)


def names_its_calls(pipe: Any) -> bool:
    """Whether the pipeline wraps each denoiser call in ``cache_context`` ("cond"/"uncond"), which the
    first-block and TaylorSeer hooks need (FLUX.1 Kontext's and the klein KV pipeline's calls do not)."""
    import inspect

    return "cache_context" in inspect.getsource(type(pipe).__call__)


def name_calls(module: Any) -> None:
    """Run every call of ``module`` in ``cache_context("cond")``: for a pipeline that names none of its
    calls (so there is one kind of call, and no context to clash with)."""

    def enter(mod: Any, args: Any, kwargs: Any) -> None:
        mod._seqedit_cache_context = mod.cache_context("cond")
        mod._seqedit_cache_context.__enter__()

    def leave(mod: Any, args: Any, kwargs: Any, output: Any) -> None:
        context = mod.__dict__.pop("_seqedit_cache_context", None)
        if context is not None:
            context.__exit__(None, None, None)

    module.register_forward_pre_hook(enter, with_kwargs=True)
    module.register_forward_hook(leave, with_kwargs=True, always_call=True)


def offload(pipe: Any, kind: str, device: str, speed: Speed) -> None:
    """Place the pipeline: on ``device`` (none), or offloaded to the CPU by ``kind``."""
    if kind == "none":
        pipe.to(device)
    elif kind == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif kind == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    elif kind == "group":
        import torch

        blocks = speed.offload_group_blocks if speed.offload_group_type == "block_level" else None
        pipe.enable_group_offload(
            onload_device=torch.device(device),
            offload_device=torch.device("cpu"),
            offload_type=speed.offload_group_type,
            num_blocks_per_group=blocks,
            use_stream=speed.offload_stream,
        )
    else:
        raise OptionError(f"unknown offload {kind!r}; choose one of none, model, group, sequential", option="offload")


def compile_denoiser(pipe: Any, speed: Speed) -> None:
    """``torch.compile`` the denoiser's repeated blocks (regional) or all of it (full). Lazy: nothing is
    compiled until the first call."""
    if speed.compile == "none":
        return
    module = denoiser(pipe)
    if speed.compile == "regional":
        if not getattr(module, "_repeated_blocks", None):
            raise OptionError(
                f"compile=regional: {type(module).__name__} declares no repeated blocks; use compile=full",
                option="compile",
            )
        module.compile_repeated_blocks(fullgraph=True, backend=speed.compile_backend)
    else:
        module.compile(backend=speed.compile_backend)
