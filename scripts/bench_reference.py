#!/usr/bin/env python3
"""Compare single-thread hashing throughput of cssim with the Python references
on ONE folder of photos, in one run.

usage: bench_reference.py [FOLDER] [--cssim PATH] [--runs N] [--py-runs N]

FOLDER     folder of photos (default target/corpus/photos, built by
           `../shared/corpus/photos.sh target/corpus`); the files directly inside it with an
           image extension are used.
--cssim    the Rust CLI (default target/release/cssim); if missing, only the
           Python side is measured.

Measured:
  (a) cssim hash --algo pdq   --threads 1 FOLDER   wall clock of the process, best of --runs
  (b) Python pdqhash.compute(np.asarray(Image.open(p).convert('RGB')))  (decode included)
  (c) Python imagehash.phash(Image.open(p))                              (decode included)
  (d) cssim hash --algo phash --threads 1 FOLDER   (default: full decode + Pillow's Lanczos,
      imagehash's values)
  (e) cssim hash --algo pdq   --threads 2 FOLDER   (2-core scaling)
  (f) cssim hash --algo phash --threads 1 --jpeg-dc FOLDER   (opt-in: large JPEGs from their
      DC coefficients; not imagehash's values)
  (g) cssim hash --algo pdq --threads 1 --pdq-route fast FOLDER   (opt-in: JPEGs of 512 px a
      side or more from their DC coefficients; not bit-exact)
  (h) cssim hash --algo pdq --threads 1 --pdq-kernel scalar FOLDER   (the scalar PDQ
      arithmetic kept beside the vectorised one: the same bits, the cost before issue 15)
Each case also gets its CPU seconds (user + system; for cssim the child process's, for
Python the process's own), with ratios: on a shared machine the wall clock counts the
other sessions' load, CPU time much less. Python side in-process: the whole loop over all files is timed after warming the
file cache (all files read once); best of --py-runs (default 3). BLAS/OpenMP threads are
pinned to 1. Prints a Markdown table.
"""
import os

ORIG_ENV = dict(os.environ)       # for subprocesses (cssim, nproc): without the pins below
for _v in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ.setdefault(_v, '1')

import argparse          # noqa: E402
import platform          # noqa: E402
import subprocess        # noqa: E402
import sys               # noqa: E402
import time              # noqa: E402

import imagehash         # noqa: E402
import numpy as np       # noqa: E402
import pdqhash           # noqa: E402
import PIL               # noqa: E402
from PIL import Image    # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXTS = ('.png', '.jpg', '.jpeg', '.gif', '.webp', '.bmp')   # what cssim takes from folders
Image.MAX_IMAGE_PIXELS = None


def cpu_model():
    try:
        with open('/proc/cpuinfo') as fh:
            for line in fh:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'


def nproc():
    try:
        return subprocess.run(['nproc'], capture_output=True, text=True,
                              env=ORIG_ENV).stdout.strip()
    except OSError:
        return str(len(os.sched_getaffinity(0)))


# CPU seconds (user + system) of each best-of run, beside the wall clock: on a shared
# machine the wall clock measures the other sessions too; CPU time much less so.
CPU = {}


def py_loop(files, fn, runs):
    best, best_cpu = None, None
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        for p in files:
            fn(p)
        dt, dc = time.perf_counter() - t, time.process_time() - c
        best = dt if best is None else min(best, dt)
        best_cpu = dc if best_cpu is None else min(best_cpu, dc)
    CPU[best] = best_cpu
    return best


def py_pdq(p):
    a = np.asarray(Image.open(p).convert('RGB'))
    return pdqhash.compute(a)


def py_phash(p):
    return imagehash.phash(Image.open(p))


