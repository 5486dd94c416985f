"""Screenshot files: dedupe, thumbnails, atomic writes, damage detection, hostile input."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image

from snapask_desktop.atomic_file import atomic_write
from snapask_desktop.store import BlobCorrupt, BlobMissing, ImageRejected, NotFound, Store
from snapask_desktop.store.blobs import BlobStore
from tests.store.helpers import outbox_payloads, png_bytes, rows


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def png_claiming_size(width: int, height: int) -> bytes:
    """A well-formed PNG header that claims ``width`` x ``height`` with almost no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def test_picture_is_stored_under_its_hash_with_metadata(store: Store, data_dir: Path) -> None:
    data = png_bytes(640, 480, seed=3)
    info = store.add_screenshot(data)
    sha = hashlib.sha256(data).hexdigest()
    assert (info.sha256, info.size_bytes, info.width, info.height, info.mime) == (
        sha,
        len(data),
        640,
        480,
        "image/png",
    )
    assert (data_dir / "blobs" / sha[:2] / f"{sha}.png").read_bytes() == data
    assert store.screenshot_bytes(sha, verify=True) == data
    assert store.screenshot_info(sha) == info


def test_same_picture_twice_is_one_file_one_row_one_op(store: Store, data_dir: Path) -> None:
    data = png_bytes(seed=5)
    first = store.add_screenshot(data)
    second = store.add_screenshot(bytearray(data))
    assert first == second
    assert len(files_under(data_dir / "blobs")) == 1
    assert len(files_under(data_dir / "thumbs")) == 1
    assert len(rows(store.path, "SELECT * FROM screenshot")) == 1
    assert len(outbox_payloads(store.path, "screenshot")) == 1
    store.add_screenshot(png_bytes(seed=6))
    assert len(files_under(data_dir / "blobs")) == 2


@pytest.mark.parametrize(
    ("size", "thumb_size"),
    [((1920, 1080), (256, 144)), ((300, 1000), (77, 256)), ((100, 50), (100, 50))],
)
def test_thumbnail_long_side_is_at_most_256(
    store: Store, size: tuple[int, int], thumb_size: tuple[int, int]
) -> None:
    info = store.add_screenshot(png_bytes(*size))
    path = store.thumbnail_path(info.sha256)
    assert path.suffix == ".jpg" and path.parent.name == info.sha256[:2]
    with Image.open(path) as thumb:
        assert (thumb.format, thumb.size, thumb.mode) == ("JPEG", thumb_size, "RGB")


def test_transparent_picture_thumbnail_is_flattened_on_white(store: Store) -> None:
    image = Image.new("RGBA", (400, 400), (255, 0, 0, 0))  # fully transparent red
    info = store.add_screenshot(encoded(image, "PNG"))
    with Image.open(store.thumbnail_path(info.sha256)) as thumb:
        red, green, blue = thumb.getpixel((128, 128))  # type: ignore[misc]
        assert min(red, green, blue) > 240  # white, not black or red


def test_jpeg_and_webp_keep_their_type(store: Store, data_dir: Path) -> None:
    photo = Image.new("RGB", (200, 100), (10, 120, 200))
    jpeg = store.add_screenshot(encoded(photo, "JPEG", quality=90))
    webp = store.add_screenshot(encoded(photo, "WEBP", quality=80))
    assert (jpeg.mime, webp.mime) == ("image/jpeg", "image/webp")
    assert (data_dir / "blobs" / jpeg.sha256[:2] / f"{jpeg.sha256}.jpg").exists()
    assert store.screenshot_bytes(webp.sha256, verify=True)[:4] == b"RIFF"


def test_missing_thumbnail_is_remade_and_missing_blob_reported(
    store: Store, data_dir: Path
) -> None:
    info = store.add_screenshot(png_bytes(seed=9))
    thumb = store.thumbnail_path(info.sha256)
    thumb.unlink()
    assert store.thumbnail_path(info.sha256) == thumb and thumb.exists()
    (data_dir / "blobs" / info.sha256[:2] / f"{info.sha256}.png").unlink()
    with pytest.raises(BlobMissing, match="not on this device"):
        store.screenshot_bytes(info.sha256)
    with pytest.raises(NotFound):
        store.screenshot_bytes("0" * 64)


