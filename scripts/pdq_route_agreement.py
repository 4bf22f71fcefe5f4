#!/usr/bin/env python3
"""Agreement of PDQ's fast route (a JPEG's DC image) with exact PDQ, over one folder.

usage: pdq_route_agreement.py [FOLDER] [--cssim PATH]

Runs `cssim hash --algo pdq --json --pdq-route exact|fast FOLDER` and compares the two
hashes of every file the fast route took (JPEGs at least 512 px a side; other files
decode fully on both routes and are equal). Prints the distance distribution, the share
within 2, 4, 8 and 31 bits (31 = PDQ's match threshold), and the quality changes, as
Markdown. Needs only the standard library.
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cssim, folder, route):
    out = subprocess.run([cssim, 'hash', '--algo', 'pdq', '--json', '--threads', '1',
                          '--pdq-route', route, folder],
                         capture_output=True, text=True, check=False)
    rows = {}
    for line in out.stdout.splitlines():
        r = json.loads(line)
        if 'digests' in r:
            rows[r['path']] = r
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('folder', nargs='?', default=os.path.join(ROOT, 'target/corpus/photos'))
    ap.add_argument('--cssim', default=os.path.join(ROOT, 'target/release/cssim'))
    a = ap.parse_args()
    exact = run(a.cssim, a.folder, 'exact')
    fast = run(a.cssim, a.folder, 'fast')
    dists, dq = [], []
    for path, f in fast.items():
        if f.get('pdq_route') != 'fast':
            continue
        e = exact[path]
        x = int(f['digests']['pdq'], 16) ^ int(e['digests']['pdq'], 16)
        dists.append(bin(x).count('1'))
        dq.append(f['pdq_quality'] - e['pdq_quality'])
    n = len(dists)
    if n == 0:
        sys.exit('no file took the fast route (JPEGs of at least 512 px a side)')
    print(f'{n} of {len(fast)} files took the fast route')
    print()
    print('| within | files | share |')
    print('|---|---:|---:|')
    for t in (0, 2, 4, 8, 16, 31):
        k = sum(d <= t for d in dists)
        print(f'| {t} bits | {k} | {100 * k / n:.0f}% |')
    s = sorted(dists)
    print()
    print(f'distance: median {s[n // 2]}, mean {sum(s) / n:.1f}, max {s[-1]}; '
          f'all: {s}')
    print(f'quality change (fast − exact): min {min(dq)}, max {max(dq)}, '
          f'mean {sum(dq) / n:+.1f}')


if __name__ == '__main__':
    main()
