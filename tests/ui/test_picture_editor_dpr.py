"""The editor is pixel-exact at device-pixel ratios 1 and 2: a drag covers exactly the image
pixels under it (also between logical pixels, as a HiDPI mouse reports them), and the editor
shows, pixel for pixel, the picture that is sent. Each ratio runs in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.ui.editor_dpr_check import DRAWN, LABEL_AT


@pytest.mark.parametrize("ratio", ["1", "2"])
def test_marks_land_on_the_image_pixels_drawn_over_and_show_as_sent(ratio: str) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_SCALE_FACTOR=ratio)
    out = subprocess.run(
        [sys.executable, "-m", "tests.ui.editor_dpr_check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["dpr"] == float(ratio)
    assert result["scale"] == 1 / float(ratio)  # one image pixel on one device pixel
    assert result["kinds"] == ["Arrow", "Redaction", "Frame", "Highlight", "Label"]
    assert [tuple(box) for box in result["boxes"]] == [*(box for _tool, box in DRAWN), LABEL_AT]
    # Solid boxes, outlines, arrows and labels are the same pixels; the highlighter's blend
    # (and a label's anti-aliased corners) may round one or two levels apart.
    assert result["worst_difference"] <= 2, result
