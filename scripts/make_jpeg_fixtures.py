#!/usr/bin/env python3
"""Build the JPEG *structure* fixtures in tests/data/jpeg/ (and their SOURCES.md).

usage: scripts/make_jpeg_fixtures.py [--check-only]

The fixtures exercise unusual JPEG structures for the DC-only (1/8-scale)
JPEG decoder: restart intervals (dividing and not dividing the MCU count),
progressive scripts (interleaved / non-interleaved / partially interleaved DC
scans, successive approximation Al=1 and Al=2), multi-scan sequential files,
chroma subsampling 4:2:0 / 4:2:2 / 4:4:0 / 4:1:1 / 4:4:4, grey, 16-bit
quantisation tables (SOF1), and files the decoder must refuse (arithmetic
coding, CMYK, RGB without colour transform, truncated data), plus EXIF
orientation 6 / 8. Most sizes are not multiples of 8 or 16, so partial blocks
and partial MCUs occur.

Sources: only the already-committed CC0 / public-domain images in
tests/data/pdq/images/ (photo_chelsea_451x300.png, photo_coffee_600x400.png,
photo_astronaut_512.png, gray_camera_512.png; licences in
tests/data/pdq/images/SOURCES.md). Everything produced here is CC0.

External tools: besides Pillow and numpy, this script calls `cjpeg`,
`jpegtran` and `djpeg` from libjpeg-turbo by subprocess (Debian/Ubuntu:
`apt-get install -y libjpeg-turbo-progs`). It stops with an error message if
they are missing. Intermediate files (PPM/PGM crops, scan scripts, base JPEGs)
live in a temporary directory; the commands recorded in SOURCES.md are the
exact argument lists run there (cwd = that directory).

Deterministic: fixed crops, Lanczos resampling, fixed encoder settings, no
randomness. Re-running with the same Pillow build and libjpeg-turbo-progs
version reproduces every file byte for byte (SOURCES.md records both versions
and a sha256 per file); other versions may change the encoded bytes but not
the structures.

After writing, every file is checked: Pillow decodes it (except truncated_*),
`djpeg` decodes it without warnings (truncated_* must warn), and a marker
walker written here reports SOF type, sampling factors, DRI, number of SOS
markers and RST markers; the table is printed.

--check-only   do not regenerate; only verify and print the table for the files
               already in tests/data/jpeg/.
"""
import argparse
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image, ImageOps, features

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC_DIR = os.path.join(ROOT, 'tests', 'data', 'pdq', 'images')
OUT_DIR = os.path.join(ROOT, 'tests', 'data', 'jpeg')
SCRIPT_REL = 'scripts/make_jpeg_fixtures.py'

MAX_FILE = 60 * 1024          # per-fixture limit (bytes)
MAX_TOTAL = 400 * 1024        # all fixtures together

# Source images (committed) and their licence lines, copied from
# tests/data/pdq/images/SOURCES.md.
SOURCES = {
    'chelsea': ('photo_chelsea_451x300.png',
                'scikit-image 0.26.0 (PyPI wheel), `skimage/data/chelsea.png`',
                'CC0 (photographer Stefan van der Walt; docstring of `skimage.data.chelsea`)'),
    'coffee': ('photo_coffee_600x400.png',
               'scikit-image 0.26.0 (PyPI wheel), `skimage/data/coffee.png`',
               'CC0 (photographer Rachel Michetti; docstring of `skimage.data.coffee`)'),
    'astronaut': ('photo_astronaut_512.png',
                  'scikit-image 0.26.0 (PyPI wheel), `skimage/data/astronaut.png`',
                  'Public domain (NASA photo; "released into the public domain", '
                  'docstring of `skimage.data.astronaut`)'),
    'camera': ('gray_camera_512.png',
               'scikit-image 0.26.0 (PyPI wheel), `skimage/data/camera.png`',
               'CC0 (photographer Lav Varshney; docstring of `skimage.data.camera`)'),
}

TOOLS = ('cjpeg', 'jpegtran', 'djpeg')


# ---------------------------------------------------------------- scan scripts
# libjpeg scan-script syntax: "components: Ss Se Ah Al;"
SCANS = {
    # progressive: one DC scan per component (no interleaving), Al=0 (no DC
    # refinement); luma AC split in two spectral bands.
    'dc_noninterleaved': (
        '0: 0 0 0 0;\n'
        '1: 0 0 0 0;\n'
        '2: 0 0 0 0;\n'
        '0: 1 9 0 0;\n'
        '0: 10 63 0 0;\n'
        '1: 1 63 0 0;\n'
        '2: 1 63 0 0;\n'),
    # progressive: Y-only DC scan, then Cb+Cr interleaved in one DC scan
    # (chroma-only MCUs), Al=1; AC scans; then DC refinement one component
    # per scan.
    'dc_partial_interleave_sa1': (
        '0: 0 0 0 1;\n'
        '1 2: 0 0 0 1;\n'
        '0: 1 63 0 0;\n'
        '1: 1 63 0 0;\n'
        '2: 1 63 0 0;\n'
        '0: 0 0 1 0;\n'
        '1: 0 0 1 0;\n'
        '2: 0 0 1 0;\n'),
    # progressive: interleaved DC first scan with Al=2, then two DC refinement
    # scans (Ah=2 Al=1, Ah=1 Al=0) with AC scans between them.
    'dc_al2_two_refinements': (
        '0 1 2: 0 0 0 2;\n'
        '0: 1 63 0 0;\n'
        '0 1 2: 0 0 2 1;\n'
        '1: 1 63 0 0;\n'
        '2: 1 63 0 0;\n'
        '0 1 2: 0 0 1 0;\n'),
    # sequential (all scans 0..63, Ah=Al=0) but one component per scan.
    'seq_noninterleaved': (
        '0: 0 63 0 0;\n'
        '1: 0 63 0 0;\n'
        '2: 0 63 0 0;\n'),
    # sequential: Y alone, then Cb+Cr interleaved.
    'seq_y_then_cbcr': (
        '0: 0 63 0 0;\n'
        '1 2: 0 63 0 0;\n'),
}


