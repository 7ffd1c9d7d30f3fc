"""Run every tiny family (``tiny.BUILDERS``) with every speed/memory option and print what ran.

On CUDA: bfloat16, every offload kind, cache, compile kind (inductor), the attention backends diffusers
lists whose packages are present (hub kernels are skipped: no download), quantisation where its package
is installed, and a tiny LoRA. Without CUDA: the CPU subset in float32 (offload, bitsandbytes and the
CUDA attention kernels are skipped, saying why; compile uses the eager backend so it traces without
minutes of inductor codegen). A family refusing an option it cannot take (``OptionError``) is
``skipped`` with the reason; anything else that raises is ``failed``, and the exit status is then 1.

    scripts/gpu-check [--quick] [--families a,b] [--cases plain,lora] [--opt KEY=VALUE] [--steps 2] [--size 64]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore")

import torch  # noqa: E402

from seqedit.engines import OptionError, create  # noqa: E402
from seqedit.engines.base import NullProgress  # noqa: E402
from seqedit.engines.diffusion import loader, tiny  # noqa: E402
from seqedit.plan import make_plan  # noqa: E402
from seqedit.request import EditRequest  # noqa: E402

QUICK_FAMILIES = ("flux2_klein", "instruct_pix2pix")
QUICK_CASES = ("plain", "cache=taylorseer", "compile=regional", "lora")


@dataclass
class Case:
    name: str
    options: dict[str, Any] = field(default_factory=dict)
    skip: str = ""  # why it is not run here ("" = run it)


@dataclass
class Result:
    family: str
    case: str
    status: str  # ok | failed | skipped
    detail: str = ""
    seconds: float = 0.0


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:160]


def attention_cases(cuda: bool) -> list[Case]:
    from diffusers.models.attention_dispatch import AttentionBackendName, _check_attention_backend_requirements

    cases = []
    for backend in AttentionBackendName:
        name = backend.value
        if "hub" in name or name.endswith(("_npu", "_xla")):
            continue  # hub kernels download; NPU/XLA are other accelerators
        case = Case(f"attention={name}", {"attention_backend": name})
        if not cuda and name not in ("native", "_native_math"):
            case.skip = "needs CUDA"
        else:
            try:
                _check_attention_backend_requirements(backend)
            except (RuntimeError, ImportError, ValueError) as exc:
                case.skip = first_line(exc)
        cases.append(case)
    return cases


def cases(cuda: bool) -> list[Case]:
    backend = {} if cuda else {"compile_backend": "eager"}
    out = [Case("plain")]
    for kind in ("model", "group", "sequential"):
        out.append(Case(f"offload={kind}", {"offload": kind}, "" if cuda else "offload is ignored on CPU"))
    out += [
        Case("cache=first_block", {"cache": "first_block"}),
        Case("cache=taylorseer", {"cache": "taylorseer"}),
        Case("cache=magcache", {"cache": "magcache", "cache_ratios": "flux"}),
        Case("compile=regional", {"compile": "regional", **backend}),
        Case("compile=full", {"compile": "full", **backend}),
    ]
    for quant, package in (
        ("bnb_4bit", "bitsandbytes"),
        ("bnb_8bit", "bitsandbytes"),
        ("torchao_int8wo", "torchao"),
        ("torchao_float8wo", "torchao"),
    ):
        skip = "" if importlib.util.find_spec(package) else f"{package} not installed"
        if not skip and package == "bitsandbytes" and not cuda:
            skip = "bitsandbytes needs CUDA"
        out.append(Case(f"quantize={quant}", {"quantize": quant}, skip))
    out.append(Case("lora", {}, "" if importlib.util.find_spec("peft") else "peft not installed"))
    return out + attention_cases(cuda)


def make_lora(family: str, path: Path, out: Path) -> Path:
    """A random LoRA on the denoiser's attention projections, saved in the diffusers LoRA format."""
    import diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    pipe = diffusers.DiffusionPipeline.from_pretrained(str(path))
    name = "transformer" if getattr(pipe, "transformer", None) is not None else "unet"
    denoiser = getattr(pipe, name)
    denoiser.add_adapter(
        LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v"], init_lora_weights=False)
    )
    out.mkdir(parents=True, exist_ok=True)
    type(pipe).save_lora_weights(out, **{f"{name}_lora_layers": get_peft_model_state_dict(denoiser)})
    return out / "pytorch_lora_weights.safetensors"


