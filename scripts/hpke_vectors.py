#!/usr/bin/env python3
"""Extract RFC 9180 Appendix A.1 test vectors (DHKEM(X25519, HKDF-SHA256),
HKDF-SHA256, AES-128-GCM; Base and Auth modes) into JSON for the Rust tests.

usage: scripts/hpke_vectors.py ../shared/reference/rfc9180-hpke.md > tests/data/hpke/rfc9180-a1.json
Standard library only.
"""
import json
import re
import sys


def fields(block):
    """'name: hex' pairs, where hex may continue over following lines."""
    out, key = {}, None
    for line in block.splitlines():
        m = re.match(r'^([a-zA-Z_ ]+):\s*([0-9a-f]*)\s*$', line)
        if m:
            key = m.group(1).strip()
            out[key] = m.group(2)
        elif key and re.match(r'^[0-9a-f]+$', line.strip()):
            out[key] += line.strip()
    return out


def main():
    text = open(sys.argv[1], encoding='utf-8').read()
    start = text.index('## DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM')
    end = text.index('\n## ', start + 10)
    section = text[start:end]
    vectors = []
    for name in ('Base', 'Auth'):
        s = section.index(f'### {name} Setup Information')
        e = section.find('\n### ', s + 10)
        part = section[s:e if e > 0 else len(section)]
        blocks = re.findall(r'~~~\n(.*?)~~~', part, re.S)
        setup = fields(blocks[0])
        encs = []
        for chunk in blocks[1].strip().split('\n\n'):
            f = fields(chunk)
            encs.append({'seq': int(chunk.split('sequence number:')[1].split()[0]),
                         'pt': f['pt'], 'aad': f['aad'], 'nonce': f['nonce'], 'ct': f['ct']})
        exports = []
        for chunk in blocks[2].strip().split('\n\n'):
            f = fields(chunk)
            exports.append({'context': f['exporter_context'], 'length': int(f['L']),
                            'value': f['exported_value']})
        setup = {k: v for k, v in setup.items()}
        vectors.append({'name': name, 'setup': setup, 'encryptions': encs, 'exports': exports})
    json.dump({'source': 'RFC 9180 Appendix A.1', 'vectors': vectors}, sys.stdout, indent=1)
    print()


if __name__ == '__main__':
    main()
