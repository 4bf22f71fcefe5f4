#!/usr/bin/env python3
"""How far cssim's aHash, dHash and pHash are from Python imagehash's on a set
of images: a histogram of the bits that differ, per algorithm and hash size,
for lossless files (where they must be equal) and for JPEGs and lossy WebP
(where Pillow's libjpeg-turbo and cssim's decoder differ in their last bits).

usage: .venv/bin/python scripts/imagehash_agreement.py [--cssim PATH] [--jpeg-dc]
                                                       [--sizes 8,16] [PATH...]

PATH... are files or folders (searched recursively for .png .jpg .jpeg .gif
.bmp .webp); default: the committed images (tests/data/pdq/images and
examples/images). imagehash is called as its users call it, on
PIL.Image.open(path) without EXIF transpose, so cssim runs with
--no-exif-rotate. --jpeg-dc measures cssim's opt-in JPEG-DC route instead of
the default full decode. Needs the reference venv
(scripts/setup-reference-venv.sh) and a built cssim (default
target/release/cssim). Exit status 1 if any lossless file differs.
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import warnings

import imagehash
from PIL import Image

# Pillow warns about palette PNGs with tRNS; imagehash's values are what they are.
warnings.filterwarnings('ignore', category=UserWarning, module='PIL')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXTS = ('.png', '.jpg', '.jpeg', '.gif', '.bmp', '.webp')
ALGOS = (('ahash', imagehash.average_hash), ('dhash', imagehash.dhash), ('phash', imagehash.phash))
DEFAULT_PATHS = [os.path.join(ROOT, 'tests', 'data', 'pdq', 'images'),
                 os.path.join(ROOT, 'examples', 'images')]


def files(paths):
    for p in paths:
        if os.path.isdir(p):
            for d, _, names in sorted(os.walk(p)):
                for n in sorted(names):
                    if n.lower().endswith(EXTS):
                        yield os.path.join(d, n)
        else:
            yield p


def lossless(path):
    with open(path, 'rb') as fh:
        data = fh.read(256)
    if data.startswith(b'\xff\xd8'):
        return False
    if data.startswith(b'RIFF') and data[8:12] == b'WEBP':
        return b'VP8L' in data[12:]
    return True


def cssim_hashes(cssim, paths, size, extra):
    out = subprocess.run([cssim, 'hash', '--no-exif-rotate', '--hash-size', str(size),
                          '--algo', 'ahash,dhash,phash', '--json', *extra, *paths],
                         capture_output=True, text=True)
    if out.returncode not in (0, 1):
        sys.exit(f'cssim failed: {out.stderr.strip()}')
    return {d['path']: d['digests'] for d in map(json.loads, out.stdout.splitlines())
            if 'digests' in d}


def bits(a, b):
    return bin(int(a, 16) ^ int(b, 16)).count('1')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--cssim', default=os.path.join(ROOT, 'target', 'release', 'cssim'))
    ap.add_argument('--jpeg-dc', action='store_true')
    ap.add_argument('--sizes', default='8,16')
    ap.add_argument('paths', nargs='*')
    a = ap.parse_args()
    paths = list(files(a.paths or DEFAULT_PATHS))
    sizes = [int(s) for s in a.sizes.split(',')]
    # (kind, algo, size) -> Counter of bits apart
    hist = collections.defaultdict(collections.Counter)
    worst = []
    for size in sizes:
        ours = cssim_hashes(a.cssim, paths, size, ['--jpeg-dc'] if a.jpeg_dc else [])
        for p in paths:
            if p not in ours:
                print(f'{p}: cssim could not hash it', file=sys.stderr)
                continue
            kind = 'lossless' if lossless(p) else 'lossy'
            try:
                with Image.open(p) as im:
                    theirs = {name: str(f(im, hash_size=size)) for name, f in ALGOS}
            except Exception as e:  # noqa: BLE001 - report and go on
                print(f'{p}: imagehash could not hash it: {e}', file=sys.stderr)
                continue
            for name, _ in ALGOS:
                d = bits(ours[p][name], theirs[name])
                hist[(kind, name, size)][d] += 1
                if d:
                    worst.append((d, kind, name, size, os.path.relpath(p, ROOT)))
    route = 'JPEG-DC route (--jpeg-dc)' if a.jpeg_dc else 'full decode (default)'
    print(f'cssim ({route}) against imagehash {imagehash.__version__}: images by bits apart')
    print(f'{"files":9} {"hash":6} {"size":>4} {"images":>6} {"equal":>6}  bits apart: count')
    for (kind, name, size), c in sorted(hist.items()):
        rest = ', '.join(f'{d}: {n}' for d, n in sorted(c.items()) if d)
        print(f'{kind:9} {name:6} {size:4} {sum(c.values()):6} {c[0]:6}  {rest or "-"}')
    if worst:
        print('\nimages that differ (bits, files, hash, size, path):')
        for w in sorted(worst, reverse=True)[:20]:
            print('  %3d %-8s %-6s %2d %s' % w)
    return 1 if any(d for (k, _, _), c in hist.items() if k == 'lossless' for d in c if d) else 0


if __name__ == '__main__':
    sys.exit(main())
