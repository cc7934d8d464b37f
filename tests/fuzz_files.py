"""Generated bad and odd input files for the fuzz tests (uploads and FER2013 / FER+ CSVs).

Every generator is seeded: the same call gives the same files, so a failure names a case that
can be rebuilt by hand (``fuzz_uploads(rgb)["jpeg-trunc-3.jpg"]``).
"""
from __future__ import annotations

import gzip
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from fer_testutils import image_bytes, png_bomb

#: Expected outcome of a fuzz case: decodes, is refused (ImageError / DataError), or either.
OK, BAD, EITHER = "ok", "bad", "either"
#: CsvCase.field when the error may name any field of the row (a truncated row).
ANY_FIELD = "*"


# ---- uploads --------------------------------------------------------------------------------
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _with_png_chunk(png: bytes, chunk: bytes) -> bytes:
    return png[:33] + chunk + png[33:]  # right after the 8-byte signature and the 25-byte IHDR


def _jpeg_with_size(jpeg: bytes, width: int, height: int) -> bytes:
    """The JPEG with its SOF0 frame header claiming width x height (a header "bomb")."""
    i = jpeg.index(b"\xff\xc0") + 5
    return jpeg[:i] + struct.pack(">HH", height, width) + jpeg[i + 4:]


def _gif_with_screen(gif: bytes, width: int, height: int) -> bytes:
    return gif[:6] + struct.pack("<HH", width, height) + gif[10:]


def valid_encodings(rgb: np.ndarray) -> dict[str, bytes]:
    """The photo (H, W, 3) uint8 as JPEG, PNG, WebP, BMP and GIF files."""
    from PIL import Image

    img = Image.fromarray(rgb)
    return {"jpeg": image_bytes(img, "JPEG", quality=90), "png": image_bytes(img, "PNG"),
            "webp": image_bytes(img, "WEBP", quality=90), "bmp": image_bytes(img, "BMP"),
            "gif": image_bytes(img.convert("P", palette=Image.Palette.ADAPTIVE), "GIF")}


