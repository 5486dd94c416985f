"""A rendered screen full of secrets, each one's exact ink box known, for the redaction tests."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw, ImageOps

from tests.ocr.samples import LIGHT, font

# Vendor prefixes are joined at run time so that no scanner takes these fakes for real keys.
SK, GH, XOX, STRIPE = "sk" + "-", "gh" + "p_", "xo" + "xb-", "sk" + "_live_"

# (kind, text before, the secret that must be covered, text after)
SECRET_LINES: list[tuple[str, str, str, str]] = [
    ("api_key", "OPENAI_KEY ", SK + "proj-4fGh7KpQ2xLm9NvB3cRt8YwZ", " # rotate"),
    ("api_key", "client = OpenAI(key=", SK + "9aB3dE5fG7hJ2kL4mN6pQ8rS", ")"),
    ("slack_token", "SLACK_BOT ", XOX + "2048-7781-Qa8sLk3mZp9x", ""),
    ("aws_access_key", "aws key id: ", "AKIAIOSFODNN7EXAMPLE", " (us-east-1)"),
    ("github_token", "export TOKEN ", GH + "R8fK2mQ9xLp4Zt7Wb3Nc6Vd1Hy5Js0Ga2Ue", ""),
    ("stripe_key", "stripe ", STRIPE + "51HxQz7Kb9WmRt3Np", ""),
    (
        "jwt",
        "Cookie ",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
        "",
    ),
    ("password", "db_password = ", "Tr0ub4dor-horse", ""),
    ("password", "login: admin  password: ", "hunter2hunter", ""),
    ("email", "contact ", "jane.doe@example.com", " today"),
    ("card_number", "Card ", "4111 1111 1111 1111", "  exp 12/29"),
    ("iban", "IBAN ", "DE89 3704 0044 0532 0130 00", ""),
    ("private_key", "", "-----BEGIN OPENSSH PRIVATE KEY-----", ""),
    ("private_key", "", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ", ""),
    ("private_key", "", "-----END OPENSSH PRIVATE KEY-----", ""),
]


@dataclass(frozen=True)
class SecretScreen:
    """The picture and, per line, the secret's kind, text and ink box."""

    image: Image.Image
    secrets: list[tuple[str, str, tuple[int, int, int, int]]]


def secret_screen(size: int = 13, colours=LIGHT) -> SecretScreen:
    """All SECRET_LINES drawn in a monospace font, as a terminal or editor shows them."""
    face = font("SansMono", size)
    step, margin = int(size * 1.7), 14
    width = max(int(face.getlength(a + b + c)) for _, a, b, c in SECRET_LINES) + 2 * margin
    image = Image.new("RGB", (width, step * len(SECRET_LINES) + 2 * margin), colours[0])
    draw = ImageDraw.Draw(image)
    secrets = []
    for i, (kind, before, secret, after) in enumerate(SECRET_LINES):
        y, x = margin + i * step, margin
        draw.text((x, y), before, font=face, fill=colours[1])
        x += int(face.getlength(before))
        draw.text((x, y), secret, font=face, fill=colours[1])
        ink = _ink(image, colours[0], (x, y - 2, x + int(face.getlength(secret)) + 2, y + step))
        draw.text((x + int(face.getlength(secret)), y), after, font=face, fill=colours[1])
        secrets.append((kind, secret, ink))
    return SecretScreen(image, secrets)


def _ink(image: Image.Image, background, area) -> tuple[int, int, int, int]:
    """The box of the pixels in `area` that differ from the background."""
    crop = image.crop(area)
    plain = Image.new("RGB", crop.size, background)
    diff = ImageOps.grayscale(ImageChops.difference(crop, plain)).point(lambda v: 255 if v else 0)
    left, top, right, bottom = diff.getbbox() or (0, 0, 0, 0)
    return (area[0] + left, area[1] + top, area[0] + right, area[1] + bottom)
