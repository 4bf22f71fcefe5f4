#!/usr/bin/env python3
"""Write tests/data/jpeg/luma_block_means.csv: the mean of 8x8 luma blocks of
each JPEG fixture as libjpeg-turbo decodes it, the oracle for the DC reader
(src/hash/jpeg/) in src/hash/jpeg/dc_tests.rs.

usage: scripts/jpeg_luma_means.py      (Pillow; scripts/setup-reference-venv.sh)

Pillow's draft mode makes libjpeg-turbo hand over Y, Cb, Cr (or grey) without
colour conversion, so the Y plane is the JPEG's own luma. Only whole blocks
(inside the image on all sides) of every third block row and column (every
sixth in the one large fixture) are written, in stored orientation (EXIF ignored). Files Pillow cannot open as
YCbCr or grey (CMYK, RGB-coded) and truncated files are skipped.
"""
import csv
import os
import sys

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIR = os.path.join(ROOT, 'tests', 'data', 'jpeg')
OUT = os.path.join(DIR, 'luma_block_means.csv')


def luma(path):
    with Image.open(path) as im:
        if im.mode not in ('YCbCr', 'RGB', 'L') or 'adobe_transform' in im.info and im.info['adobe_transform'] == 0:
            return None
        mode = 'L' if im.mode == 'L' else 'YCbCr'
        im.draft(mode, im.size)
        if im.mode != mode:
            return None
        try:
            im.load()
        except OSError:
            return None          # truncated
        a = np.asarray(im)
        return a if a.ndim == 2 else a[:, :, 0]


def main():
    rows = []
    for name in sorted(os.listdir(DIR)):
        if not name.endswith('.jpg') or name.startswith('truncated_'):
            continue
        y = luma(os.path.join(DIR, name))
        if y is None:
            print(f'skip {name}', file=sys.stderr)
            continue
        h, w = y.shape
        step = 6 if w * h > 200_000 else 3
        for by in range(0, h // 8, step):
            for bx in range(0, w // 8, step):
                m = y[by * 8:by * 8 + 8, bx * 8:bx * 8 + 8].astype(np.float64).mean()
                rows.append((name, bx, by, f'{m:.3f}'))
    with open(OUT, 'w', newline='') as fh:
        out = csv.writer(fh, lineterminator='\n')
        out.writerow(['file', 'block_x', 'block_y', 'mean'])
        out.writerows(rows)
    print(f'{OUT}: {len(rows)} blocks', file=sys.stderr)


if __name__ == '__main__':
    main()