def fuzz_uploads(rgb: np.ndarray, *, seed: int = 0, per_format: int = 26) -> dict[str, tuple[bytes, str]]:
    """{file name: (bytes, OK | BAD | EITHER)}: damaged, disguised and unusual photo files.

    Args:
        rgb: a colour photo (H, W, 3) uint8, e.g. :func:`fer_core.analysis.faces.demo_photo`'s.
        per_format: damaged copies per format (half truncations at spread offsets, half random
            byte changes, every other one inside the first 64 bytes where the header is).

    The names carry an extension that may lie about the content (``jpeg-as.png``): the readers
    must look at the bytes, not the name.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    enc = valid_encodings(rgb)
    ext = {"jpeg": "jpg", "png": "png", "webp": "webp", "bmp": "bmp", "gif": "gif"}
    cases: dict[str, tuple[bytes, str]] = {}
    for fmt, data in enc.items():
        n = len(data)
        cases[f"{fmt}-valid.{ext[fmt]}"] = (data, OK)
        n_trunc = per_format // 2
        offsets = sorted({1, 2, 4, 8, 16, 32, 64, n // 2, n - 1, *rng.integers(1, n, n_trunc).tolist()})[:n_trunc]
        for k, off in enumerate(offsets):
            cases[f"{fmt}-trunc-{k}@{off}.{ext[fmt]}"] = (data[:off], EITHER)
        for k in range(per_format - n_trunc):
            b = bytearray(data)
            hi = min(n, 64) if k % 2 == 0 else n
            for _ in range(int(rng.integers(1, 9))):
                b[int(rng.integers(0, hi))] = int(rng.integers(0, 256))
            cases[f"{fmt}-flip-{k}.{ext[fmt]}"] = (bytes(b), EITHER)
        # a block of zeros over the middle: the header still parses, the pixel data does not
        cases[f"{fmt}-zeroed-middle.{ext[fmt]}"] = (data[:n // 3] + bytes(n // 3) + data[2 * n // 3:], EITHER)

    # wrong extensions: the content decides
    for fmt, wrong in (("jpeg", "png"), ("png", "jpg"), ("webp", "bmp"), ("bmp", "webp"), ("gif", "jpeg")):
        cases[f"{fmt}-as.{wrong}"] = (enc[fmt], OK)

    img = Image.fromarray(rgb)
    small = img.resize((img.width // 4, img.height // 4))
    gray16 = np.asarray(img.convert("L")).astype(np.uint16) * 257
    pal = img.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    frames = [small, Image.fromarray(255 - np.asarray(small)), small]
    floats = np.asarray(small.convert("L"), np.float32) / 7.0
    floats[0, 0], floats[0, 1], floats[1, 0] = np.inf, -np.inf, np.nan
    odd = {
        "cmyk.jpg": image_bytes(img.convert("CMYK"), "JPEG"),
        "sixteen-bit.png": image_bytes(Image.fromarray(gray16), "PNG"),
        "palette.png": image_bytes(pal, "PNG"),
        "palette-transparent.png": image_bytes(pal, "PNG", transparency=0),
        "grey.jpg": image_bytes(img.convert("L"), "JPEG"),
        "one-bit.png": image_bytes(img.convert("1"), "PNG"),
        "rgba.png": image_bytes(img.convert("RGBA"), "PNG"),
        "grey-alpha.png": image_bytes(img.convert("LA"), "PNG"),
        "animated.gif": image_bytes(frames[0].convert("P"), "GIF", save_all=True,
                                    append_images=[f.convert("P") for f in frames[1:]], duration=100, loop=0),
        "animated.png": image_bytes(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=100),
        "animated.webp": image_bytes(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100),
        "progressive.jpg": image_bytes(img, "JPEG", progressive=True),
        "cmyk.tif": image_bytes(small.convert("CMYK"), "TIFF"),
        "float-inf-nan.tif": image_bytes(Image.fromarray(floats, "F"), "TIFF"),
        "int32.tif": image_bytes(Image.fromarray(np.asarray(small.convert("L"), np.int32) * 10**6 - 10**8, "I"),
                                 "TIFF"),
        "lossless.webp": image_bytes(img, "WEBP", lossless=True),
        "tiny-1x1.png": image_bytes(np.zeros((1, 1, 3), np.uint8), "PNG"),
        "sliver-4000x1.png": image_bytes(np.zeros((1, 4000), np.uint8), "PNG"),
        "jpeg-39mp-header.jpg": _jpeg_with_size(enc["jpeg"], 7000, 5500),  # passes the size check, data too short
    }
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        odd[f"exif-orientation-{orientation}.jpg"] = image_bytes(small, "JPEG", exif=exif)
    for orientation in (0, 9, 300):
        exif = Image.Exif()
        exif[0x0112] = orientation
        odd[f"exif-orientation-invalid-{orientation}.jpg"] = image_bytes(small, "JPEG", exif=exif)
    exif = Image.Exif()
    exif[0x0112] = 6
    j = image_bytes(small, "JPEG", exif=exif)
    i = j.index(b"Exif\x00\x00") + 6
    for k, at in enumerate((4, 10, 18)):  # inside the EXIF block: damaged metadata, intact pixels
        b = bytearray(j)
        b[i + at] ^= 0xFF
        odd[f"exif-damaged-{k}.jpg"] = bytes(b)
    for name, data in odd.items():
        expect = EITHER if name.startswith(("jpeg-39mp", "exif-damaged")) else OK
        cases[name] = (data, expect)

    text = b"emotion,pixels,Usage\n" + b"0," + b" ".join([b"128"] * 2304) + b",Training\n"
    bad = {
        "empty.jpg": b"",
        "one-byte.png": b"\x89",
        "newline.jpg": b"\n",
        "bomb-20000x20000.png": png_bomb(),
        "bomb-jpeg-header.jpg": _jpeg_with_size(enc["jpeg"], 20000, 20000),
        "over-limit-jpeg-header.jpg": _jpeg_with_size(enc["jpeg"], 8000, 6000),  # 48 MP, under Pillow's bomb limit
        "bomb-gif-screen.gif": _gif_with_screen(enc["gif"], 20000, 20000),
        "bomb-ppm-header.ppm": b"P6\n60000 60000\n255\n" + bytes(64),
        "ztxt-bomb.png": _with_png_chunk(enc["png"], _png_chunk(b"zTXt", b"Comment\x00\x00"
                                                                + zlib.compress(b"A" * 20_000_000, 9))),
        "notes.jpg": b"this is a text file, not an image\n",
        "large-text-2mb.png": b"The quick brown fox jumps over the lazy dog.\n" * 48_000,
        "fer2013-row.jpg": text * 300,
        "page.webp": b"<!doctype html><html><body><img src='face.jpg'></body></html>\n" * 50,
        "vector.png": b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><circle r="9"/></svg>',
        "document.jpg": b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n",
        # EPS: Pillow would run Ghostscript on it; load_photo never opens the format
        "postscript.jpg": b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\nshowpage\n",
        "archive.png": b"PK\x03\x04" + bytes(200),
        "gzipped-png.png": gzip.compress(enc["png"]),
        "heic-photo.jpg": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(100),
        "jpeg-magic-then-noise.jpg": b"\xff\xd8\xff\xe0" + rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        "png-magic-then-noise.png": b"\x89PNG\r\n\x1a\n" + rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        "gif-magic-only.gif": b"GIF89a",
        "riff-webp-header-only.webp": b"RIFF\x00\x00\x00\x00WEBPVP8 ",
        "bmp-magic-then-zeros.bmp": b"BM" + bytes(100),
    }
    for k, size in enumerate((3, 17, 512, 4096, 65536, 1_000_000)):
        bad[f"random-{size}b-{k}.{('jpg', 'png', 'webp', 'bmp', 'gif', 'jpeg')[k]}"] = \
            rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    for name, data in bad.items():
        cases[name] = (data, BAD)
    return cases


# ---- FER2013 / FER+ CSVs ------------------------------------------------------------------
def fer_rows(rng: np.random.Generator, n: int) -> list[list[str]]:
    """n valid FER2013 rows [emotion, pixels, Usage] as strings (every split present)."""
    splits = ("Training", "PublicTest", "PrivateTest")
    return [[str(int(rng.integers(0, 7))), " ".join(map(str, rng.integers(0, 256, 2304))), splits[i % 3]]
            for i in range(n)]


def ferplus_rows(rng: np.random.Generator, fer: list[list[str]]) -> list[list[str]]:
    """FER+ rows [Usage, Image name, 10 vote counts] aligned with FER2013 rows `fer`."""
    out = []
    for i, r in enumerate(fer):
        votes = rng.multinomial(10, np.full(10, 0.1)).tolist()
        out.append([r[2], f"fer{i:07d}.png", *map(str, votes)])
    return out


FER_HEADER = "emotion,pixels,Usage"
FERPLUS_HEADER = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"


@dataclass
class CsvCase:
    """One generated CSV file: its bytes, whether it must load (OK), must fail (BAD) or may do
    either (EITHER), and for a failure tied to a row: that row, its field (None for a broken
    line) and its 1-based line in the file. `rows` = how many rows it holds when it loads."""

    name: str
    data: bytes
    expect: str
    row: int | None = None
    field: str | None = None
    line: int | None = None
    rows: int | None = None


def _csv(header: str, rows: list[list[str]], nl: str = "\n") -> str:
    return header + nl + "".join(",".join(r) + nl for r in rows)


def fuzz_fer_csv(rows: list[list[str]], *, seed: int = 0) -> list[CsvCase]:
    """Malformed and unusual variants of a FER2013 file holding `rows` (from :func:`fer_rows`).

    Every variant with a planted bad value knows its row, field and line; truncations know the
    row they cut; encodings, line endings, blank lines, quotes and a lying extension must load
    as the original.
    """
    rng = np.random.default_rng(seed)
    n = len(rows)
    base = _csv(FER_HEADER, rows)
    cases: list[CsvCase] = [CsvCase("valid.csv", base.encode(), OK, rows=n)]

    def planted(name, r, field, value=None, *, line_text=None, expect=BAD):
        rr = [list(x) for x in rows]
        if line_text is None:
            rr[r][("emotion", "pixels", "Usage").index(field)] = value
            text = _csv(FER_HEADER, rr)
        else:
            lines = base.split("\n")
            lines[r + 1] = line_text(lines[r + 1])
            text = "\n".join(lines)
        cases.append(CsvCase(name, text.encode(), expect, row=r, field=field, line=r + 2))

    # truncations at random offsets: a cut inside a row breaks that row; a cut at a line end loads
    body_start = len(FER_HEADER) + 1
    ends = np.cumsum([len(",".join(r)) + 1 for r in rows]) + body_start  # offset after each row's newline
    for k, off in enumerate(sorted(rng.integers(body_start + 1, len(base) - 1, 24).tolist())):
        cut = int(np.searchsorted(ends, off, side="right"))  # index of the row being cut
        at_end = off == ends[cut - 1] if cut else False
        line_end = off + 1 == ends[cut]  # cut just before the newline: the row is whole
        if at_end or line_end:
            cases.append(CsvCase(f"trunc-{k}@{off}.csv", base[:off].encode(), OK, rows=cut + int(line_end)))
        else:
            cases.append(CsvCase(f"trunc-{k}@{off}.csv", base[:off].encode(), BAD, row=cut, field=ANY_FIELD,
                                 line=cut + 2))
    for k, off in enumerate((0, 3, len(FER_HEADER) - 2, len(FER_HEADER), len(FER_HEADER) + 1)):
        cases.append(CsvCase(f"trunc-header-{k}@{off}.csv", base[:off].encode(), BAD))  # no data rows left

    for k in range(6):
        r = int(rng.integers(0, n))
        planted(f"extra-field-{k}.csv", r, None, line_text=lambda s: s + ",x" * (1 + k % 3))
        planted(f"missing-usage-{k}.csv", r, "Usage", line_text=lambda s: s.rsplit(",", 1)[0])
        planted(f"only-emotion-{k}.csv", r, "Usage", line_text=lambda s: s.split(",", 1)[0])
        tokens = rows[r][1].split()
        j = int(rng.integers(0, len(tokens)))
        bad_token = ("x", "1.5", "nan", "-", "0x1f", "12a", "\u00bd", "1e3")[k % 8]
        planted(f"non-numeric-pixel-{k}.csv", r, "pixels", " ".join(tokens[:j] + [bad_token] + tokens[j + 1:]))
        planted(f"pixel-out-of-range-{k}.csv", r, "pixels",
                " ".join(tokens[:j] + [("256", "-1", "4294967301", "-4294967295", "99999999999999999999999",
                                         "1000")[k]] + tokens[j + 1:]))  # 2**32 + 5 once read as 5
        drop = int(rng.integers(1, 50))
        planted(f"too-few-pixels-{k}.csv", r, "pixels", " ".join(tokens[:-drop]))
        planted(f"too-many-pixels-{k}.csv", r, "pixels", " ".join(tokens + tokens[:drop]))
        planted(f"bad-usage-{k}.csv", r, "Usage", ("training", "Validation", "", "Training ", "Test", "PUBLICTEST")[k])
        planted(f"bad-emotion-{k}.csv", r, "emotion", ("7", "-1", "happy", "", "1.5", "3e9")[k])
    planted("empty-pixels.csv", 1, "pixels", "")
    planted("unterminated-quote.csv", 2, None, line_text=lambda s: s.replace(",", ',"', 1))
    cases.append(CsvCase("header-only.csv", (FER_HEADER + "\n").encode(), BAD))
    cases.append(CsvCase("empty.csv", b"", BAD))
    cases.append(CsvCase("only-blank-lines.csv", b"\n\n\n", BAD))
    cases.append(CsvCase("wrong-header.csv", base.replace("Usage", "usage", 1).encode(), BAD))
    cases.append(CsvCase("tab-separated.csv", base.replace(",", "\t").encode(), BAD))
    cases.append(CsvCase("semicolons.csv", base.replace(",", ";").encode(), BAD))
    cases.append(CsvCase("latin1.csv", base.encode()[:40] + b"\xe9" + base.encode()[40:], BAD))
    cases.append(CsvCase("utf16.csv", base.encode("utf-16"), BAD))
    cases.append(CsvCase("random-bytes.csv", rng.integers(0, 256, 20_000, dtype=np.uint8).tobytes(), BAD))

    # unusual but valid: must load as the original
    quoted = _csv(FER_HEADER, [[r[0], f'"{r[1]}"', f'"{r[2]}"'] for r in rows])
    blank = base.split("\n")
    for k, text in enumerate((
            "\ufeff" + base, _csv(FER_HEADER, rows, "\r\n"), _csv(FER_HEADER, rows, "\r"), quoted,
            '"emotion","pixels","Usage"\n' + "".join(",".join(f'"{x}"' for x in r) + "\n" for r in rows),
            "\n\n" + base + "\n\n\n", "\n".join(blank[:3] + ["", "   "] + blank[3:]),
            _csv(FER_HEADER, [[f" {r[0]}", r[1].replace(" ", "  "), r[2]] for r in rows]),
            "\ufeff" + _csv(FER_HEADER, rows, "\r\n").replace("\r\n", "\r\n\r\n", 2),
            base.rstrip("\n"))):
        cases.append(CsvCase(f"valid-variant-{k}.csv", text.encode(), OK, rows=n))
    # a planted error after blank lines, quoted line breaks and CRLF: the line moves, the row does not
    rr = [list(x) for x in rows]
    rr[4][2] = "Nope"
    lines = _csv(FER_HEADER, rr, "\r\n").split("\r\n")
    cases.append(CsvCase("blank-lines-then-bad-usage.csv", "\r\n".join(lines[:2] + ["", ""] + lines[2:]).encode(), BAD,
                         row=4, field="Usage", line=8))
    rr = [list(x) for x in rows]
    rr[1][1] = '"' + rr[1][1].replace(" ", "\n", 2) + '"'  # a quoted pixel field spanning 3 lines
    rr[3][0] = "9"
    cases.append(CsvCase("quoted-line-breaks-then-bad-emotion.csv", _csv(FER_HEADER, rr).encode(), BAD, row=3,
                         field="emotion", line=7))

    # gzip: valid, named wrongly, truncated and damaged
    gz = gzip.compress(base.encode(), mtime=0)
    cases.append(CsvCase("valid.csv.gz", gz, OK, rows=n))
    cases.append(CsvCase("gzip-named.csv", gz, OK, rows=n))
    cases.append(CsvCase("plain-named.csv.gz", base.encode(), OK, rows=n))
    for k, off in enumerate(sorted({2, 10, 20, *rng.integers(20, len(gz) - 1, 8).tolist()})):
        cases.append(CsvCase(f"gzip-trunc-{k}@{off}.csv.gz", gz[:off], BAD))
    for k in range(10):
        b = bytearray(gz)
        i = int(rng.integers(10, len(gz)))  # past the header's mtime/flags: the data or the CRC
        b[i] ^= int(rng.integers(1, 256))
        cases.append(CsvCase(f"gzip-flip-{k}.csv.gz", bytes(b), EITHER, rows=n))
    cases.append(CsvCase("gzip-twice.csv.gz", gzip.compress(gz), BAD))
    bad_usage = _csv(FER_HEADER, [*rows[:5], [rows[5][0], rows[5][1], "Dev"], *rows[6:]])
    cases.append(CsvCase("gzip-of-bad-usage.csv.gz", gzip.compress(bad_usage.encode()), BAD, row=5, field="Usage",
                         line=7))
    cases.append(CsvCase("not-really.csv.xz", b"\xfd7zXZ\x00" + bytes(40), BAD))
    cases.append(CsvCase("not-really.csv.zip", b"PK\x03\x04" + bytes(40), BAD))
    return cases


def fuzz_ferplus_csv(fer: list[list[str]], *, seed: int = 0) -> list[CsvCase]:
    """Malformed and unusual variants of a FER+ file aligned with the FER2013 rows `fer`."""
    rng = np.random.default_rng(seed)
    rows = ferplus_rows(rng, fer)
    n = len(rows)
    base = _csv(FERPLUS_HEADER, rows)
    cols = FERPLUS_HEADER.split(",")
    cases = [CsvCase("fp-valid.csv", base.encode(), OK, rows=n)]

    def planted(name, r, field, value, expect=BAD):
        rr = [list(x) for x in rows]
        rr[r][cols.index(field)] = value
        cases.append(CsvCase(name, _csv(FERPLUS_HEADER, rr).encode(), expect, row=r, field=field, line=r + 2))

    for k in range(6):
        r, c = int(rng.integers(0, n)), cols[2 + int(rng.integers(0, 10))]
        planted(f"fp-bad-vote-{k}.csv", r, c, ("x", "1.5", "-2", "1001", "", "nan")[k])
        lines = base.split("\n")
        lines[r + 1] += ",7"
        cases.append(CsvCase(f"fp-extra-field-{k}.csv", "\n".join(lines).encode(), BAD, row=r, line=r + 2))
        lines = base.split("\n")
        lines[r + 1] = lines[r + 1].rsplit(",", 1 + k % 3)[0]
        cases.append(CsvCase(f"fp-missing-votes-{k}.csv", "\n".join(lines).encode(), BAD, row=r,
                             field=cols[-1 - k % 3], line=r + 2))
    planted("fp-usage-not-aligned.csv", 3, "Usage", "PrivateTest" if rows[3][0] != "PrivateTest" else "Training")
    cases.append(CsvCase("fp-one-row-short.csv", _csv(FERPLUS_HEADER, rows[:-1]).encode(), BAD))
    cases.append(CsvCase("fp-one-row-long.csv", _csv(FERPLUS_HEADER, rows + rows[:1]).encode(), BAD))
    cases.append(CsvCase("fp-missing-column.csv", base.replace(",NF", "", 1).encode(), BAD))
    for k, off in enumerate(sorted(rng.integers(len(FERPLUS_HEADER) + 2, len(base) - 2, 6).tolist())):
        cases.append(CsvCase(f"fp-trunc-{k}@{off}.csv", base[:off].encode(), EITHER))
    for k, text in enumerate(("\ufeff" + base, _csv(FERPLUS_HEADER, rows, "\r\n"), base.replace("\n", "\n\n"),
                              base.replace("fer0000002.png", '"fer0000002.png"'),
                              _csv(FERPLUS_HEADER, [[r[0], "", *r[2:]] if i == 1 else r for i, r in enumerate(rows)]))):
        cases.append(CsvCase(f"fp-valid-variant-{k}.csv", text.encode(), OK, rows=n))
    cases.append(CsvCase("fp-valid.csv.gz", gzip.compress(base.encode()), OK, rows=n))
    return cases
