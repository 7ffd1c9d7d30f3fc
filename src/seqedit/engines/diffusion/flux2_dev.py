"""FLUX.2 [dev] (``Flux2Pipeline``): the open-weight FLUX.2 base model, up to 6 references as a list.

The same transformer family and call as FLUX.2 [klein] (``flux2_klein.py``), with a Mistral-3 text encoder
whose hidden layers 10, 20 and 30 are stacked into the prompt embedding (chosen here, as for klein, from the
transformer's ``joint_attention_dim``). Guidance-distilled: ``guidance_scale`` is an embedded guidance value,
one transformer pass per step; 50 steps and guidance 4 are the pipeline's defaults. BFL recommends at most 6
references for [dev] (their API models take more). The pipeline resizes a reference above 1 MP down to 1 MP.
Native sizes 256²–2048² (FLUX.2 is trained up to 4 MP), sides multiple of 16. Prompts batch (one set of
references for every prompt), and the FLUX.2 blocks take the shared-anchor processors (attention.py).
Licence: FLUX [dev] Non-Commercial License.
"""

from __future__ import annotations

from seqedit.engines.diffusion.flux2_klein import Flux2Klein


class Flux2Dev(Flux2Klein):
    family = "flux2_dev"
    label = "FLUX.2 [dev]"
    pipeline_classes = ("Flux2Pipeline",)
    max_refs = 6
    batchable = True
    shared_attention = True
    licence = "FLUX [dev] Non-Commercial License (non-commercial)"
    checkpoints = ("black-forest-labs/FLUX.2-dev",)

    @property
    def distilled(self) -> bool:
        return False  # guidance-distilled, not step-distilled: the full schedule

    def default_steps(self) -> int:
        return 50

    def default_guidance(self) -> float:
        return 4.0
