#!/usr/bin/env python3
"""Write tests/data/pdq/vectors.csv: PDQ reference hashes of every image in
tests/data/pdq/images/, computed with the PyPI package `pdqhash` (Cython
bindings of Meta's C++ PDQ reference implementation).

usage: .venv/bin/python scripts/pdq_vectors.py [--check]

  --check   recompute and compare with the committed CSV instead of writing it
            (exit status 1 on any difference).

Pixel convention (the Rust decoder implements exactly this):
  1. decode; first frame of animations;
  2. apply the EXIF Orientation (as PIL ImageOps.exif_transpose does);
  3. convert to 8-bit RGB:
       8-bit channels as is; 16-bit samples take the high byte (v >> 8);
       greyscale -> R = G = B (1/2/4-bit greyscale scaled to 0..255 as the PNG
       spec says, e.g. 1-bit -> 0/255); alpha is DROPPED, not composited;
       palette -> the palette's RGB entries (tRNS / GIF transparency ignored).
  4. pdqhash.compute_dihedral(rgb) on the C-contiguous HxWx3 uint8 array.

Implemented explicitly per PIL mode below (Image.convert is not trusted for
16-bit data). For 16-bit PNGs the samples are read with the pure-Python PNG
decoder in this file (zlib + filter undo), independent of Pillow, and the
result is cross-checked against what Pillow returns.

Hash hex form: Meta's 64-hex-digit form. pdqhash returns a 256-element bit
vector whose first element is the most significant bit; it is packed MSB-first
into 32 bytes and printed as lowercase hex (identical to the C++
Hash256::format, which prints w[15]..w[0] as %04hx).
"""
import argparse
import csv
import io
import os
import struct
import sys
import zlib

import numpy as np
import pdqhash
from PIL import Image, ImageOps

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, 'tests', 'data', 'pdq')
IMAGES = os.path.join(DATA, 'images')
CSV = os.path.join(DATA, 'vectors.csv')
EXTS = ('.png', '.jpg', '.jpeg', '.gif', '.bmp', '.webp')
HEADER = ['path', 'width', 'height', 'format', 'quality', 'pdq', 'rot90', 'rot180', 'rot270',
          'flipx', 'flipy', 'flipplus1', 'flipminus1']


# ---------------------------------------------------------------- pure-Python PNG decoder
def png_raw(path):
    """Decode a non-interlaced PNG without Pillow. Returns (samples, bit_depth,
    color_type, palette) where samples is HxWxC (uint16 for 16-bit, uint8
    otherwise; sub-byte greyscale returned unscaled)."""
    with open(path, 'rb') as fh:
        data = fh.read()
    assert data[:8] == b'\x89PNG\r\n\x1a\n', path
    pos, idat, plte = 8, [], None
    while pos < len(data):
        n, tag = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if tag == b'IHDR':
            w, h, bd, ct, _, _, interlace = struct.unpack('>IIBBBBB', body)
        elif tag == b'PLTE':
            plte = np.frombuffer(body, np.uint8).reshape(-1, 3)
        elif tag == b'IDAT':
            idat.append(body)
        elif tag == b'IEND':
            break
        pos += 12 + n
    assert interlace == 0, 'interlaced PNG not supported by png_raw'
    chans = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ct]
    bpp_bits = chans * bd
    stride = (w * bpp_bits + 7) // 8
    bpp = max(1, bpp_bits // 8)
    raw = zlib.decompress(b''.join(idat))
    out = np.zeros((h, stride), np.uint8)
    prev = np.zeros(stride, np.int32)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int32)
        if f == 0:
            cur = line
        elif f == 2:
            cur = (line + prev) & 255
        else:
            cur = line.tolist()
            up = prev.tolist()
            for i in range(stride):
                a = cur[i - bpp] if i >= bpp else 0
                if f == 1:
                    p = a
                elif f == 3:
                    p = (a + up[i]) >> 1
                else:   # 4: Paeth
                    b = up[i]
                    c = up[i - bpp] if i >= bpp else 0
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[i] = (cur[i] + p) & 255
            cur = np.array(cur, np.int32)
        out[y] = cur
        prev = cur
    if bd == 16:
        s = out.view('>u2').astype(np.uint16).reshape(h, w, chans)
    elif bd == 8:
        s = out.reshape(h, w, chans)
    else:
        bits = np.unpackbits(out, axis=1).reshape(h, -1, bd)
        vals = np.zeros(bits.shape[:2], np.uint8)
        for k in range(bd):
            vals = (vals << 1) | bits[:, :, k]
        s = vals[:, :w].reshape(h, w, 1)
    return s, bd, ct, plte


