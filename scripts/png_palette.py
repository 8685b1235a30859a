#!/usr/bin/env python3
"""png_palette.py — rewrite 8-bit RGB/RGBA PNGs (as gnuplot's pngcairo writes them) as
8-bit palette PNGs, to keep the committed figures small (typically 2-3x smaller).

    python3 scripts/png_palette.py FILE.png [FILE.png ...]

The 255 most frequent colours are kept exactly; every other colour (anti-aliasing
blends) is mapped to the nearest kept colour. Files that already use a palette are
left alone. Python 3 standard library only (zlib).
"""
import os
import struct
import sys
import zlib

MAXCOLORS = int(os.environ.get("LQA_PNG_COLORS", "256"))
SIG = b"\x89PNG\r\n\x1a\n"


def chunks(data, path):
    if data[:8] != SIG:
        raise ValueError(f"{path}: not a PNG file")
    i = 8
    while i < len(data):
        if i + 8 > len(data):
            raise ValueError(f"{path}: truncated chunk")
        n, = struct.unpack(">I", data[i:i + 4])
        yield data[i + 4:i + 8], data[i + 8:i + 8 + n]
        i += 12 + n


def unfilter(raw, w, h, bpp, path):
    stride = w * bpp
    out = bytearray(h * stride)
    prev = bytearray(stride)
    pos = 0
    for y in range(h):
        ft = raw[pos]
        line = bytearray(raw[pos + 1:pos + 1 + stride])
        pos += 1 + stride
        if ft == 0:
            pass
        elif ft == 1:
            for x in range(bpp, stride):
                line[x] = (line[x] + line[x - bpp]) & 255
        elif ft == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif ft == 3:
            for x in range(stride):
                left = line[x - bpp] if x >= bpp else 0
                line[x] = (line[x] + ((left + prev[x]) >> 1)) & 255
        elif ft == 4:
            for x in range(stride):
                a = line[x - bpp] if x >= bpp else 0
                b = prev[x]
                c = prev[x - bpp] if x >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if (pa <= pb and pa <= pc) else (b if pb <= pc else c)
                line[x] = (line[x] + pr) & 255
        else:
            raise ValueError(f"{path}: bad filter type {ft} in row {y}")
        out[y * stride:(y + 1) * stride] = line
        prev = line
    return out


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def palettize(path):
    data = open(path, "rb").read()
    ihdr, idat = None, []
    for kind, body in chunks(data, path):
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
    if ihdr is None:
        raise ValueError(f"{path}: no IHDR chunk")
    w, h, depth, ctype, _, _, interlace = ihdr
    if ctype == 3:
        return False
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise ValueError(f"{path}: unsupported PNG (depth {depth}, colour type {ctype}, "
                         f"interlace {interlace})")
    bpp = 3 if ctype == 2 else 4
    px = unfilter(zlib.decompress(b"".join(idat)), w, h, bpp, path)
    if bpp == 4:  # composite on white
        rgb = bytearray(w * h * 3)
        for i in range(w * h):
            r, g, b, a = px[4 * i:4 * i + 4]
            rgb[3 * i] = (r * a + 255 * (255 - a)) // 255
            rgb[3 * i + 1] = (g * a + 255 * (255 - a)) // 255
            rgb[3 * i + 2] = (b * a + 255 * (255 - a)) // 255
        px = rgb
    # count colours on 24-bit integers
    ints = [int.from_bytes(px[i:i + 3], "big") for i in range(0, len(px), 3)]
    counts = {}
    for c in ints:
        counts[c] = counts.get(c, 0) + 1
    keep = sorted(counts, key=counts.get, reverse=True)[:MAXCOLORS]
    index = {c: i for i, c in enumerate(keep)}
    kept = [((c >> 16) & 255, (c >> 8) & 255, c & 255) for c in keep]
    for c in counts:
        if c not in index:
            r, g, b = (c >> 16) & 255, (c >> 8) & 255, c & 255
            index[c] = min(range(len(kept)), key=lambda k: (kept[k][0] - r) ** 2
                           + (kept[k][1] - g) ** 2 + (kept[k][2] - b) ** 2)
    rows = bytearray()
    for y in range(h):
        rows.append(0)
        rows.extend(index[c] for c in ints[y * w:(y + 1) * w])
    plte = b"".join(bytes(k) for k in kept)
    out = (SIG + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0))
           + chunk(b"PLTE", plte) + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
           + chunk(b"IEND", b""))
    if len(out) < len(data):
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(out)
        import os
        os.replace(tmp, path)
    return True


def main(argv):
    rc = 0
    for p in argv:
        try:
            palettize(p)
        except (OSError, ValueError, zlib.error) as e:
            sys.stderr.write(f"png_palette.py: {e}\n")
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
