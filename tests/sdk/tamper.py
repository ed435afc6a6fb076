# SPDX-License-Identifier: Apache-2.0
"""Writes a tampered copy of a chain archive for tests/sdk/test_sdk.sh.

    tamper.py IN OUT MODE

Modes (each prints the height it changed):
  flip          the last byte of the first block holding a transaction
                (inside its last envelope's signature)
  weak-cert     block 2's certificate cut to one signer below quorum
  foreign-cert  block 2's certificate with its last signer replaced by a
                key outside the validator set (index n, signed properly)
  forged-sig    block 2's certificate with its last signature made by a
                key that is not that validator's
  root          the state root the archive records for block 2
  unknown-field block 2 with a field spec/witan.proto does not define
                appended (its header, so its hash, unchanged)
  truncate      the file without its last 10 bytes
  trailing      one byte after the last record

It parses the archive with struct directly (spec/audit.md) and edits
certificates with the generated protobuf classes; it shares no checking
code with the verifier."""
import hashlib
import struct
import sys

import nacl.signing

sys.path.insert(0, "sdk/python")
from witan.pb import W, encode  # noqa: E402

MAGIC = b"witan-archive/v1\n"


def parse(data):
    assert data.startswith(MAGIC)
    off = len(MAGIC)
    gsize = struct.unpack_from(">I", data, off)[0]
    genesis = data[off + 4:off + 4 + gsize]
    off += 4 + gsize
    count = struct.unpack_from(">Q", data, off)[0]
    off += 8
    head, records = data[:off], []
    for _ in range(count):
        bs = struct.unpack_from(">I", data, off)[0]
        block = data[off + 4:off + 4 + bs]
        off += 4 + bs
        cs = struct.unpack_from(">I", data, off)[0]
        cert = data[off + 4:off + 4 + cs]
        off += 4 + cs
        records.append([block, cert, data[off:off + 32], data[off + 32:off + 64]])
        off += 64
    return head, genesis, records


def join(head, records):
    out = bytearray(head)
    for block, cert, sr, rr in records:
        out += struct.pack(">I", len(block)) + block
        out += struct.pack(">I", len(cert)) + cert + sr + rr
    return bytes(out)


def chain_id(genesis):
    import json
    return json.loads(genesis)["chain_id"]


def vote_digest(cid, cert):
    v = encode(W.Vote(chain_id=cid, height=cert.height, view=cert.view,
                      block_hash=cert.block_hash))
    return hashlib.sha256(b"witan/vote/v1\x00" + v).digest()


def signer_indexes(cert):
    s = cert.signers
    return [i for i in range(8 * len(s)) if s[i // 8] >> (i % 8) & 1]


def bitmap(indexes):
    b = bytearray((max(indexes) // 8) + 1)
    for i in indexes:
        b[i // 8] |= 1 << (i % 8)
    return bytes(b)


def main():
    src, dst, mode = sys.argv[1:4]
    data = open(src, "rb").read()
    head, genesis, recs = parse(data)
    height = 2
    if mode == "flip":
        for i, r in enumerate(recs):
            if W.Block.FromString(r[0]).txs:
                height = i + 1
                r[0] = r[0][:-1] + bytes([r[0][-1] ^ 1])
                break
        out = join(head, recs)
    elif mode in ("weak-cert", "foreign-cert", "forged-sig"):
        cert = W.CommitCertificate.FromString(recs[height - 1][1])
        idx = signer_indexes(cert)
        import json
        n = len(json.loads(genesis)["validators"])
        if mode == "weak-cert":
            q = (n + (n - 1) // 3 + 2) // 2
            keep = idx[:q - 1]
            sigs = list(cert.signatures)[:q - 1]
        else:
            other = nacl.signing.SigningKey.generate()
            sig = other.sign(vote_digest(chain_id(genesis), cert)).signature
            keep = idx[:-1] + ([n] if mode == "foreign-cert" else [idx[-1]])
            sigs = list(cert.signatures)[:-1] + [sig]
        cert.signers = bitmap(keep)
        del cert.signatures[:]
        cert.signatures.extend(sigs)
        recs[height - 1][1] = encode(cert)
        out = join(head, recs)
    elif mode == "root":
        sr = recs[height - 1][2]
        recs[height - 1][2] = bytes([sr[0] ^ 1]) + sr[1:]
        out = join(head, recs)
    elif mode == "unknown-field":
        recs[height - 1][0] += b"\x78\x01"  # field 15, varint 1
        out = join(head, recs)
    elif mode == "truncate":
        height = len(recs)
        out = data[:-10]
    elif mode == "trailing":
        height = len(recs)
        out = data + b"\x00"
    else:
        sys.exit("tamper.py: unknown mode " + mode)
    open(dst, "wb").write(out)
    print(height)


if __name__ == "__main__":
    main()
