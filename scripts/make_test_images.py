#!/usr/bin/env python3
"""Build the committed test images (tests/data/pdq/images/) and demo images
(examples/images/) from public-domain / CC0 photos plus seeded synthetic images.

usage: scripts/make_test_images.py [--corpus DIR] [--only tests|examples]

--corpus DIR   output folder of ../shared/corpus/photos.sh (default target/corpus,
               built by `../shared/corpus/photos.sh target/corpus`);
               the script reads the pinned package archives in DIR/_downloads/
               (scikit-image 0.26.0 wheel, lomiri-wallpapers-16.04 20.04.0-2 .deb),
               checks their sha256 and extracts only the files it needs.

Only files whose package documentation states public domain or CC0 are used
(see tests/data/pdq/images/SOURCES.md). Everything generated here is released
as CC0. Deterministic for a given Pillow/libjpeg/zlib/libwebp build (seeded RNG,
fixed encoder settings); a different Pillow build may produce different encoded
bytes, so after regenerating, re-run scripts/pdq_vectors.py.

Needs Pillow and numpy (scripts/setup-reference-venv.sh creates such a venv).
"""
import argparse
import hashlib
import io
import os
import struct
import subprocess
import sys
import tarfile
import zipfile
import zlib

import numpy as np
from PIL import Image, ImageDraw

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS_OUT = os.path.join(ROOT, 'tests', 'data', 'pdq', 'images')
EXAMPLES_OUT = os.path.join(ROOT, 'examples', 'images')

SKIMAGE_WHL = ('scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl',
               '74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af')
LOMIRI_DEB = ('lomiri-wallpapers-16.04_20.04.0-2_all.deb',
              'a99ff6a3bfe451e4cc0682ecb3cc82e71740626d59e4845ae34a0a0e45421eab')
SEEDING = 'usr/share/backgrounds/seeding_by_Clements_Engelhardt.jpg'   # CC0-1.0


# ---------------------------------------------------------------- sources
class Sources:
    def __init__(self, corpus):
        self.dl = os.path.join(corpus, '_downloads')
        self._cache = {}

    def _archive(self, name, sha):
        p = os.path.join(self.dl, name)
        if not os.path.isfile(p):
            sys.exit(f'error: {p} missing; run ../shared/corpus/photos.sh {os.path.dirname(self.dl)} first')
        with open(p, 'rb') as fh:
            got = hashlib.sha256(fh.read()).hexdigest()
        if got != sha:
            sys.exit(f'error: sha256 mismatch for {p}: {got}')
        return p

    def skimage(self, fname):
        """Raw bytes of skimage/data/<fname> from the pinned wheel."""
        key = ('skimage', fname)
        if key not in self._cache:
            with zipfile.ZipFile(self._archive(*SKIMAGE_WHL)) as z:
                self._cache[key] = z.read('skimage/data/' + fname)
        return self._cache[key]

    def lomiri(self, path):
        key = ('lomiri', path)
        if key not in self._cache:
            deb = self._archive(*LOMIRI_DEB)
            tar_bytes = subprocess.run(['dpkg-deb', '--fsys-tarfile', deb], check=True,
                                       stdout=subprocess.PIPE).stdout
            with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as t:
                for m in t.getmembers():
                    if m.name.lstrip('./') == path:
                        self._cache[key] = t.extractfile(m).read()
                        break
                else:
                    sys.exit(f'error: {path} not in {deb}')
        return self._cache[key]


def open_bytes(data):
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


# ---------------------------------------------------------------- raw PNG writer
def _chunk(tag, data):
    return struct.pack('>I', len(data)) + tag + data + struct.pack('>I', zlib.crc32(tag + data) & 0xffffffff)