def test_damaged_blob_is_detected_on_verified_read_and_repaired_by_re_adding(
    store: Store, data_dir: Path
) -> None:
    data = png_bytes(seed=11)
    info = store.add_screenshot(data)
    path = data_dir / "blobs" / info.sha256[:2] / f"{info.sha256}.png"
    damaged = bytearray(data)
    damaged[len(damaged) // 2] ^= 0xFF
    path.write_bytes(bytes(damaged))
    assert store.screenshot_bytes(info.sha256) == bytes(damaged)  # unverified: as stored
    with pytest.raises(BlobCorrupt, match="no longer matches its SHA-256"):
        store.screenshot_bytes(info.sha256, verify=True)
    store.add_screenshot(data)  # the good bytes again replace the damaged copy
    assert store.screenshot_bytes(info.sha256, verify=True) == data


def _bad_inputs() -> dict[str, object]:
    good = png_bytes(200, 200, seed=1)
    flipped = bytearray(good)
    for offset in range(60, len(flipped) - 20, 5):
        flipped[offset] ^= 0x5A
    gif = encoded(Image.new("RGB", (10, 10)), "GIF")
    return {
        "text": b"hello, this is not a picture",
        "empty": b"",
        "str": "not bytes",
        "truncated-png": good[: len(good) // 2],
        "corrupt-png": bytes(flipped),
        "gif-not-accepted": gif,
        "huge-claimed-size": png_claiming_size(100_000, 100_000),
        "over-our-pixel-limit": png_claiming_size(9_000, 9_000),
        "too-wide": png_claiming_size(40_000, 10),
        "zero-pixels": png_claiming_size(0, 10),
    }


@pytest.mark.parametrize("name", list(_bad_inputs()))
def test_bad_pictures_are_refused_and_nothing_is_written(
    store: Store, data_dir: Path, name: str
) -> None:
    data = _bad_inputs()[name]
    with pytest.raises(ImageRejected) as caught:
        store.add_screenshot(data)  # type: ignore[arg-type]
    assert str(caught.value).startswith(("the picture", "these bytes", "a picture"))
    assert files_under(data_dir / "blobs") == []
    assert files_under(data_dir / "thumbs") == []
    assert rows(store.path, "SELECT * FROM screenshot") == []
    assert store.outbox_count() == 0


def test_size_limits_are_reported_in_plain_words(store: Store) -> None:
    with pytest.raises(ImageRejected, match=r"too large \(9000x9000"):
        store.add_screenshot(png_claiming_size(9_000, 9_000))
    with pytest.raises(ImageRejected, match="too large to open safely"):
        store.add_screenshot(png_claiming_size(100_000, 100_000))


def test_atomic_write_leaves_no_temp_file_and_never_half_a_file(tmp_path: Path) -> None:
    target = tmp_path / "ab" / "file.bin"
    atomic_write(target, b"first")
    atomic_write(target, b"second version")
    assert target.read_bytes() == b"second version"
    assert [p.name for p in target.parent.iterdir()] == ["file.bin"]
    # A rename that fails (the target is a folder) leaves the old state and no temp file.
    blocked = tmp_path / "ab" / "folder"
    blocked.mkdir()
    (blocked / "inside").write_bytes(b"keep")
    with pytest.raises(OSError):
        atomic_write(blocked, b"x" * 100_000)
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.bin", "folder"]
    assert (blocked / "inside").read_bytes() == b"keep"


def test_stale_temp_files_are_removed_on_open_but_young_ones_kept(data_dir: Path) -> None:
    Store.open(data_dir).close()
    folder = data_dir / "blobs" / "ab"
    folder.mkdir(parents=True)
    stale, young = folder / ".tmp-stale", folder / ".tmp-young"
    stale.write_bytes(b"half a picture")
    young.write_bytes(b"being written by another process")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    Store.open(data_dir).close()
    assert not stale.exists() and young.exists()
    assert BlobStore(data_dir).remove_stale_temp_files(older_than_s=0) == 1
