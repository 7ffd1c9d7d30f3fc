"""The instruction router of the classic engine: plan text → ``OpSpec`` lists with honest verdicts.

``route(plan)`` reads ``plan.shared`` and every ``plan.panels[k].text`` and returns a ``RoutedPlan``:
the ops of the shared instruction, the own ops of each panel, each panel's effective ops (shared +
own; an own op replaces a shared op of the same name, except ``keep`` and ``generative`` which
accumulate) and the clauses it would not guess at (``reported``).

How one text becomes ops:

1. **Clauses.** Split at sentence ends, newlines, ``;``, ``:``, " and then ", " but ", and at a comma
   or " and " followed by an edit verb ("…, keeping the logo", "… and add a caption"). Commas inside
   colour compounds ("classic white + black swoosh, gum sole") are not split points; a text-label line
   ("caption: not pictured: my patience") is one clause whose text is everything after the label.
2. **Bookkeeping.** A constraint clause ("keeping …", "maintain …", "ensure consistent …") is ``keep``.
   A clause that is only set bookkeeping ("generate a series of 4 edited images from the source
   photo") is ``meta``; when bookkeeping wraps content ("… 4 different hairstyle images for this
   girl") the wrapper is stripped and the content is classified. Vague counts ("a couple of", "a
   handful of", "several") and units like options/alternatives/takes count too, and request filler
   ("can I get", "… would be great", "say four") is part of the wrapper.
3. **Classification.** Misspelt colour names (one edit from a name of ≥ 6 letters: "burgandy") are
   corrected first. The operations' own rules next (``Operation.rules`` in ``ops/<name>.py``, by
   rank): hard rules (a named side view, an age, a hairstyle, a face swap, a colour-only colourway
   line), then phrase rules for classes of phrasing that name an operation without its keyword:
   quoted text that a caption "reads" / a "caption:" label →
   caption; removing text already in the picture (subtitles, burned-in captions) → remove;
   diptych/triptych/before-after, side by side or on one comic page → layout; a coloured
   passe-partout/border → frame; newsstand/magazine rack → cover; trimming empty space or an
   edge → framing crop; a plain colour "there"/behind/as the backdrop, or "against X instead of Y" →
   background; a person put at/in a place doing something, or a physical thing added ("add a neon
   sign") → generative; "<colour> … look/finish"
   with no known grade → recolor. Otherwise MiniLM nearest-prototype similarity per operation (max
   cosine over 6-10 prototype sentences) plus ``KEYWORD_BOOST`` for a lexicon hit. The clause is
   **reported, not executed** when the best score is below ``MIN_CONFIDENCE`` or a ``generative``
   runner-up is within ``GENERATIVE_MARGIN`` of a non-generative winner (when the clause also names
   a generative thing, "her smile", it is refused as ``generative`` instead: refusing is safe). A
   ``generative`` winner backed by a lexicon hit is refused even below the threshold.
4. **Params** come out by the winner's parser (``Operation.parse``; colour phrases by part, finish, style/look/time/
   lighting/framing/frame/background kinds, quoted caption text, ``W:H`` aspect). Strong names
   elsewhere in the clause add companion ops (companion rules) ("cyberpunk-style city" → look + background;
   "manga storyboards" → style + layout).

Verdict policy (each operation's default verdict and parser are in ``ops/<name>.py``):

* ``generative`` is always ``unsupported``: hairstyles, ages, poses, expressions, outfits, face swaps,
  added objects or people, new places, new story beats, and true left/right/back/side views.
* "front view" (and the page's typo "once view") is ``framing`` ``medium``, ``approximate``: the
  reference as it is, assuming it faces the camera.
* A **story/life** clause becomes ``approximate`` when the same panel (own or shared ops) also has a
  renderable setting, i.e. a ``look`` or a ``style``: the story op is dropped and each panel gets a
  varied framing (medium, close-up, mirror, wide, …) of the cut-out references, with the look, style
  and background. No new actions or places. Without a look or style it stays ``unsupported``.
* Magazine **photoshoots** are ``cover``, ``approximate`` (covers from the given photos, no new poses);
  a plain magazine cover is ``supported``.
* ``layout`` storyboard and comic_page are ``approximate`` (panels are re-crops of the references:
  no new story beats); grid and side_by_side are ``supported``.
* Hair recolour, wide framing and thin-object removal are ``approximate``; removing larger objects
  and a background with no procedural kind (a beach, an office) are ``unsupported``; an unknown
  style name is ``style`` with verdict ``unsupported``.
* A shared "change only the colorway per panel" with no colour becomes ``meta`` (hint ``recolor``)
  when every panel with its own text carries its own recolour.
* A clause that reads like an op but names none of its parameters ("add a caption" without text,
  "recolour it" without a colour) is reported, not run with made-up values.
* ``RoutedPlan.verdict(k)``: the worst verdict of panel k's effective ops; a reported clause lowers
  it to at least ``approximate``; a panel with nothing renderable is ``unsupported`` (an unchanged
  source is never an answer).
"""

from seqedit.engines.classic.router.classify import GENERATIVE_MARGIN, KEYWORD_BOOST, MIN_CONFIDENCE, classify_clause
from seqedit.engines.classic.router.clauses import split_clauses
from seqedit.engines.classic.router.policy import Reported, RoutedPlan, route, route_text

__all__ = [
    "route",
    "route_text",
    "classify_clause",
    "split_clauses",
    "RoutedPlan",
    "Reported",
    "MIN_CONFIDENCE",
    "GENERATIVE_MARGIN",
    "KEYWORD_BOOST",
]