def png_raw_rgb8(path):
    """The pixel convention applied to png_raw's samples (no orientation)."""
    s, bd, ct, plte = png_raw(path)
    if bd == 16:
        s = (s >> 8).astype(np.uint8)
    elif bd < 8 and ct == 0:
        s = (s.astype(np.uint16) * 255 // ((1 << bd) - 1)).astype(np.uint8)
    if ct == 3:
        pal = np.zeros((256, 3), np.uint8)
        pal[:len(plte)] = plte
        return pal[s[:, :, 0]]
    if ct in (0, 4):
        return np.repeat(s[:, :, :1], 3, axis=2)
    return s[:, :, :3]


# ---------------------------------------------------------------- pixel convention via Pillow
def orientation_of(im):
    try:
        return int(im.getexif().get(0x0112, 1) or 1)
    except Exception:
        return 1


def orient_array(a, o):
    """numpy equivalent of ImageOps.exif_transpose for orientation o (HxWxC)."""
    return {
        1: lambda x: x,
        2: lambda x: x[:, ::-1],
        3: lambda x: x[::-1, ::-1],
        4: lambda x: x[::-1, :],
        5: lambda x: x.transpose(1, 0, 2),
        6: lambda x: np.rot90(x, -1),
        7: lambda x: x.transpose(1, 0, 2)[::-1, ::-1],
        8: lambda x: np.rot90(x, 1),
    }[o](a)


def to_rgb8(im):
    """8-bit RGB HxWx3 array from a Pillow image (already frame 0 and oriented)."""
    m = im.mode
    a = np.asarray(im)
    if m == '1':
        g = a.astype(np.uint8) * 255
        return np.stack([g] * 3, -1)
    if m in ('L', 'LA'):
        g = a if m == 'L' else a[:, :, 0]
        return np.stack([g] * 3, -1)
    if m in ('I;16', 'I;16L', 'I;16B', 'I;16N', 'I'):
        assert a.min() >= 0 and a.max() <= 65535, (m, a.min(), a.max())
        g = (a.astype(np.uint32) >> 8).astype(np.uint8)
        return np.stack([g] * 3, -1)
    if m in ('P', 'PA'):
        idx = a if m == 'P' else a[:, :, 0]
        rawmode, pal = im.palette.getdata()
        assert rawmode in ('RGB', 'RGBA', 'RGBX'), rawmode
        n = len(rawmode)
        pal = np.frombuffer(pal, np.uint8).reshape(-1, n)[:, :3]
        full = np.zeros((256, 3), np.uint8)
        full[:len(pal)] = pal[:256]
        return full[idx]
    if m in ('RGB', 'RGBA', 'RGBX', 'RGBa'):
        assert m != 'RGBa', 'premultiplied alpha not expected'
        return a[:, :, :3]
    raise ValueError(f'unsupported PIL mode {m}')


def webp_kind(data):
    """'webp-lossless' if the image bitstream is VP8L, else 'webp-lossy'."""
    pos = 12
    while pos + 8 <= len(data):
        tag, n = data[pos:pos + 4], struct.unpack('<I', data[pos + 4:pos + 8])[0]
        if tag == b'VP8L':
            return 'webp-lossless'
        if tag == b'VP8 ':
            return 'webp-lossy'
        pos += 8 + n + (n & 1)
    raise ValueError('no VP8/VP8L chunk')


def load(path):
    """Return (rgb HxWx3 uint8 C-contiguous, format, notes)."""
    notes = []
    with open(path, 'rb') as fh:
        data = fh.read()
    im = Image.open(io.BytesIO(data))
    fmt = im.format.lower()
    if fmt == 'webp':
        fmt = webp_kind(data)
    if getattr(im, 'n_frames', 1) > 1:
        im.seek(0)
    im.load()
    o = orientation_of(im)
    oriented = ImageOps.exif_transpose(im)
    rgb = to_rgb8(oriented)
    if fmt == 'png' and data[24] == 16:       # IHDR bit depth
        ref = orient_array(png_raw_rgb8(path), o)
        if not np.array_equal(ref, rgb):
            notes.append(f'Pillow mode {im.mode} differs from raw v>>8 in '
                         f'{int((ref != rgb).any(-1).sum())} px; using raw')
            rgb = ref
        else:
            notes.append(f'16-bit: Pillow mode {im.mode} == raw v>>8')
    elif fmt == 'png':
        ref = orient_array(png_raw_rgb8(path), o)
        if not np.array_equal(ref, rgb):
            notes.append(f'WARNING Pillow ({im.mode}) != raw decoder')
    if o != 1:
        notes.append(f'EXIF orientation {o}')
    return np.ascontiguousarray(rgb, dtype=np.uint8), fmt, notes


def hexhash(bits):
    bits = np.asarray(bits, dtype=np.uint8)
    assert bits.shape == (256,)
    return np.packbits(bits).tobytes().hex()


def compute_rows(verbose=True):
    files = sorted(f for f in os.listdir(IMAGES) if f.lower().endswith(EXTS))
    rows = []
    for f in files:
        rgb, fmt, notes = load(os.path.join(IMAGES, f))
        hashes, q = pdqhash.compute_dihedral(rgb)
        h0, q0 = pdqhash.compute(rgb)
        if not (np.array_equal(h0, hashes[0]) and q0 == q):
            notes.append(f'NOTE compute() != compute_dihedral()[0]: '
                         f'{int((np.asarray(h0) != np.asarray(hashes[0])).sum())} bits, q {q0} vs {q}')
        hx = [hexhash(h) for h in hashes]
        rows.append(['images/' + f, rgb.shape[1], rgb.shape[0], fmt, q] + hx)
        if verbose:
            print(f'{f:40} {fmt:14} {rgb.shape[1]:5}x{rgb.shape[0]:<5} q={q:3} {hx[0][:16]}… '
                  + '; '.join(notes), file=sys.stderr)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--check', action='store_true')
    ap.add_argument('-q', '--quiet', action='store_true')
    a = ap.parse_args()
    rows = compute_rows(not a.quiet)
    if a.check:
        with open(CSV, newline='') as fh:
            old = [r for r in csv.reader(fh) if r and not r[0].startswith('#')]
        new = [HEADER] + [[str(x) for x in r] for r in rows]
        if old != new:
            diff = [(o, n) for o, n in zip(old, new) if o != n]
            print(f'vectors.csv differs ({len(old)} vs {len(new)} rows):', file=sys.stderr)
            for o, n in diff[:10]:
                print(f'  old {o}\n  new {n}', file=sys.stderr)
            sys.exit(1)
        print(f'vectors.csv matches ({len(rows)} rows)', file=sys.stderr)
        return
    with open(CSV, 'w', newline='') as fh:
        w = csv.writer(fh, lineterminator='\n')
        w.writerow(HEADER)
        w.writerows(rows)
    print(f'wrote {CSV}: {len(rows)} rows (pdqhash {pdqhash.__version__})', file=sys.stderr)


if __name__ == '__main__':
    main()
