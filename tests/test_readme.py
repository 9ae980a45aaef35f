"""The Python snippets for video-language models and for your own recogniser (docs/python-api.md) run as
written. tests/test_docs.py runs the README's quick start and checks every other block and link."""

from __future__ import annotations

import re
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]
PAGE = "docs/python-api.md"
HEADINGS = ["## Use with a video-language model", "## Use your own recogniser"]


def snippet(page: str, heading: str) -> str:
    """The first Python block under ``heading`` in ``page``."""
    text = (ROOT / page).read_text()
    found = re.search(rf"^{re.escape(heading)}$", text, re.M)
    assert found, f"no heading {heading!r} in {page}"
    section = text[found.start():]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.parametrize("heading", HEADINGS)
def test_readme_snippet_runs(heading, noise_clip, capsys):
    code = snippet(PAGE, heading).replace('"clip.mp4"', repr(str(noise_clip)))
    namespace: dict = {}
    exec(compile(code, f"{PAGE} {heading}", "exec"), namespace)
    chosen = namespace["chosen"]
    assert len(chosen.indices) == 8 and chosen.frames.shape == (8, 64, 80, 3)
    assert chosen.timestamps == pytest.approx([i / 20 for i in chosen.indices])
    if "recogniser" in heading:
        assert chosen.label in ("cat", "dog") and 0 < chosen.probability <= 1
    else:
        assert len(namespace["images"]) == 8 and namespace["meta"]["frames_indices"] == chosen.indices