def write_png_raw(path, arr, bit_depth, color_type):
    """Minimal PNG encoder (filter 0, no interlace) for what Pillow cannot
    write: 16-bit RGB/RGBA/LA and 2/4-bit greyscale. arr: HxW or HxWxC
    integers already in the sample range of bit_depth."""
    arr = np.asarray(arr)
    h, w = arr.shape[:2]
    if bit_depth == 16:
        rows = arr.astype('>u2').reshape(h, -1).view(np.uint8).reshape(h, -1)
    elif bit_depth == 8:
        rows = arr.astype(np.uint8).reshape(h, -1)
    else:   # 1/2/4-bit greyscale, MSB first, rows padded to whole bytes
        assert arr.ndim == 2 and color_type == 0
        per = 8 // bit_depth
        padw = -(-w // per) * per
        a = np.zeros((h, padw), np.uint8)
        a[:, :w] = arr
        a = a.reshape(h, padw // per, per)
        rows = np.zeros((h, padw // per), np.uint8)
        for k in range(per):
            rows |= (a[:, :, k] << (8 - bit_depth * (k + 1))).astype(np.uint8)
    raw = b''.join(b'\x00' + rows[i].tobytes() for i in range(h))
    ihdr = struct.pack('>IIBBBBB', w, h, bit_depth, color_type, 0, 0, 0)
    with open(path, 'wb') as fh:
        fh.write(b'\x89PNG\r\n\x1a\n' + _chunk(b'IHDR', ihdr)
                 + _chunk(b'IDAT', zlib.compress(raw, 9)) + _chunk(b'IEND', b''))


# ---------------------------------------------------------------- helpers
def save(im, path, **kw):
    fmt = {'.png': 'PNG', '.jpg': 'JPEG', '.gif': 'GIF', '.webp': 'WEBP', '.bmp': 'BMP'}[
        os.path.splitext(path)[1]]
    if fmt == 'PNG':
        kw.setdefault('optimize', False)
        kw.setdefault('compress_level', 9)
    im.save(path, fmt, **kw)


def resize_w(im, w):
    h = round(im.height * w / im.width)
    return im.resize((w, h), Image.LANCZOS)


def exif_with_orientation(o):
    ex = Image.Exif()
    ex[0x0112] = o
    return ex.tobytes()


# Inverse of what ImageOps.exif_transpose applies for each orientation, so that
# stored = INVERSE[o](upright) displays upright.
INVERSE = {
    3: Image.Transpose.ROTATE_180,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,    # exif_transpose applies ROTATE_270
    8: Image.Transpose.ROTATE_270,   # exif_transpose applies ROTATE_90
}


# ---------------------------------------------------------------- tests/data/pdq/images
def make_tests(src, out):
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        if f != 'SOURCES.md':
            os.remove(os.path.join(out, f))
    P = lambda name: os.path.join(out, name)   # noqa: E731
    rng = np.random.default_rng(20240601)

    # -- verbatim copies (bytes unchanged)
    verbatim = {
        'photo_astronaut_512.png': src.skimage('astronaut.png'),
        'photo_coffee_600x400.png': src.skimage('coffee.png'),
        'photo_chelsea_451x300.png': src.skimage('chelsea.png'),
        'gray_camera_512.png': src.skimage('camera.png'),
        'gray_cell_550x660.png': src.skimage('cell.png'),
        'gray_microaneurysms_102.png': src.skimage('microaneurysms.png'),
        'gray_text_448x172.png': src.skimage('text.png'),
        'gray_clock_motion_400x300.png': src.skimage('clock_motion.png'),
        'rgba_horse_400x328.png': src.skimage('horse.png'),
        'jpeg_rocket_640x427.jpg': src.skimage('rocket.jpg'),
        'jpeg_hubble_1000x872.jpg': src.skimage('hubble_deep_field.jpg'),
        'jpeg_retina_1411.jpg': src.skimage('retina.jpg'),
        'jpeg_seeding_5312x2988_16mp.jpg': src.lomiri(SEEDING),
    }
    for name, data in verbatim.items():
        with open(P(name), 'wb') as fh:
            fh.write(data)

    astronaut = open_bytes(src.skimage('astronaut.png')).convert('RGB')
    coffee = open_bytes(src.skimage('coffee.png')).convert('RGB')
    chelsea = open_bytes(src.skimage('chelsea.png')).convert('RGB')
    camera = open_bytes(src.skimage('camera.png'))            # L
    text = open_bytes(src.skimage('text.png'))                # L
    rocket = open_bytes(src.skimage('rocket.jpg')).convert('RGB')
    micro = open_bytes(src.skimage('microaneurysms.png'))     # L
    seeding = open_bytes(src.lomiri(SEEDING)).convert('RGB')

    # -- big exact PNG (>= 2 MP)
    save(seeding.resize((1920, 1080), Image.LANCZOS), P('png_seeding_1920x1080.png'))

    # -- JPEG re-encodes at several qualities / subsamplings
    save(coffee, P('jpeg_coffee_q95_444.jpg'), quality=95, subsampling=0)
    save(coffee, P('jpeg_coffee_q50_420.jpg'), quality=50, subsampling=2)
    save(chelsea, P('jpeg_chelsea_q85_420.jpg'), quality=85, subsampling=2)
    save(astronaut, P('jpeg_astronaut_q75_422.jpg'), quality=75, subsampling=1)
    save(astronaut, P('jpeg_astronaut_q90_progressive.jpg'), quality=90, subsampling=2,
         progressive=True)
    save(camera, P('jpeg_gray_camera_q90.jpg'), quality=90)
    # EXIF orientation: pixels stored rotated, Orientation tag makes them upright
    save(chelsea.transpose(INVERSE[6]), P('jpeg_chelsea_exif_orient6.jpg'), quality=92,
         exif=exif_with_orientation(6))
    save(resize_w(rocket, 320).transpose(INVERSE[3]), P('jpeg_rocket_exif_orient3.jpg'),
         quality=92, exif=exif_with_orientation(3))
    # PNG with an eXIf chunk carrying Orientation (exact-match rows)
    save(coffee.resize((300, 200), Image.LANCZOS).transpose(INVERSE[8]),
         P('png_coffee_exif_orient8.png'), exif=exif_with_orientation(8))
    save(chelsea.resize((226, 150), Image.LANCZOS).transpose(INVERSE[5]),
         P('png_chelsea_exif_orient5.png'), exif=exif_with_orientation(5))

    # -- 16-bit PNGs: high byte = the 8-bit photo, low byte = seeded noise,
    #    so v >> 8 differs from rounding v/257 for about half the samples.
    c8 = np.asarray(coffee).astype(np.uint16)
    c16 = (c8 << 8) | rng.integers(0, 256, c8.shape, dtype=np.uint16)
    write_png_raw(P('png16_rgb_coffee.png'), c16, 16, 2)
    g8 = np.asarray(camera).astype(np.uint16)
    g16 = (g8 << 8) | rng.integers(0, 256, g8.shape, dtype=np.uint16)
    write_png_raw(P('png16_gray_camera.png'), g16, 16, 0)
    yy, xx = np.mgrid[0:200, 0:256]
    ramp = (xx * 256 + yy * 37) % 65536                       # smooth full-range ramp
    write_png_raw(P('png16_gray_ramp_256x200.png'), ramp, 16, 0)
    yy, xx = np.mgrid[0:160, 0:240]
    rgba16 = np.stack([xx * 273, yy * 409, (xx * yy * 7) % 65536,
                       np.where((xx // 30 + yy // 20) % 2 == 0, 0, 40000 + xx * 100)],
                      -1) % 65536
    write_png_raw(P('png16_rgba_generated_240x160.png'), rgba16, 16, 6)
    la16 = np.stack([(g16[::4, ::4]), (np.arange(128)[None, :].repeat(128, 0) * 512)], -1)
    write_png_raw(P('png16_la_camera_128.png'), la16, 16, 4)

    # -- low bit-depth greyscale (decoders scale up: 1-bit -> 0/255, 2-bit *85, 4-bit *17)
    save(text.point(lambda v: 255 if v > 110 else 0).convert('1'), P('gray_1bit_text.png'))
    yy, xx = np.mgrid[0:120, 0:200]
    write_png_raw(P('gray_2bit_generated_200x120.png'), ((xx // 25 + yy // 30) % 4), 2, 0)
    write_png_raw(P('gray_4bit_generated_200x120.png'),
                  ((xx * 16 // 200) ^ (yy * 16 // 120)) & 15, 4, 0)

    # -- palette PNGs
    save(chelsea.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE),
         P('palette_chelsea_256.png'))
    q = coffee.quantize(64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG)
    trns = bytes([0, 60, 120, 180] + [255] * 60)                 # tRNS on 4 entries: ignored
    save(q, P('palette_coffee_64_trns.png'), transparency=trns)
    pal16 = Image.new('P', (240, 160))
    pal16.putpalette([c for i in range(16) for c in ((i * 53) % 256, (i * 97) % 256, (i * 31 + 40) % 256)])
    d = ImageDraw.Draw(pal16)
    for i in range(16):
        d.ellipse([i * 13, i * 8, i * 13 + 60, i * 8 + 50], fill=i)
    save(pal16, P('palette_4bit_generated.png'), bits=4)

    # -- alpha
    save(Image.merge('LA', [camera.resize((256, 256), Image.LANCZOS),
                            Image.radial_gradient('L').resize((256, 256))]),
         P('la_camera_radial_alpha.png'))
    yy, xx = np.mgrid[0:180, 0:240]
    rgba = np.stack([xx % 256, (yy * 3) % 256, ((xx + yy) * 2) % 256,
                     np.where((xx // 24 + yy // 18) % 2 == 0, 0, (xx + 15) % 256)], -1).astype(np.uint8)
    save(Image.fromarray(rgba, 'RGBA'), P('rgba_generated_240x180.png'))
    ck = chelsea.crop((100, 50, 300, 200))
    save(ck, P('rgb_trns_colorkey_chelsea.png'), transparency=ck.getpixel((0, 0)))

    # -- GIF: animated (3 differing full-size frames), static with a transparent index
    frames = [im.resize((200, 150), Image.LANCZOS).quantize(
        256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        for im in (chelsea, coffee, astronaut)]
    frames[0].save(P('gif_animated_3frames.gif'), 'GIF', save_all=True,
                   append_images=frames[1:], duration=200, loop=0, optimize=False, disposal=1)
    g = resize_w(rocket, 320).quantize(255, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    counts = np.bincount(np.asarray(g).ravel(), minlength=256)
    save(g, P('gif_rocket_transparent_index.gif'), transparency=int(counts.argmax()), optimize=False)

    # -- WebP
    save(chelsea, P('webp_lossless_chelsea.webp'), lossless=True, quality=100, method=4)
    save(Image.fromarray(rgba, 'RGBA'), P('webp_lossless_rgba_generated.webp'), lossless=True,
         quality=100, method=4, exact=True)
    save(coffee, P('webp_lossy_coffee_q90.webp'), quality=90, method=4)
    save(astronaut, P('webp_lossy_astronaut_q60.webp'), quality=60, method=4)

    # -- BMP
    save(chelsea, P('bmp_rgb24_chelsea_451x300.bmp'))       # odd width: row padding
    save(micro, P('bmp_gray8_microaneurysms.bmp'))           # L -> 8-bit grey palette

    # -- synthetic
    def rand_rgb(h, w):
        return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), 'RGB')
    save(rand_rgb(1, 1), P('gen_1x1.png'))
    save(rand_rgb(4, 3), P('gen_3x4.png'))                   # 3 wide, 4 high
    save(rand_rgb(4, 4), P('gen_4x4.png'))
    save(rand_rgb(5, 5), P('gen_5x5.png'))
    save(rand_rgb(64, 64), P('gen_64x64.png'))
    save(rand_rgb(300, 4), P('gen_4x300.png'))               # one side < 5: zero hash
    save(rand_rgb(5, 1000), P('gen_thin_1000x5.png'))
    save(rand_rgb(900, 6), P('gen_thin_6x900.png'))
    save(Image.new('RGB', (200, 150), (180, 90, 40)), P('gen_flat_200x150.png'))
    yy, xx = np.mgrid[0:240, 0:320]
    grad = np.stack([xx * 255 // 319, yy * 255 // 239, 255 - (xx + yy) * 255 // 558], -1)
    save(Image.fromarray(grad.astype(np.uint8), 'RGB'), P('gen_gradient_320x240.png'))
    save(rand_rgb(256, 256), P('gen_noise_rgb_256.png'))
    save(Image.fromarray(rng.integers(0, 256, (200, 300), dtype=np.uint8), 'L'),
         P('gen_noise_gray_300x200.png'))
    sh = Image.new('RGB', (400, 300), (240, 240, 235))
    d = ImageDraw.Draw(sh)
    for i in range(12):
        x, y = int(rng.integers(0, 360)), int(rng.integers(0, 260))
        col = tuple(int(c) for c in rng.integers(0, 256, 3))
        (d.ellipse if i % 2 else d.rectangle)([x, y, x + int(rng.integers(20, 120)),
                                              y + int(rng.integers(20, 100))], fill=col)
    save(sh, P('gen_shapes_400x300.png'))


# ---------------------------------------------------------------- examples/images
def make_examples(src, out):
    benign = os.path.join(out, 'benign')
    listed = os.path.join(out, 'listed')
    for d in (benign, listed):
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            os.remove(os.path.join(d, f))

    def fit(im, m=600):
        im = im.convert('RGB')
        if max(im.size) > m:
            im = im.resize((m, round(im.height * m / im.width)) if im.width >= im.height
                           else (round(im.width * m / im.height), m), Image.LANCZOS)
        return im

    items = [
        (benign, 'astronaut.jpg', src.skimage('astronaut.png')),
        (benign, 'hubble_deep_field.jpg', src.skimage('hubble_deep_field.jpg')),
        (benign, 'seedlings.jpg', src.lomiri(SEEDING)),
        (benign, 'camera.jpg', src.skimage('camera.png')),
        (listed, 'rocket.jpg', src.skimage('rocket.jpg')),
        (listed, 'cat.jpg', src.skimage('chelsea.png')),
        (listed, 'coffee.jpg', src.skimage('coffee.png')),
    ]
    for d, name, data in items:
        im = fit(open_bytes(data))
        p = os.path.join(d, name)
        for qual in (85, 80, 75, 70):
            save(im, p, quality=qual, subsampling=2)
            if os.path.getsize(p) <= 150_000:
                break


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--corpus', default=os.environ.get('CORPUS', os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'target', 'corpus')))
    ap.add_argument('--only', choices=['tests', 'examples'])
    a = ap.parse_args()
    src = Sources(a.corpus)
    if a.only in (None, 'tests'):
        make_tests(src, TESTS_OUT)
        n = sum(1 for f in os.listdir(TESTS_OUT) if f != 'SOURCES.md')
        sz = sum(os.path.getsize(os.path.join(TESTS_OUT, f)) for f in os.listdir(TESTS_OUT))
        print(f'{TESTS_OUT}: {n} images, {sz / 1e6:.1f} MB')
    if a.only in (None, 'examples'):
        make_examples(src, EXAMPLES_OUT)
        print(f'{EXAMPLES_OUT}: done')


if __name__ == '__main__':
    main()
