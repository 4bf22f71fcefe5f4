#!/usr/bin/env python3
"""Agreement of PDQ's fast route with exact PDQ, over one folder.

usage: pdq_route_agreement.py [FOLDER] [--cssim PATH]

Runs `cssim hash --algo pdq --json --pdq-route exact|fast FOLDER` and compares the two
hashes of every file the fast route took (JPEGs at least 512 px a side, from their DC
image; baseline JPEGs of 128-511 px, from a 1/2-scale decode; other files decode fully
on both routes and are equal). Prints, for each scale and for all, the distance
distribution, the share within 2, 4, 8 and 31 bits (31 = PDQ's match threshold), and the
quality changes, as Markdown. Needs only the standard library.
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
    groups = {'1/8 (DC image, >= 512 px)': [], '1/2 (baseline, 128-511 px)': []}
    for path, f in fast.items():
        if f.get('pdq_route') != 'fast':
            continue
        e = exact[path]
        x = int(f['digests']['pdq'], 16) ^ int(e['digests']['pdq'], 16)
        dc = min(f['width'], f['height']) >= 512
        groups[list(groups)[0 if dc else 1]].append(
            (bin(x).count('1'), f['pdq_quality'] - e['pdq_quality']))
    groups['all'] = [r for g in list(groups.values()) for r in g]
    if not groups['all']:
        sys.exit('no file took the fast route')
    print(f"{len(groups['all'])} of {len(fast)} files took the fast route")
    print()
    names = [g for g in groups if groups[g]]
    print('| within | ' + ' | '.join(names) + ' |')
    print('|---|' + '---:|' * len(names))
    for t in (0, 2, 4, 8, 16, 31):
        cells = []
        for g in names:
            d = [r[0] for r in groups[g]]
            k = sum(v <= t for v in d)
            cells.append(f'{k} of {len(d)} ({100 * k / len(d):.0f}%)')
        print(f'| {t} bits | ' + ' | '.join(cells) + ' |')
    for g in names:
        s = sorted(r[0] for r in groups[g])
        dq = [r[1] for r in groups[g]]
        n = len(s)
        print()
        print(f'{g}: distance median {s[n // 2]}, mean {sum(s) / n:.1f}, max {s[-1]}; '
              f'all: {s}')
        print(f'quality change (fast - exact): min {min(dq)}, max {max(dq)}, '
              f'mean {sum(dq) / n:+.1f}')


if __name__ == '__main__':
    main()
