"""Small planted-data builders shared by the tests."""
import gzip
from pathlib import Path


def planted_dataset(labels, seed=0):
    """A Dataset of random faces with these labels, splits cycling Training / PublicTest / PrivateTest."""
    import numpy as np

    from fer_core.data.dataset import Dataset
    n = len(labels)
    rng = np.random.default_rng(seed)
    return Dataset(images=rng.integers(0, 256, (n, 48, 48), dtype=np.uint8), labels=np.asarray(labels),
                   split=np.array(["Training", "PublicTest", "PrivateTest"] * n)[:n], row=np.arange(n) * 10 + 3,
                   source="planted", data_hash="planted")


def make_pixels(rng, n):
    return [" ".join(map(str, rng.integers(0, 256, 2304))) for _ in range(n)]


def write_fer_csv(path: Path, rows: list[tuple], *, header="emotion,pixels,Usage", gz=False):
    """rows: (emotion, pixels_str, usage) tuples written verbatim."""
    text = header + "\n" + "".join(f"{e},{p},{u}\n" for e, p, u in rows)
    if gz:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


# ---- photos for fer_core.analysis.faces / fer_core.pipeline.predict / the Try-a-face page --------------------
def png_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A real, valid 1-bit PNG of width x height black pixels (a "decompression bomb": ~50 KB
    on disk, 400 megapixels once decoded), written row by row without holding the pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    comp = zlib.compressobj(9)
    row = b"\x00" + bytes((width + 7) // 8)
    idat = b"".join(comp.compress(row * 500) for _ in range(height // 500)) + comp.compress(row * (height % 500))
    idat += comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def image_bytes(arr, fmt: str, **save_kw) -> bytes:
    """Encode a numpy array (or PIL image) with Pillow."""
    import io

    from PIL import Image

    img = arr if isinstance(arr, Image.Image) else Image.fromarray(arr)
    buf = io.BytesIO()
    img.save(buf, format=fmt, **save_kw)
    return buf.getvalue()


def photo_zoo(rgb) -> dict[str, tuple[bytes, bool]]:
    """{name.ext: (bytes, readable)} for a colour photo (H, W, 3) uint8: unusual but valid files
    (readable=True) and bad ones (readable=False)."""
    import numpy as np
    from PIL import Image

    img = Image.fromarray(rgb)
    jpeg = image_bytes(img, "JPEG", quality=90)
    gray16 = (np.asarray(img.convert("L")).astype(np.uint16) * 257)
    frames = [img, Image.fromarray(255 - rgb), img]
    anim = image_bytes(frames[0].convert("P"), "GIF", save_all=True, append_images=[f.convert("P") for f in frames[1:]],
                       duration=100, loop=0)
    pal = img.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    pal.info["transparency"] = 0
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    return {
        "photo.jpg": (jpeg, True),
        "photo.png": (image_bytes(img, "PNG"), True),
        "photo.webp": (image_bytes(img, "WEBP", quality=90), True),
        "photo.bmp": (image_bytes(img, "BMP"), True),
        "gray.jpg": (image_bytes(img.convert("L"), "JPEG"), True),
        "sixteen_bit.png": (image_bytes(Image.fromarray(gray16), "PNG"), True),
        "cmyk.jpg": (image_bytes(img.convert("CMYK"), "JPEG"), True),
        "palette.png": (image_bytes(pal, "PNG"), True),
        "rgba.png": (image_bytes(img.convert("RGBA"), "PNG"), True),
        "animated.gif": (anim, True),
        "animated.png": (image_bytes(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=100), True),
        "exif_rotated.jpg": (image_bytes(img, "JPEG", exif=exif), True),
        "empty.jpg": (b"", False),
        "notes.png": (b"this is a text file, not an image\n", False),
        "truncated.jpg": (jpeg[: len(jpeg) // 2], False),
        "corrupt.png": (_corrupt_png(image_bytes(img, "PNG")), False),
        "bomb.png": (png_bomb(), False),
    }


def _corrupt_png(data: bytes) -> bytes:
    """Overwrite the middle of the compressed pixel data: the header still parses."""
    i = data.index(b"IDAT") + 40
    return data[:i] + bytes(200) + data[i + 200:]


# ---- page tests ------------------------------------------------------------------------------
def run_page(page: str, *, at=None, timeout: int = 300, **state):
    """Run a dashboard page with Streamlit's AppTest (or rerun `at`) after setting `state` in its
    session state; fail with the page's exceptions if it raised any. Returns the AppTest."""
    from streamlit.testing.v1 import AppTest

    at = at or AppTest.from_file(page, default_timeout=timeout)
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def second_model(folder, *, name: str = "compact-b", shift: float = 1.5):
    """A second checkpoint `folder/<name>.pt`: the shipped compact model with its neutral logit
    raised by `shift` (so it predicts neutral on faces compact finds borderline, and agrees on the
    rest). Point $FER_MODELS_DIR at `folder` and every page lists it beside compact."""
    import torch

    from fer_core.models.checkpoint import load_checkpoint, save_checkpoint
    net, info = load_checkpoint("compact")
    with torch.no_grad():
        net.head.bias[6] += shift
    return save_checkpoint(Path(folder) / f"{name}.pt", net, model_name=info["model_name"],
                           model_kwargs=info["model_kwargs"], label_set=info["label_set"],
                           normalization=info["normalization"])