# ---------------------------------------------------------------- helpers
def die(msg):
    sys.exit(f'error: {msg}')


def check_tools():
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        die(f'{", ".join(missing)} not found on PATH. This script needs cjpeg, jpegtran '
            'and djpeg from libjpeg-turbo: apt-get install -y libjpeg-turbo-progs')


def tool_versions():
    r = subprocess.run(['cjpeg', '-version'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    turbo = r.stdout.strip().splitlines()[0] if r.stdout.strip() else 'unknown'
    deb = ''
    if shutil.which('dpkg-query'):
        q = subprocess.run(['dpkg-query', '-W', '-f=${Version}', 'libjpeg-turbo-progs'],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if q.returncode == 0:
            deb = q.stdout.strip()
    import PIL
    return {
        'cjpeg': turbo,
        'deb': deb or 'n/a',
        'pillow': PIL.__version__,
        'pillow_jpeg': features.version('jpg') or 'unknown',
        'numpy': np.__version__,
        'pillow_turbo': features.version('libjpeg_turbo') or 'unknown',
    }


def load(src):
    im = Image.open(os.path.join(SRC_DIR, SOURCES[src][0]))
    im.load()
    return im.convert('L' if src == 'camera' else 'RGB')


class Work:
    """A temp dir in which the tool commands run (cwd), recording each command."""

    def __init__(self, d):
        self.d = d

    def path(self, name):
        return os.path.join(self.d, name)

    def write_pnm(self, im, name):
        im.save(self.path(name), 'PPM')   # Pillow writes P5 for L, P6 for RGB
        return name

    def write_text(self, name, text):
        with open(self.path(name), 'w') as fh:
            fh.write(text)
        return name

    def run(self, args, log, allow_warning=None):
        r = subprocess.run(args, cwd=self.d, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        warn = r.stderr.decode(errors='replace').strip()
        if r.returncode != 0 or (warn and warn != allow_warning):
            die(f'{" ".join(args)} failed (rc {r.returncode}): {r.stderr.decode(errors="replace")}')
        log.append(' '.join(args))

    def read(self, name):
        with open(self.path(name), 'rb') as fh:
            return fh.read()


# ---------------------------------------------------------------- fixtures
# Each builder returns (bytes, upright reference image for the PSNR check,
# list of commands / steps). `W` is the Work dir.
def crop(src, box):
    return load(src).crop(box)


def cjpeg_fixture(W, stem, im, opts, pre_steps, allow_warning=None):
    log = list(pre_steps)
    ext = 'pgm' if im.mode == 'L' else 'ppm'
    pnm = W.write_pnm(im, f'{stem}.{ext}')
    out = f'{stem}.jpg'
    W.run(['cjpeg', *opts, '-outfile', out, pnm], log, allow_warning)
    if allow_warning:
        log.append(f'(cjpeg warns, as intended: "{allow_warning}")')
    return W.read(out), im, log


def cjpeg_scans_fixture(W, stem, im, opts, scans_key, pre_steps):
    log = list(pre_steps)
    scans = W.write_text(f'{scans_key}.txt', SCANS[scans_key])
    log.append(f'{scans} = scan script `{scans_key}` (see below)')
    pnm = W.write_pnm(im, f'{stem}.ppm')
    out = f'{stem}.jpg'
    W.run(['cjpeg', *opts, '-scans', scans, '-outfile', out, pnm], log)
    return W.read(out), im, log


def jpegtran_fixture(W, stem, im, base_opts, tran_opts, pre_steps, scans_key=None):
    """cjpeg a baseline 'base' JPEG, then losslessly re-encode it with jpegtran."""
    log = list(pre_steps)
    pnm = W.write_pnm(im, f'{stem}.ppm')
    base = f'{stem}.base.jpg'
    W.run(['cjpeg', *base_opts, '-outfile', base, pnm], log)
    extra = []
    if scans_key:
        scans = W.write_text(f'{scans_key}.txt', SCANS[scans_key])
        log.append(f'{scans} = scan script `{scans_key}` (see below)')
        extra = ['-scans', scans]
    out = f'{stem}.jpg'
    W.run(['jpegtran', '-copy', 'none', *tran_opts, *extra, '-outfile', out, base], log)
    return W.read(out), im, log


def pillow_fixture(stored, upright, save_kw, pre_steps):
    buf = io.BytesIO()
    stored.save(buf, 'JPEG', **save_kw)
    kw = ', '.join(f'{k}={v!r}' for k, v in save_kw.items() if k != 'exif')
    if 'exif' in save_kw:
        kw += ', exif=<EXIF with only tag 0x0112>'
    return buf.getvalue(), upright, list(pre_steps) + [f'Pillow `Image.save(fp, "JPEG", {kw})`']


def exif_orientation(o):
    ex = Image.Exif()
    ex[0x0112] = o
    return ex.tobytes()


def truncate(data, frac):
    n = int(len(data) * frac)
    while data[n - 1] == 0xFF:     # do not end on a lone 0xFF (half a marker)
        n -= 1
    return data[:n]


Q = ['-quality']
CH = (120, 60, 323, 201)      # chelsea 203x141
CO = (150, 90, 467, 319)      # coffee 317x229
AS = (130, 40, 380, 227)      # astronaut 250x187
CA = (150, 80, 400, 267)      # camera 250x187
# Sizes whose luma block count ceil(W/8) x ceil(H/8) is odd in both directions, so a
# non-interleaved Y scan covers fewer blocks than the padded 4:2:0 MCU grid (2 per MCU).
AS2 = (140, 50, 371, 215)     # astronaut 231x165: Y 29x21 blocks, MCU grid 15x11 (30x22)
CO2 = (190, 110, 405, 307)    # coffee 215x197: Y 27x25 blocks, MCU grid 14x13 (28x26)


def fixtures():
    """(file name, source key, structure description, builder(W) -> (bytes, ref, steps))."""
    F = []

    def add(name, src, what, build):
        F.append((name, src, what, build))

    def c(src, box):
        return f'crop {src} box {box} -> {box[2] - box[0]}x{box[3] - box[1]}'

    # --- baseline 4:2:0 with restart intervals
    add('baseline_420_dri1row_chelsea_203x141.jpg', 'chelsea',
        'baseline (SOF0) 4:2:0, DRI = 1 MCU row = 13 MCUs (divides the 13x9 = 117 MCUs)',
        lambda W: cjpeg_fixture(W, 'b420r1', crop('chelsea', CH),
                                Q + ['85', '-sample', '2x2', '-restart', '1'], [c('chelsea', CH)]))
    add('baseline_420_dri5b_nondividing_chelsea_203x141.jpg', 'chelsea',
        'baseline 4:2:0, DRI = 5 MCUs: does not divide the 117 MCUs (last interval 2 MCUs) '
        'nor the 13-MCU row (intervals straddle rows)',
        lambda W: cjpeg_fixture(W, 'b420r5', crop('chelsea', CH),
                                Q + ['85', '-sample', '2x2', '-restart', '5B'], [c('chelsea', CH)]))
    # --- progressive 4:2:0 default script with restarts
    add('progressive_420_dri7b_coffee_317x229.jpg', 'coffee',
        'progressive (SOF2) 4:2:0, libjpeg default script (10 scans: interleaved DC Al=1, ..., '
        'DC refinement Ah=1 Al=0), DRI = 7: counted in MCUs in the interleaved DC scans '
        '(20x15 = 300 MCUs, 300 mod 7 = 6) and in blocks in the single-component AC scans '
        '(Y 40x29 = 1160 blocks, Cb/Cr 20x15)',
        lambda W: cjpeg_fixture(W, 'p420r7', crop('coffee', CO),
                                Q + ['80', '-sample', '2x2', '-progressive', '-restart', '7B'],
                                [c('coffee', CO)]))
    # --- progressive grayscale
    add('progressive_gray_camera_250x187.jpg', 'camera',
        'progressive 1-component (grey) JPEG, libjpeg default grey script (6 scans: DC Al=1, '
        'AC bands, DC refinement, AC refinement)',
        lambda W: cjpeg_fixture(W, 'pgray', crop('camera', CA),
                                Q + ['85', '-grayscale', '-progressive'], [c('camera', CA)]))
    # --- progressive with custom scan scripts (jpegtran -scans)
    add('progressive_420_dc_noninterleaved_astronaut_231x165.jpg', 'astronaut',
        'progressive 4:2:0, one DC scan per component (non-interleaved: the Y scan covers '
        'ceil(231/8) x ceil(165/8) = 29x21 blocks, not the 30x22 blocks of the padded 15x11 MCU '
        'grid; Cb/Cr 15x11 blocks), Al=0, no DC refinement',
        lambda W: jpegtran_fixture(W, 'pni', crop('astronaut', AS2),
                                   Q + ['85', '-sample', '2x2'], [], [c('astronaut', AS2)],
                                   scans_key='dc_noninterleaved'))
    add('progressive_420_dc_partial_interleave_sa1_dri4b_coffee_215x197.jpg', 'coffee',
        'progressive 4:2:0: Y-only DC scan (27x25 = 675 blocks, padded grid would be 28x26), '
        'then one DC scan with Cb+Cr interleaved (MCU = 1 Cb + 1 Cr block, 14x13 = 182 MCUs), '
        'Al=1; DC refinement one component per scan; DRI = 4, counted in blocks in the '
        'single-component scans (675 mod 4 = 3) and in MCUs in the Cb+Cr scan (182 mod 4 = 2)',
        lambda W: jpegtran_fixture(W, 'ppi', crop('coffee', CO2),
                                   Q + ['85', '-sample', '2x2'], ['-restart', '4B'],
                                   [c('coffee', CO2)], scans_key='dc_partial_interleave_sa1'))
    add('progressive_420_dc_al2_two_refinements_chelsea_317x229.jpg', 'chelsea',
        'progressive 4:2:0: interleaved DC first scan with Al=2, then two DC refinement scans '
        '(Ah=2 Al=1 and Ah=1 Al=0) with AC scans in between (Y AC scan covers 40x29 blocks, '
        'MCU grid 20x15)',
        lambda W: jpegtran_fixture(W, 'pal2', crop('chelsea', (70, 40, 387, 269)),
                                   Q + ['80', '-sample', '2x2'], [],
                                   [c('chelsea', (70, 40, 387, 269))],
                                   scans_key='dc_al2_two_refinements'))
    # --- multi-scan sequential (cjpeg -scans with 0..63 scans -> SOF0/SOF1, not progressive)
    add('baseline_420_noninterleaved_scans_coffee_317x229.jpg', 'coffee',
        'sequential (SOF0) 4:2:0 with 3 scans, one component per scan (non-interleaved '
        'sequential; Y scan 40x29 blocks vs. padded MCU grid 40x30)',
        lambda W: cjpeg_scans_fixture(W, 'sni', crop('coffee', CO),
                                      Q + ['75', '-sample', '2x2'], 'seq_noninterleaved',
                                      [c('coffee', CO)]))
    add('baseline_420_y_then_cbcr_scans_dri6b_astronaut_231x165.jpg', 'astronaut',
        'sequential (SOF0) 4:2:0 with 2 scans: Y alone (29x21 = 609 blocks), then Cb+Cr '
        'interleaved (15x11 = 165 MCUs); DRI = 6, counted in blocks in the Y scan (609 mod 6 = 3) '
        'and in MCUs in the Cb+Cr scan (165 mod 6 = 3)',
        lambda W: cjpeg_scans_fixture(W, 'syc', crop('astronaut', AS2),
                                      Q + ['80', '-sample', '2x2', '-restart', '6B'],
                                      'seq_y_then_cbcr', [c('astronaut', AS2)]))
    # --- other subsamplings
    add('baseline_422_h2v1_astronaut_250x187.jpg', 'astronaut',
        'baseline 4:2:2 (Y 2x1, Cb/Cr 1x1), odd height',
        lambda W: cjpeg_fixture(W, 'b422', crop('astronaut', AS),
                                Q + ['85', '-sample', '2x1'], [c('astronaut', AS)]))
    add('baseline_440_h1v2_chelsea_203x141.jpg', 'chelsea',
        'baseline 4:4:0 (Y 1x2, Cb/Cr 1x1), MCU 8x16',
        lambda W: cjpeg_fixture(W, 'b440', crop('chelsea', CH),
                                Q + ['85', '-sample', '1x2'], [c('chelsea', CH)]))
    add('baseline_411_h4v1_coffee_317x229.jpg', 'coffee',
        'baseline 4:1:1 (Y 4x1, Cb/Cr 1x1), MCU 32x8, 317 px = 9.9 MCUs wide',
        lambda W: cjpeg_fixture(W, 'b411', crop('coffee', CO),
                                Q + ['80', '-sample', '4x1'], [c('coffee', CO)]))
    add('baseline_444_q95_astronaut_203x141.jpg', 'astronaut',
        'baseline 4:4:4 (all 1x1), quality 95',
        lambda W: cjpeg_fixture(W, 'b444', crop('astronaut', (150, 60, 353, 201)),
                                Q + ['95', '-sample', '1x1'], [c('astronaut', (150, 60, 353, 201))]))
    add('extended_sof1_q10_16bit_dqt_coffee_203x141.jpg', 'coffee',
        'extended sequential (SOF1): quality 10 without -baseline gives quantisation values '
        '> 255, so DQT tables have 16-bit precision (Pq=1); 4:2:0',
        lambda W: cjpeg_fixture(W, 'sof1', crop('coffee', (200, 120, 403, 261)),
                                Q + ['10', '-sample', '2x2'], [c('coffee', (200, 120, 403, 261))],
                                allow_warning='Caution: quantization tables are too coarse '
                                              'for baseline JPEG'))
    add('baseline_420_tiny_13x9_chelsea.jpg', 'chelsea',
        'baseline 4:2:0 smaller than one MCU (13x9: one partial 16x16 MCU, 1/8 scale is 2x2)',
        lambda W: cjpeg_fixture(W, 'tiny', load('chelsea').resize((13, 9), Image.LANCZOS),
                                Q + ['90', '-sample', '2x2'],
                                ['resize chelsea 451x300 -> 13x9 (Lanczos)']))
    # --- must be refused (fallback)
    add('arithmetic_baseline_420_chelsea_203x141.jpg', 'chelsea',
        'arithmetic-coded sequential (SOF9, DAC marker) 4:2:0 -- decoder must refuse',
        lambda W: jpegtran_fixture(W, 'ari', crop('chelsea', CH),
                                   Q + ['85', '-sample', '2x2'], ['-arithmetic'], [c('chelsea', CH)]))
    add('arithmetic_progressive_420_coffee_203x141.jpg', 'coffee',
        'arithmetic-coded progressive (SOF10) 4:2:0 -- decoder must refuse',
        lambda W: jpegtran_fixture(W, 'arip', crop('coffee', (200, 120, 403, 261)),
                                   Q + ['85', '-sample', '2x2'], ['-arithmetic', '-progressive'],
                                   [c('coffee', (200, 120, 403, 261))]))
    add('cmyk_adobe_coffee_203x141.jpg', 'coffee',
        '4-component CMYK JPEG with Adobe APP14 (transform 0, inverted CMYK as Photoshop) -- '
        'decoder must refuse',
        lambda W: pillow_fixture(crop('coffee', (200, 120, 403, 261)).convert('CMYK'),
                                 crop('coffee', (200, 120, 403, 261)),
                                 {'quality': 85},
                                 [c('coffee', (200, 120, 403, 261)), 'Pillow `convert("CMYK")`']))
    add('rgb_no_transform_chelsea_203x141.jpg', 'chelsea',
        '3-component JPEG coded as RGB (component ids R,G,B; Adobe APP14 transform 0; no '
        'YCbCr transform), 1x1 sampling -- decoder must refuse',
        lambda W: cjpeg_fixture(W, 'rgb', crop('chelsea', CH),
                                Q + ['85', '-rgb'], [c('chelsea', CH)]))
    # --- EXIF orientation (Pillow)
    add('exif_orient6_chelsea_stored_141x203.jpg', 'chelsea',
        'baseline 4:2:0 with EXIF Orientation = 6: stored 141x203, displayed 203x141',
        lambda W: pillow_fixture(crop('chelsea', CH).transpose(Image.Transpose.ROTATE_90),
                                 crop('chelsea', CH),
                                 {'quality': 85, 'subsampling': 2, 'exif': exif_orientation(6)},
                                 [c('chelsea', CH), 'rotate 90 deg counter-clockwise']))
    add('exif_orient8_coffee_stored_229x317.jpg', 'coffee',
        'baseline 4:2:0 with EXIF Orientation = 8: stored 229x317, displayed 317x229',
        lambda W: pillow_fixture(crop('coffee', CO).transpose(Image.Transpose.ROTATE_270),
                                 crop('coffee', CO),
                                 {'quality': 85, 'subsampling': 2, 'exif': exif_orientation(8)},
                                 [c('coffee', CO), 'rotate 90 deg clockwise']))
    # --- truncated
    def trunc(W, stem, im, opts, pre):
        data, ref, log = cjpeg_fixture(W, stem, im, opts, pre)
        t = truncate(data, 0.6)
        log.append(f'keep the first {len(t)} of {len(data)} bytes (60 %; no EOI)')
        return t, ref, log
    add('truncated_baseline_420_dri2b_60pct_coffee_317x229.jpg', 'coffee',
        'baseline 4:2:0, DRI = 2, entropy data cut at 60 % of the file (no EOI) -- must fail '
        'or fall back',
        lambda W: trunc(W, 'trb', crop('coffee', CO), Q + ['85', '-sample', '2x2', '-restart', '2B'],
                        [c('coffee', CO)]))
    add('truncated_progressive_420_60pct_astronaut_250x187.jpg', 'astronaut',
        'progressive 4:2:0 (default script), cut at 60 % of the file (no EOI)',
        lambda W: trunc(W, 'trp', crop('astronaut', AS),
                        Q + ['85', '-sample', '2x2', '-progressive'], [c('astronaut', AS)]))
    # --- larger progressive
    add('progressive_420_q70_large_astronaut_701x563.jpg', 'astronaut',
        'progressive 4:2:0 q70 (default script), short side 563 > 512 (44x36 MCUs, last '
        'column and row partial)',
        lambda W: cjpeg_fixture(W, 'plarge',
                                load('astronaut').resize((701, 701), Image.LANCZOS)
                                .crop((0, 40, 701, 603)),
                                Q + ['70', '-sample', '2x2', '-progressive'],
                                ['resize astronaut 512x512 -> 701x701 (Lanczos), crop box '
                                 '(0, 40, 701, 603) -> 701x563']))
    return F


# ---------------------------------------------------------------- marker walker
SOF_NAMES = {0xC0: 'SOF0', 0xC1: 'SOF1', 0xC2: 'SOF2', 0xC3: 'SOF3', 0xC5: 'SOF5',
             0xC6: 'SOF6', 0xC7: 'SOF7', 0xC9: 'SOF9', 0xCA: 'SOF10', 0xCB: 'SOF11',
             0xCD: 'SOF13', 0xCE: 'SOF14', 0xCF: 'SOF15'}


def walk(data):
    """Walk JPEG markers. Returns a dict with sof, size, components, dri list,
    scans (list of (component ids, Ss, Se, Ah, Al)), rst count, eoi flag,
    dqt precisions, adobe transform, complete-scan count."""
    info = {'sof': None, 'w': None, 'h': None, 'comps': [], 'dri': [], 'scans': [],
            'rst': 0, 'eoi': False, 'dqt_pq': set(), 'adobe': None, 'complete_scans': 0,
            'error': None}
    if data[:2] != b'\xff\xd8':
        info['error'] = 'no SOI'
        return info
    i, n = 2, len(data)
    while i < n:
        if data[i] != 0xFF:
            info['error'] = f'expected marker at {i}'
            return info
        while i < n and data[i] == 0xFF:      # fill bytes
            i += 1
        if i >= n:
            break
        m = data[i]
        i += 1
        if m == 0xD9:
            info['eoi'] = True
            return info
        if 0xD0 <= m <= 0xD7 or m == 0x01:
            continue
        if i + 2 > n:
            info['error'] = 'truncated marker segment'
            return info
        length = int.from_bytes(data[i:i + 2], 'big')
        seg = data[i + 2:i + length]
        if len(seg) != length - 2:
            info['error'] = 'truncated marker segment'
            return info
        i += length
        if m in SOF_NAMES:
            info['sof'] = SOF_NAMES[m]
            info['h'] = int.from_bytes(seg[1:3], 'big')
            info['w'] = int.from_bytes(seg[3:5], 'big')
            for k in range(seg[5]):
                cid, hv, tq = seg[6 + 3 * k:9 + 3 * k]
                info['comps'].append((cid, hv >> 4, hv & 15, tq))
        elif m == 0xDD:
            info['dri'].append(int.from_bytes(seg[0:2], 'big'))
        elif m == 0xDB:
            p = 0
            while p < len(seg):
                pq = seg[p] >> 4
                info['dqt_pq'].add(pq)
                p += 1 + 64 * (2 if pq else 1)
        elif m == 0xEE and seg[:5] == b'Adobe' and len(seg) >= 12:
            info['adobe'] = seg[11]
        elif m == 0xDA:
            ns = seg[0]
            ids = tuple(seg[1 + 2 * k] for k in range(ns))
            ss, se, ahal = seg[1 + 2 * ns], seg[2 + 2 * ns], seg[3 + 2 * ns]
            info['scans'].append((ids, ss, se, ahal >> 4, ahal & 15))
            # skip entropy-coded data up to the next non-RST marker
            while True:
                j = data.find(b'\xff', i)
                if j < 0 or j + 1 >= n:
                    info['error'] = 'truncated entropy-coded data'
                    return info
                nxt = data[j + 1]
                if nxt == 0x00:
                    i = j + 2
                elif 0xD0 <= nxt <= 0xD7:
                    info['rst'] += 1
                    i = j + 2
                elif nxt == 0xFF:
                    i = j + 1
                else:
                    i = j
                    info['complete_scans'] += 1
                    break
    info['error'] = info['error'] or 'no EOI'
    return info


def sampling_label(comps):
    if len(comps) == 1:
        return 'grey'
    if len(comps) == 4:
        return 'cmyk ' + ','.join(f'{h}x{v}' for _, h, v, _ in comps)
    f = tuple((h, v) for _, h, v, _ in comps)
    names = {((2, 2), (1, 1), (1, 1)): '4:2:0', ((2, 1), (1, 1), (1, 1)): '4:2:2',
             ((1, 2), (1, 1), (1, 1)): '4:4:0', ((4, 1), (1, 1), (1, 1)): '4:1:1',
             ((1, 1), (1, 1), (1, 1)): '4:4:4'}
    return names.get(f, ','.join(f'{h}x{v}' for h, v in f))


def geometry(w):
    """'MCU grid AxB; blocks per component (non-interleaved scan extent) ...'."""
    if not w['comps'] or not w['w']:
        return '?'
    hmax = max(h for _, h, _, _ in w['comps'])
    vmax = max(v for _, _, v, _ in w['comps'])
    if len(w['comps']) == 1:
        hmax = vmax = 1    # single-component: MCU = one block
    mx = -(-w['w'] // (8 * hmax))
    my = -(-w['h'] // (8 * vmax))
    parts = []
    for _, h, v, _ in w['comps']:
        if len(w['comps']) == 1:
            h = v = 1
        bw = -(-(-(-w['w'] * h // hmax)) // 8)
        bh = -(-(-(-w['h'] * v // vmax)) // 8)
        parts.append(f'{bw}x{bh}')
    return f'MCU grid {mx}x{my}; blocks per component {" / ".join(parts)}'


def comp_ids(w):
    ids = [cid for cid, _, _, _ in w['comps']]
    if all(65 <= c <= 90 for c in ids):
        return ','.join(chr(c) for c in ids)
    return ','.join(map(str, ids))


def scan_list(w):
    """One compact string per scan: 'comps Ss-Se Ah/Al'."""
    ids = [cid for cid, _, _, _ in w['comps']]
    out = []
    for k, (cs, ss, se, ah, al) in enumerate(w['scans']):
        names = '+'.join(str(ids.index(c)) if c in ids else f'?{c}' for c in cs)
        tag = f'[{names}] {ss}-{se} Ah{ah} Al{al}'
        if k >= w['complete_scans']:
            tag += ' (cut)'
        out.append(tag)
    return '; '.join(out)


def psnr(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    mse = np.mean((a - b) ** 2)
    return float('inf') if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


# ---------------------------------------------------------------- verification
def verify(path, ref=None):
    name = os.path.basename(path)
    with open(path, 'rb') as fh:
        data = fh.read()
    w = walk(data)
    truncated = name.startswith('truncated_')
    row = {'file': name, 'bytes': len(data), 'walk': w, 'sha': hashlib.sha256(data).hexdigest()}
    # Pillow
    try:
        im = Image.open(io.BytesIO(data))
        row['mode'] = im.mode
        row['progressive'] = bool(im.info.get('progressive') or im.info.get('progression'))
        row['orient'] = im.getexif().get(0x0112)
        row['pil_size'] = im.size
        if truncated:
            try:
                im.load()
                row['pillow'] = 'decoded (unexpected)'
            except OSError as e:
                row['pillow'] = f'refused: {e}'
        else:
            im.load()
            row['pillow'] = 'ok'
            if ref is not None:
                up = ImageOps.exif_transpose(im).convert(ref.mode)
                if up.size != ref.size:
                    die(f'{name}: upright size {up.size} != reference {ref.size}')
                row['psnr'] = psnr(up, ref)
    except Exception as e:     # noqa: BLE001 -- report any decode failure
        row.setdefault('mode', '?')
        row.setdefault('progressive', None)
        row.setdefault('orient', None)
        row['pillow'] = f'FAILED: {e}'
    # djpeg
    r = subprocess.run(['djpeg', '-outfile', os.devnull, path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    err = r.stderr.decode(errors='replace').strip().replace('\n', ' / ')
    row['djpeg'] = 'ok' if r.returncode == 0 and not err else f'rc {r.returncode}: {err}'
    # expectations
    problems = []
    if truncated:
        if w['eoi']:
            problems.append('truncated file has EOI')
        if row['djpeg'] == 'ok':
            problems.append('djpeg did not warn on truncated file')
    else:
        if row['pillow'] != 'ok':
            problems.append(f'Pillow: {row["pillow"]}')
        if row['djpeg'] != 'ok':
            problems.append(f'djpeg: {row["djpeg"]}')
        if not w['eoi'] or w['error']:
            problems.append(f'marker walk: {w["error"]}')
    if name.startswith('extended_sof1_') and (w['sof'] != 'SOF1' or 1 not in w['dqt_pq']):
        problems.append('expected SOF1 with a 16-bit DQT table')
    if len(data) > MAX_FILE:
        problems.append(f'{len(data)} bytes > {MAX_FILE}')
    row['problems'] = problems
    return row


def fmt_table(rows):
    hdr = ['file', 'bytes', 'WxH', 'mode', 'SOF', 'prog', 'sampling', 'ids', 'APP14', 'DQT', 'DRI',
           'SOS', 'RST', 'EOI', 'orient', 'djpeg', 'PSNR']
    out = []
    for r in rows:
        w = r['walk']
        scans = f'{len(w["scans"])}'
        if w['complete_scans'] != len(w['scans']):
            scans += f' ({w["complete_scans"]} complete)'
        out.append([
            r['file'], str(r['bytes']), f'{w["w"]}x{w["h"]}', r['mode'], w['sof'] or '?',
            'yes' if w['sof'] in ('SOF2', 'SOF10') else 'no', sampling_label(w['comps']),
            comp_ids(w), '-' if w['adobe'] is None else f't={w["adobe"]}',
            '+'.join('16' if pq else '8' for pq in sorted(w['dqt_pq'])) + '-bit',
            ','.join(map(str, w['dri'])) or '-', scans, str(w['rst']), 'yes' if w['eoi'] else 'NO',
            str(r['orient'] or '-'),
            'ok' if r['djpeg'] == 'ok' else 'warn/err',
            f'{r["psnr"]:.1f}' if 'psnr' in r else '-'])
    widths = [max(len(h), *(len(x[k]) for x in out)) for k, h in enumerate(hdr)]
    lines = ['  '.join(h.ljust(widths[k]) for k, h in enumerate(hdr))]
    lines.append('  '.join('-' * wd for wd in widths))
    for x in out:
        lines.append('  '.join(v.ljust(widths[k]) for k, v in enumerate(x)))
    return '\n'.join(lines)


# ---------------------------------------------------------------- SOURCES.md
def write_sources(entries, rows, vers):
    byname = {r['file']: r for r in rows}
    L = []
    L.append('# JPEG structure fixtures: sources and licences\n')
    total = sum(r['bytes'] for r in rows)
    L.append(f'{len(rows)} files, {total:,} bytes. Generated by `{SCRIPT_REL}` (run: '
             f'`.venv/bin/python {SCRIPT_REL}`; it needs Pillow, numpy and `cjpeg` / '
             '`jpegtran` / `djpeg` from `libjpeg-turbo-progs`). Every fixture is derived only '
             'from committed images in `tests/data/pdq/images/` whose licences are public domain '
             'or CC0 (see `tests/data/pdq/images/SOURCES.md`); the derived files are released as '
             'CC0. All images are innocuous (a cat, coffee, an astronaut, a cameraman).\n')
    L.append('Tools used for these bytes: '
             f'Pillow {vers["pillow"]} (bundled libjpeg-turbo {vers["pillow_turbo"]}, libjpeg API '
             f'{vers["pillow_jpeg"]}; used for the EXIF and CMYK fixtures), '
             f'numpy {vers["numpy"]}, {vers["cjpeg"]} (Debian `libjpeg-turbo-progs` {vers["deb"]}). '
             'Crops and resizes are done by Pillow (Lanczos) and written as binary PPM/PGM; '
             'every command below was run in a temporary directory holding those files. '
             'Re-running the script with the same versions reproduces the bytes exactly '
             '(sha256 prefix in the table); other versions may change bytes but not structure.\n')
    L.append('## Source images\n')
    L.append('| source (in `tests/data/pdq/images/`) | origin | licence |')
    L.append('|---|---|---|')
    for key in ('chelsea', 'coffee', 'astronaut', 'camera'):
        f, origin, lic = SOURCES[key]
        L.append(f'| `{f}` | {origin} | {lic} |')
    L.append('')
    L.append('## Fixtures\n')
    L.append('Columns from the script\'s own marker walk: SOF type, sampling, DRI (restart '
             'interval), SOS = number of scans, RST = number of restart markers.\n')
    L.append('| file | source | licence | structure exercised | SOF / sampling / DRI / SOS / RST | '
             'how it is made (exact commands) | bytes | sha256[:16] |')
    L.append('|---|---|---|---|---|---|---|---|')
    for name, src, what, steps in entries:
        r = byname[name]
        w = r['walk']
        f, _, lic = SOURCES[src]
        sos = f'{len(w["scans"])}'
        if w['complete_scans'] != len(w['scans']):
            sos += f' ({w["complete_scans"]} complete)'
        struct_cols = (f'{w["sof"]} / {sampling_label(w["comps"])} / '
                       f'{",".join(map(str, w["dri"])) or "-"} / {sos} / {w["rst"]}')
        if w['complete_scans'] < len(w['scans']):
            k = w['complete_scans']
            what += (f'. The cut falls inside scan {k + 1} of the file '
                     f'(`{scan_list(w).split("; ")[k].replace(" (cut)", "")}`); '
                     f'scans 1-{k} are complete' if k else
                     f'. The cut falls inside the only scan')
        cmds = '; '.join(f'`{s}`' if s.startswith(('cjpeg', 'jpegtran')) else s for s in steps)
        L.append(f'| `{name}` | `{f}` | {lic} | {what} | {struct_cols} | {cmds} | '
                 f'{r["bytes"]:,} | `{r["sha"][:16]}` |')
    L.append('')
    L.append('## Frame geometry and scans (from the marker walk)\n')
    L.append('Scans are written `[component indices] Ss-Se Ah Al` (0 = first component in the '
             'frame header); "(cut)" marks a scan whose data is truncated. Component ids and the '
             'Adobe APP14 transform flag are shown where they matter.\n')
    L.append('| file | WxH | component ids / APP14 | geometry | scans |')
    L.append('|---|---|---|---|---|')
    for name, _, _, _ in entries:
        w = byname[name]['walk']
        app14 = '' if w['adobe'] is None else f' / transform {w["adobe"]}'
        L.append(f'| `{name}` | {w["w"]}x{w["h"]} | {comp_ids(w)}{app14} | {geometry(w)} | '
                 f'{scan_list(w)} |')
    L.append('')
    L.append('## Scan scripts\n')
    L.append('Written to `<name>.txt` and passed to `cjpeg -scans` / `jpegtran -scans` '
             '(libjpeg syntax `components: Ss Se Ah Al;`; component 0 = Y, 1 = Cb, 2 = Cr).\n')
    used = set()
    for _, _, _, steps in entries:
        for s in steps:
            for k in SCANS:
                if f'`{k}`' in s:
                    used.add(k)
    for k in SCANS:
        if k in used:
            L.append(f'`{k}.txt`:\n')
            L.append('```')
            L.append(SCANS[k].rstrip('\n'))
            L.append('```\n')
    L.append('## Notes\n')
    L.append('- `truncated_*` files end without EOI in the middle of entropy-coded data; Pillow '
             'refuses them (unless `LOAD_TRUNCATED_IMAGES`) and `djpeg` warns "Premature end of '
             'JPEG file". The cut point is 60 % of the complete file, moved back by one byte if '
             'it would end on a lone 0xFF.')
    L.append('- The EXIF fixtures carry an EXIF block containing only tag 0x0112 (Orientation); '
             'their pixels are stored rotated so that applying the orientation gives the upright '
             'crop.')
    L.append('- `arithmetic_*`, `cmyk_*`, `rgb_no_transform_*` are meant to be refused by the '
             'DC-only decoder (fallback to the full decoder).')
    with open(os.path.join(OUT_DIR, 'SOURCES.md'), 'w') as fh:
        fh.write('\n'.join(L) + '\n')


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--check-only', action='store_true')
    args = ap.parse_args()
    check_tools()
    for key, (f, _, _) in SOURCES.items():
        if not os.path.isfile(os.path.join(SRC_DIR, f)):
            die(f'source image {os.path.join(SRC_DIR, f)} missing')
    vers = tool_versions()
    print(f'Pillow {vers["pillow"]} (libjpeg-turbo {vers["pillow_turbo"]}), numpy {vers["numpy"]}, '
          f'{vers["cjpeg"]}, libjpeg-turbo-progs {vers["deb"]}')

    F = fixtures()
    rows, entries = [], []
    if args.check_only:
        for name, src, what, _ in F:
            rows.append(verify(os.path.join(OUT_DIR, name)))
    else:
        os.makedirs(OUT_DIR, exist_ok=True)
        names = {name for name, *_ in F}
        for old in os.listdir(OUT_DIR):     # drop fixtures this script no longer makes
            if old.endswith('.jpg') and old not in names:
                os.remove(os.path.join(OUT_DIR, old))
        with tempfile.TemporaryDirectory(prefix='jpegfix-') as d:
            W = Work(d)
            for name, src, what, build in F:
                data, ref, steps = build(W)
                path = os.path.join(OUT_DIR, name)
                with open(path, 'wb') as fh:
                    fh.write(data)
                rows.append(verify(path, ref))
                entries.append((name, src, what, steps))
        write_sources(entries, rows, vers)

    print(fmt_table(rows))
    print()
    for r in rows:
        print(f'{r["file"]}: {geometry(r["walk"])}\n    scans: {scan_list(r["walk"])}')
    total = sum(r['bytes'] for r in rows)
    print(f'\n{len(rows)} files, {total:,} bytes total')
    for r in rows:
        if r['file'].startswith('truncated_'):
            print(f'{r["file"]}: Pillow {r["pillow"]}; djpeg {r["djpeg"]}')
    bad = [(r['file'], p) for r in rows for p in r['problems']]
    if total > MAX_TOTAL:
        bad.append(('(total)', f'{total} bytes > {MAX_TOTAL}'))
    if bad:
        for f, p in bad:
            print(f'PROBLEM {f}: {p}', file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    main()
