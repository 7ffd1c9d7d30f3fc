"""The model registry: a model id in the URL → its input schema → what the engine must be able to do.

Unknown model ids are a 404. Each entry turns the protocol body into the protocol-neutral
``EditRequest`` (unknown fields are ignored; explicit ``null`` counts as absent).

``ARK_MODELS``: the Ark protocol's model ids (``api.ark``; the ``model`` field of its body), each run
by the configured engine, as BytePlus ModelArk and Volcengine Ark name their Seedream releases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from seqedit.request import EditRequest

__all__ = ["ARK_MODELS", "ModelSpec", "MODELS", "get_model"]


@dataclass(frozen=True)
class ModelSpec:
    id: str
    description: str
    capability: str  # what the engine must do for it ("edit": references + instruction → panels)
    fixed_count: int | None = None  # the model always returns this many images (max_images ignored)

    def parse(self, body: dict[str, Any]) -> EditRequest:
        def get(name: str, default: Any = None) -> Any:
            value = body.get(name)
            return default if value is None else value

        return EditRequest.create(
            prompt=body.get("prompt"),
            images=body.get("images"),
            size=get("size"),
            max_images=self.fixed_count if self.fixed_count is not None else get("max_images", 1),
            seed=get("seed"),
            output_format=get("output_format", "jpeg"),
        )

    def schema(self) -> dict[str, Any]:
        props: dict[str, Any] = {
            "prompt": {"type": "string"},
            "images": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 10},
            "size": {"type": "string", "description": "W*H, each side 64-8192"},
            "enable_base64_output": {"type": "boolean", "default": False},
            "enable_sync_mode": {"type": "boolean", "default": False},
            "refuse_unsupported": {
                "type": "boolean",
                "default": False,
                "description": "extension; plan first: an edit the engine cannot do is a 400 naming the clause",
            },
            "seed": {"type": "integer", "description": "extension; -1 = random"},
            "output_format": {"type": "string", "enum": ["jpeg", "png", "webp"], "description": "extension"},
        }
        if self.fixed_count is None:
            props["max_images"] = {"type": "integer", "minimum": 1, "maximum": 15, "default": 1}
        return {"type": "object", "properties": props, "required": ["prompt", "images"]}


MODELS: dict[str, ModelSpec] = {
    m.id: m
    for m in (
        ModelSpec(
            "bytedance/seedream-v4/edit-sequential",
            "1-10 reference images + one instruction -> a consistent set of max_images (1-15) images",
            capability="edit",
        ),
        ModelSpec(
            "bytedance/seedream-v4/edit",
            "1-10 reference images + one instruction -> one image",
            capability="edit",
            fixed_count=1,
        ),
    )
}


def get_model(model_id: str) -> ModelSpec | None:
    return MODELS.get(model_id.strip("/"))


ARK_MODELS: dict[str, str] = {
    "seedream-4-0-250828": "Seedream 4.0 (BytePlus ModelArk id)",
    "doubao-seedream-4-0-250828": "Seedream 4.0 (Volcengine Ark id)",
    "seedream-4-5-251128": "Seedream 4.5 (BytePlus ModelArk id)",
    "seedream-5-0-260128": "Seedream 5.0 (BytePlus ModelArk id)",
}
"""Ark model id → description; every one runs on the engine this server was started with."""
