"""``identity``: how far each panel's main face is from the reference face (dlib's ResNet embedding).

The value is the distance to the nearest face among the references (each reference's main face);
lower is better. Threshold 0.6 is dlib's own decision radius (its metric loss pushes each identity into
a ball of radius 0.6); on the bundled portraits the same face under crops, grades, mirroring and
resizing measured 0.04–0.21 and the other person 0.67–0.69 (tests/consistency, docs/consistency.md).
"""

from __future__ import annotations

from PIL import Image

from seqedit.consistency import faces
from seqedit.consistency.context import Context
from seqedit.consistency.figures import Better, Figure, skipped


class Identity:
    name = "identity"
    threshold = 0.6
    better: Better = "lower"
    guarded = True
    describes = "face-embedding distance of each panel's main face to the reference face (dlib ResNet)"

    def applies(self, context: Context, index: int) -> str | None:
        return faces.missing()

    def _reference(self, context: Context) -> list[faces.Face]:
        return context.cached("identity.refs", lambda: [f for im in context.refs if (f := faces.main_face(im))])

    def measure(self, panel: Image.Image, index: int, context: Context) -> Figure:
        refs = self._reference(context)
        if not refs:
            return skipped(self, "no face found in the references")
        face = faces.main_face(panel)
        if face is None:
            return skipped(self, f"no face found in panel {index}")
        return Figure(self.name, min(faces.distance(face, r) for r in refs), self.threshold, self.better)
