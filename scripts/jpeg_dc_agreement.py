#!/usr/bin/env python3
"""How often the classic hashes of a JPEG differ between the DC route (opt-in,
--jpeg-dc: the grey image from the JPEG's DC coefficients) and a full decode
(the default).

usage: scripts/jpeg_dc_agreement.py [--cssim PATH] PATH...

Runs `cssim hash --algo phash,dhash,ahash --json` over PATH... twice, with and
without --jpeg-dc, and prints, per algorithm, how many images got hashes
that differ by 0, 1, 2, ... bits, then the images that differ by more than
2 bits, over all images and over the JPEGs at least 512 px a side, the ones
the DC route reads (smaller JPEGs, PNG, GIF and the rest are decoded fully
both ways, so their hashes are identical by construction). Needs only Python 3.
"""
import argparse
import collections
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALGOS = ('phash', 'dhash', 'ahash')


def run(cssim, paths, extra):
    out = subprocess.run([cssim, 'hash', '--algo', ','.join(ALGOS), '--json', *extra, *paths],
                         capture_output=True, text=True)
    if out.returncode not in (0, 1):
        sys.exit(f'cssim failed: {out.stderr.strip()}')
    return {d['path']: d for d in map(json.loads, out.stdout.splitlines()) if 'digests' in d}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--cssim', default=os.path.join(ROOT, 'target', 'release', 'cssim'))
    ap.add_argument('paths', nargs='+')
    a = ap.parse_args()
    dc, full = run(a.cssim, a.paths, ['--jpeg-dc']), run(a.cssim, a.paths, [])
    hist = {k: collections.Counter() for k in ALGOS}
    dc_hist = {k: collections.Counter() for k in ALGOS}
    far = []
    for path, d in sorted(dc.items()):
        f = full[path]
        assert (d['width'], d['height']) == (f['width'], f['height']), path
        for k in ALGOS:
            bits = bin(int(d['digests'][k], 16) ^ int(f['digests'][k], 16)).count('1')
            hist[k][bits] += 1
            if path.lower().endswith(('.jpg', '.jpeg')) and min(d['width'], d['height']) >= 512:
                dc_hist[k][bits] += 1
            if bits > 2:
                far.append((k, bits, path))
    for title, h in (('all images', hist), ('JPEGs read by the DC route', dc_hist)):
        print(f'{title}: {sum(h[ALGOS[0]].values())}')
        for k in ALGOS:
            cells = ', '.join(f'{b} bits: {n}' for b, n in sorted(h[k].items()))
            print(f'  {k}: {cells}')
    for k, bits, path in far:
        print(f'  {k} {bits} bits: {path}')


if __name__ == '__main__':
    main()
