#!/usr/bin/env python3
"""Extract the CFRG HPKE test vectors for cssim's envelope suite,
DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM (kem 0x0020, kdf 0x0001,
aead 0x0002), Base and Auth modes (0 and 2), into JSON for the Rust tests.

The input is BoringSSL's `crypto/hpke/hpke_test_vectors.txt`, which BoringSSL's
`translate_test_vectors.py` generates from the CFRG file
(github.com/cfrg/draft-irtf-cfrg-hpke, `test-vectors.json`, commit 5f503c5) and
which keeps that file's field names. See tests/data/hpke/README.md.

usage: scripts/hpke_cfrg_vectors.py hpke_test_vectors.txt \
           > tests/data/hpke/cfrg-x25519-sha256-aes256gcm.json
Standard library only.
"""
import json
import sys

INTEGERS = {'mode', 'kem_id', 'kdf_id', 'aead_id', 'L'}


def entries(path):
    """The FileTest records: 'key = value' lines, '# encryptions[i]' and
    '# exports[i]' open a sub-record, 'mode' opens a new record."""
    out, cur, sub = [], None, None
    for line in open(path, encoding='utf-8'):
        line = line.rstrip('\n')
        if not line.strip():
            continue
        if line.startswith('# encryptions['):
            sub = {}
            cur['encryptions'].append(sub)
            continue
        if line.startswith('# exports['):
            sub = {}
            cur['exports'].append(sub)
            continue
        key, sep, value = line.partition(' =')
        if not sep:
            sys.exit(f'unexpected line: {line!r}')
        value = value.strip()
        if key in INTEGERS:
            value = int(value)
        if key == 'mode':
            cur, sub = {'encryptions': [], 'exports': []}, None
            out.append(cur)
        (sub if sub is not None else cur)[key] = value
    return out


def main():
    vectors = []
    for e in entries(sys.argv[1]):
        if e['kdf_id'] != 1 or e['aead_id'] != 2 or e['mode'] not in (0, 2):
            continue
        # The FileTest file lists only kem 0x0020; say so explicitly.
        v = {'mode': e['mode'], 'kem_id': 32, 'kdf_id': 1, 'aead_id': 2}
        v.update((k, e[k]) for k in e if k not in v and k not in ('encryptions', 'exports'))
        v['encryptions'] = e['encryptions']
        v['exports'] = e['exports']
        vectors.append(v)
    assert [v['mode'] for v in vectors] == [0, 2], 'expected one Base and one Auth entry'
    doc = {
        'source': 'cfrg/draft-irtf-cfrg-hpke test-vectors.json (commit 5f503c5), '
                  'entries kem_id 32, kdf_id 1, aead_id 2, modes 0 and 2, via '
                  "BoringSSL's crypto/hpke/hpke_test_vectors.txt; see README.md",
        'vectors': vectors,
    }
    # One encryption or export per line: readable diffs, still plain JSON.
    lines = ['{', f' "source": {json.dumps(doc["source"])},', ' "vectors": [']
    for i, v in enumerate(vectors):
        lines.append('  {')
        for k, val in v.items():
            if k in ('encryptions', 'exports'):
                rows = [f'    {json.dumps(r)}' for r in val]
                close = '   ],' if k == 'encryptions' else '   ]'
                lines += [f'   "{k}": ['] + [r + ',' for r in rows[:-1]] + [rows[-1], close]
            else:
                lines.append(f'   "{k}": {json.dumps(val)},')
        lines.append('  },' if i + 1 < len(vectors) else '  }')
    lines += [' ]', '}']
    text = '\n'.join(lines)
    assert json.loads(text) == doc
    print(text)


if __name__ == '__main__':
    main()
