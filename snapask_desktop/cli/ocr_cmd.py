"""`snapask ocr FILE`: the text of a picture, read on this device (no AI provider, no network)."""

from __future__ import annotations

import argparse
import io
import json
from typing import Any

from snapask_desktop.cli import exits, output


def register(commands: Any) -> None:
    """Add the ocr command to the parser."""
    ocr = commands.add_parser(
        "ocr",
        help="print the text of a picture, read locally (needs the ocr extra)",
        description="Read a picture's text with the local OCR engine (Tesseract). Nothing is "
        "sent anywhere. --secrets also lists what looks like a secret, as redaction would "
        "paint it out, and shows those words as [redacted].",
    )
    ocr.add_argument("file", metavar="FILE", help="a PNG, JPEG or WebP picture")
    ocr.add_argument("--json", action="store_true", help="words with their boxes, as JSON")
    ocr.add_argument("--secrets", action="store_true", help="find suspected secrets too")
    ocr.set_defaults(handler=run_ocr)


def run_ocr(args: argparse.Namespace) -> int:
    from PIL import Image, UnidentifiedImageError

    from snapask_desktop.ai.image_prep import load_image_file
    from snapask_desktop.ai.types import AIError
    from snapask_desktop.ocr import OcrError, recognise

    try:
        image = Image.open(io.BytesIO(load_image_file(args.file)))
        image.load()
        result = recognise(image)
        findings = _secrets(image, result) if args.secrets else []
    except AIError as error:  # the file: missing, empty, too big
        output.error(error.user_message)
        return exits.FAILED
    except (UnidentifiedImageError, OSError) as error:
        output.error(f"{args.file} is not a picture SnapAsk can read ({error})")
        return exits.FAILED
    except OcrError as error:
        output.error(str(error))
        return exits.FAILED
    from snapask_desktop.redact.secrets import mask_text

    boxes = [box for finding in findings for box in finding.boxes]
    if args.json:
        report = result.to_json()
        if args.secrets:
            report["text"] = mask_text(result.words, boxes)
            report["words"] = [w for w in report["words"] if not _under(w["box"], boxes)]
            report["secrets"] = [
                {"kind": f.kind, "boxes": [list(box) for box in f.boxes]} for f in findings
            ]
        print(json.dumps(report, ensure_ascii=False))
        return exits.OK
    text = mask_text(result.words, boxes) if args.secrets else result.text
    if text:
        print(text)
    else:
        output.note(f"no text was found in {args.file}")
    for finding in findings:
        where = ", ".join(f"{b[0]},{b[1]} {b[2] - b[0]}x{b[3] - b[1]}" for b in finding.boxes)
        output.note(f"suspected secret: {finding.kind} at {where}")
    return exits.OK


def _secrets(image: Any, result: Any) -> list[Any]:
    """What redaction would find: in this reading and in a sparse one (see redact/guard.py)."""
    from snapask_desktop.ocr import recognise
    from snapask_desktop.redact.secrets import find_secrets

    return [*find_secrets(result.words), *find_secrets(recognise(image, sparse=True).words)]


def _under(box: list[int], boxes: list[tuple[int, int, int, int]]) -> bool:
    return any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in boxes)
