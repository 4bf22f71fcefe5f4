#!/usr/bin/env python3
"""Write tests/data/imagehash/imagehash.csv: Python imagehash's aHash, dHash
and pHash of every image in tests/data/pdq/images/ and examples/images/, at
hash_size 8 and 16, as imagehash users compute them:

    im = PIL.Image.open(path)          # no EXIF transpose, first frame
    str(imagehash.average_hash(im, hash_size))
    str(imagehash.dhash(im, hash_size))
    str(imagehash.phash(im, hash_size))

usage: .venv/bin/python scripts/imagehash_vectors.py [--check]
       (make the venv with scripts/setup-reference-venv.sh)

  --check   recompute and compare with the committed CSV instead of writing it
            (exit status 1 on any difference).

Columns: path (relative to the repository), format, lossless (1 for PNG, GIF,
BMP and lossless WebP, whose pixels every decoder agrees on; 0 for JPEG and
lossy WebP, where decoders differ in their last bits), exif_orientation (the
EXIF Orientation tag, 1 if none: imagehash ignores it, so cssim matches these
rows with --no-exif-rotate), then ahash, dhash, phash, ahash16, dhash16,
phash16 in imagehash's hex. tests/integration/imagehash_vectors.rs asserts cssim's values
equal these on every lossless row.
"""
import argparse
import csv
import io
import os
import sys

import imagehash
import PIL
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FOLDERS = [os.path.join('tests', 'data', 'pdq', 'images'),
           os.path.join('examples', 'images', 'benign'),
           os.path.join('examples', 'images', 'listed')]
CSV = os.path.join(ROOT, 'tests', 'data', 'imagehash', 'imagehash.csv')
EXTS = ('.png', '.jpg', '.jpeg', '.gif', '.bmp', '.webp')
HEADER = ['path', 'format', 'lossless', 'exif_orientation',
          'ahash', 'dhash', 'phash', 'ahash16', 'dhash16', 'phash16']


def file_format(path):
    with open(path, 'rb') as fh:
        head = fh.read(64)
    if head.startswith(b'\x89PNG'):
        return 'png', True
    if head.startswith(b'\xff\xd8'):
        return 'jpeg', False
    if head.startswith(b'GIF8'):
        return 'gif', True
    if head.startswith(b'BM'):
        return 'bmp', True
    if head.startswith(b'RIFF') and head[8:12] == b'WEBP':
        # The first chunk after VP8X (if any) tells lossless (VP8L) from lossy.
        data = open(path, 'rb').read()
        return ('webp-lossless', True) if b'VP8L' in data[12:200] else ('webp-lossy', False)
    raise SystemExit(f'{path}: unknown format')


def rows():
    out = []
    for folder in FOLDERS:
        for name in sorted(os.listdir(os.path.join(ROOT, folder))):
            if not name.lower().endswith(EXTS):
                continue
            rel = os.path.join(folder, name)
            fmt, lossless = file_format(os.path.join(ROOT, rel))
            with Image.open(os.path.join(ROOT, rel)) as im:
                orientation = im.getexif().get(0x0112, 1)
                hashes = []
                for size in (8, 16):
                    hashes += [str(imagehash.average_hash(im, hash_size=size)),
                               str(imagehash.dhash(im, hash_size=size)),
                               str(imagehash.phash(im, hash_size=size))]
            out.append([rel.replace(os.sep, '/'), fmt, int(lossless), orientation] + hashes)
    return out


def render(table):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator='\n')
    w.writerow(HEADER)
    w.writerows(table)
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--check', action='store_true')
    args = ap.parse_args()
    text = render(rows())
    if args.check:
        with open(CSV) as fh:
            committed = fh.read()
        if committed != text:
            print(f'{os.path.relpath(CSV, ROOT)} differs from a fresh computation', file=sys.stderr)
            return 1
        print(f'{os.path.relpath(CSV, ROOT)}: up to date')
        return 0
    os.makedirs(os.path.dirname(CSV), exist_ok=True)
    with open(CSV, 'w') as fh:
        fh.write(text)
    print(f'wrote {os.path.relpath(CSV, ROOT)}: {text.count(chr(10)) - 1} images '
          f'(imagehash {imagehash.__version__}, Pillow {PIL.__version__})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