def run_cssim(exe, args, runs):
    import resource
    best, best_cpu, err = None, None, None
    for _ in range(runs):
        u0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        r = subprocess.run([exe] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           env=ORIG_ENV)
        dt = time.perf_counter() - t
        u1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        dc = (u1.ru_utime - u0.ru_utime) + (u1.ru_stime - u0.ru_stime)
        if r.returncode != 0:
            err = r.stderr.decode(errors='replace').strip().splitlines()[-1:] or ['?']
            return None, f'exit {r.returncode}: {err[0]}'
        best = dt if best is None else min(best, dt)
        best_cpu = dc if best_cpu is None else min(best_cpu, dc)
    CPU[best] = best_cpu
    return best, None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('folder', nargs='?', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'target', 'corpus', 'photos'))
    ap.add_argument('--cssim', default=os.path.join(ROOT, 'target', 'release', 'cssim'))
    ap.add_argument('--runs', type=int, default=3, help='cssim runs (best of)')
    ap.add_argument('--py-runs', type=int, default=3, help='Python loop runs (best of)')
    a = ap.parse_args()

    files = sorted(os.path.join(a.folder, f) for f in os.listdir(a.folder)
                   if f.lower().endswith(EXTS) and os.path.isfile(os.path.join(a.folder, f)))
    if not files:
        sys.exit(f'no images in {a.folder}')
    nbytes = 0
    npix = 0
    for p in files:                      # warm the page cache
        with open(p, 'rb') as fh:
            nbytes += len(fh.read())
        with Image.open(p) as im:
            npix += im.size[0] * im.size[1]
    n = len(files)
    print(f'folder {a.folder}: {n} images, {nbytes / 1e6:.1f} MB, {npix / 1e6:.1f} Mpixel '
          f'(mean {npix / n / 1e6:.2f} MP)', file=sys.stderr)

    try:
        load0 = ' / '.join(open('/proc/loadavg').read().split()[:3])
    except OSError:
        load0 = '?'
    print('(b) Python pdqhash ...', file=sys.stderr)
    t_pdq = py_loop(files, py_pdq, a.py_runs)
    print('(c) Python imagehash.phash ...', file=sys.stderr)
    t_ph = py_loop(files, py_phash, a.py_runs)

    have = os.path.isfile(a.cssim) and os.access(a.cssim, os.X_OK)
    cs = {}
    cssim_version = None
    if have:
        try:
            cssim_version = subprocess.run([a.cssim, '--version'], capture_output=True,
                                           text=True, env=ORIG_ENV).stdout.strip() or None
        except OSError:
            pass
        for key, args in (('pdq1', ['hash', '--algo', 'pdq', '--threads', '1', a.folder]),
                          ('phash1', ['hash', '--algo', 'phash', '--threads', '1', a.folder]),
                          ('pdq2', ['hash', '--algo', 'pdq', '--threads', '2', a.folder]),
                          ('phash1dc', ['hash', '--algo', 'phash', '--threads', '1',
                                        '--jpeg-dc', a.folder]),
                          ('pdq1fast', ['hash', '--algo', 'pdq', '--threads', '1',
                                        '--pdq-route', 'fast', a.folder]),
                          ('pdq1scalar', ['hash', '--algo', 'pdq', '--threads', '1',
                                          '--pdq-kernel', 'scalar', a.folder])):
            print(f'cssim {" ".join(args)} (best of {a.runs}) ...', file=sys.stderr)
            cs[key] = run_cssim(a.cssim, args, a.runs)
    else:
        print(f'NOTE: {a.cssim} not found (build it with `cargo build --release`); '
              'measuring only the Python side.', file=sys.stderr)

    def rate(t):
        return n / t if t else None

    def fmt(t):
        return f'{t:.2f}' if t else '–'

    def fr(t):
        return f'{rate(t):.1f}' if t else '–'

    print()
    print('## Hashing throughput (single thread unless noted)')
    print()
    try:
        load = ' / '.join(open('/proc/loadavg').read().split()[:3])
    except OSError:
        load = '?'
    print(f'- machine: `nproc`={nproc()}, CPU: {cpu_model()}, {platform.system()} {platform.release()}, '
          f'load average before the run: {load0}, after: {load}')
    print(f'- Python {platform.python_version()}, pdqhash {pdqhash.__version__}, ImageHash '
          f'{imagehash.__version__}, Pillow {PIL.__version__}, numpy {np.__version__}'
          + (f', {cssim_version}' if cssim_version else ''))
    print(f'- folder: `{a.folder}`: {n} images, {nbytes / 1e6:.1f} MB, {npix / 1e6:.1f} Mpixel; '
          f'decode included everywhere; Python: in-process loop (best of {a.py_runs}), '
          f'cssim: process wall clock (best of {a.runs})')
    print()
    print('| case | implementation | seconds | images/s | vs Python | CPU seconds | vs Python (CPU) |')
    print('|---|---|---:|---:|---:|---:|---:|')

    def row(case, impl, t, ref, err=None):
        if err:
            print(f'| {case} | {impl} | {err} | | | | |')
            return
        ratio = f'{ref / t:.2f}×' if (t and ref) else '–'
        c, cref = CPU.get(t), CPU.get(ref)
        cratio = f'{cref / c:.2f}×' if (c and cref) else '–'
        cs_ = f'{c:.2f}' if c else '–'
        print(f'| {case} | {impl} | {fmt(t)} | {fr(t)} | {ratio} | {cs_} | {cratio} |')

    if have:
        t, e = cs['pdq1']
        row('(a) PDQ', '`cssim hash --algo pdq --threads 1`', t, t_pdq, e)
    else:
        row('(a) PDQ', '`cssim hash --algo pdq --threads 1`', None, None, 'binary missing')
    row('(b) PDQ', 'Python `pdqhash.compute` + PIL decode', t_pdq, t_pdq)
    row('(c) pHash', 'Python `imagehash.phash` + PIL decode', t_ph, t_ph)
    if have:
        t, e = cs['phash1']
        row('(d) pHash', '`cssim hash --algo phash --threads 1`', t, t_ph, e)
        t, e = cs['pdq2']
        row('(e) PDQ', '`cssim hash --algo pdq --threads 2`', t, t_pdq, e)
        t, e = cs['phash1dc']
        row('(f) pHash', '`cssim hash --algo phash --threads 1 --jpeg-dc`', t, t_ph, e)
        t, e = cs['pdq1fast']
        row('(g) PDQ', '`cssim hash --algo pdq --threads 1 --pdq-route fast`', t, t_pdq, e)
        t, e = cs['pdq1scalar']
        row('(h) PDQ', '`cssim hash --algo pdq --threads 1 --pdq-kernel scalar`', t, t_pdq, e)
        t1, t2 = cs['pdq1'][0], cs['pdq2'][0]
        if t1 and t2:
            print()
            print(f'2-thread scaling (pdq): {t1 / t2:.2f}× (ideal 2.00×)')
    else:
        row('(d) pHash', '`cssim hash --algo phash --threads 1`', None, None, 'binary missing')
        row('(e) PDQ', '`cssim hash --algo pdq --threads 2`', None, None, 'binary missing')


if __name__ == '__main__':
    main()