def run_case(
    family: str, path: Path, case: Case, device: str, dtype: str, steps: int, size: int, extra: dict[str, str]
) -> Result:
    if case.skip:
        return Result(family, case.name, "skipped", case.skip)
    options = {**case.options, **extra}
    started = time.perf_counter()
    try:
        if case.name == "lora":
            options["lora"] = str(make_lora(family, path, path.parent / f"{family}-lora"))
        engine = create(
            "diffusion",
            model=str(path),
            strategy="independent",
            steps=steps,
            device=device,
            dtype=dtype,
            min_pixels=size * size,
            **options,
        )
        plan = make_plan(EditRequest.create(prompt="a mug", images=["r"], size=f"{size}*{size}", max_images=1, seed=0))
        (image,) = engine.generate(plan, tiny.references(1, size), NullProgress())
        assert image.size == (size, size), image.size
        return Result(family, case.name, "ok", seconds=time.perf_counter() - started)
    except OptionError as exc:  # the family refuses what it cannot take: a clear message, by design
        return Result(family, case.name, "skipped", f"refused: {exc.message}"[:160], time.perf_counter() - started)
    except Exception as exc:  # noqa: BLE001 - the table reports every failure
        return Result(family, case.name, "failed", first_line(exc), time.perf_counter() - started)
    finally:
        loader.forget()
        torch._dynamo.reset()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=f"families {QUICK_FAMILIES}, cases {QUICK_CASES} (CI)")
    ap.add_argument("--families", default="", help="comma-separated tiny families (default: all)")
    ap.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    ap.add_argument("--opt", action="append", default=[], metavar="KEY=VALUE", help="an engine option for every case")
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--size", type=int, default=64)
    args = ap.parse_args(argv)

    bad = [o for o in args.opt if "=" not in o]
    if bad:
        print(f"error: --opt takes KEY=VALUE, got {bad[0]!r}", file=sys.stderr)
        return 2
    extra = dict(o.split("=", 1) for o in args.opt)
    cuda = torch.cuda.is_available()
    device, dtype = ("cuda", "bfloat16") if cuda else ("cpu", "float32")
    if not cuda:
        torch.set_num_threads(min(2, os.cpu_count() or 1))
        tiny.shrink_qwen_reference_area(args.size * args.size)  # Qwen resizes references to 1 MP otherwise
    families = [f for f in (args.families.split(",") if args.families else tiny.BUILDERS) if f]
    if args.quick and not args.families:
        families = [f for f in QUICK_FAMILIES if f in tiny.BUILDERS]
    unknown = [f for f in families if f not in tiny.BUILDERS]
    if unknown:
        print(f"error: unknown families {', '.join(unknown)}; known: {', '.join(tiny.BUILDERS)}", file=sys.stderr)
        return 2
    wanted = set(args.cases.split(",")) if args.cases else set(QUICK_CASES) if args.quick else None
    todo = [c for c in cases(cuda) if wanted is None or c.name in wanted]
    where = torch.cuda.get_device_name(0) if cuda else "CPU (the CPU subset)"
    print(f"gpu-check: torch {torch.__version__} on {where}, {dtype}, {args.steps} steps, {args.size}px, 1 panel")

    started = time.perf_counter()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="seqedit-gpu-check-") as root:
        for family in families:
            path = Path(root) / family
            tiny.eval_mode(tiny.BUILDERS[family]()).save_pretrained(path)
            for case in todo:
                result = run_case(family, path, case, device, dtype, args.steps, args.size, extra)
                results.append(result)
                secs = f"{result.seconds:7.2f}s" if result.status != "skipped" or result.seconds else " " * 8
                print(f"{family:<22} {case.name:<28} {result.status:<8} {secs} {result.detail}", flush=True)
    failed = [r for r in results if r.status == "failed"]
    counts = {s: sum(r.status == s for r in results) for s in ("ok", "failed", "skipped")}
    print(
        f"\n{counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} skipped "
        f"in {time.perf_counter() - started:.0f}s"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
