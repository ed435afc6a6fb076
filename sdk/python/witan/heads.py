# SPDX-License-Identifier: Apache-2.0
"""Signed history heads (spec/proofs.md, "Signed history heads"): a C2SP
tlog checkpoint of the history tree (c2sp.org/tlog-checkpoint) in a C2SP
signed note (c2sp.org/signed-note), co-signed by the validators; and RFC
6962 consistency proofs between two heads, verified against the *signed*
roots."""
import base64
import binascii
import json
import re
import urllib.request

from .genesis import genesis_hash, quorum
from .hashing import sha256, verify_consistency
from .keys import SIGNATURE_SIZE, ed25519_verify
from .proofs import SetsError, follow_sets

DASH = "\u2014 "          # a signature line starts with U+2014 and a space
CONSISTENCY_MAX = 65      # "at most 65 hashes"
SIZE = re.compile(r"(0|[1-9][0-9]*)\Z")
B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}\Z")


class HeadError(Exception):
    pass


def key_name(g, i, first=1):
    """Validator i's key name: "<chain id>/<i>" in the genesis's set,
    "<chain id>/<first height>/<i>" in a set governance made."""
    if first <= 1:
        return "%s/%d" % (g.chain_id, i)
    return "%s/%d/%d" % (g.chain_id, first, i)


def key_id(name, pubkey):
    """The first 4 bytes of SHA-256(key name || "\\n" || 0x01 || key)."""
    return sha256(name.encode("utf-8") + b"\n" + b"\x01" + bytes(pubkey))[:4]


def origin(g):
    return "witan/%s/%s" % (g.chain_id, genesis_hash(g).hex())


def checkpoint(g, size, root):
    """The text validators sign: three lines, each ending in a newline."""
    return "%s\n%d\n%s\n" % (origin(g), size,
                            base64.b64encode(root).decode("ascii"))


def _b64(text, what):
    if not B64.match(text) or len(text) % 4:
        raise HeadError("%s is not standard base64 with padding" % what)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise HeadError("%s is not standard base64 with padding" % what)


class Head:
    def __init__(self):
        self.size = 0
        self.root = None
        self.signers = []    # validator indexes whose lines verified
        self.set_count = 0   # validators in the set in force at size
        self.changes = 0     # set changes given with it
        self.ignored = 0     # lines of keys that are not the validators'


def check_head(note, g, changes=()):
    """Checks a signed note's text against the genesis g and the set chain
    `changes` (ValidatorChange messages; spec/proofs.md, "Validator-set
    changes"): signed by the set in force at its size. A Head, or raises
    HeadError saying what does not hold."""
    if "\n\n" not in note:
        raise HeadError("not a signed note: no blank line between the text "
                        "and its signatures")
    text, sigs = note.split("\n\n", 1)
    text += "\n"
    lines = text.split("\n")[:-1]
    if len(lines) != 3:
        raise HeadError("the checkpoint has %d lines; exactly 3 (origin, "
                        "size, root) and no extension lines" % len(lines))
    want = origin(g)
    if lines[0] != want:
        raise HeadError("origin \"%s\" is not this genesis's \"%s\""
                        % (lines[0], want))
    if not SIZE.match(lines[1]):
        raise HeadError("size \"%s\" is not a decimal number without "
                        "leading zeros" % lines[1])
    h = Head()
    h.size = int(lines[1])
    h.root = _b64(lines[2], "the root")
    if len(h.root) != 32:
        raise HeadError("the root is %d bytes, not 32" % len(h.root))
    if text != checkpoint(g, h.size, h.root):
        raise HeadError("the text is not exactly the checkpoint of size %d "
                        "and its root" % h.size)
    if not sigs or not sigs.endswith("\n"):
        raise HeadError("no signature lines, or the last does not end in a "
                        "newline")
    members, first = list(g.validators), 1
    try:
        _, vs = follow_sets(g, changes, h.size, h.size, False)
    except SetsError as x:
        raise HeadError("the set chain: %s" % x)
    if vs is not None:
        members, first = list(vs.validators), vs.first_height
    h.set_count, h.changes = len(members), len(changes)
    known = {}
    for i, v in enumerate(members):
        name = key_name(g, i, first)
        known[(name, key_id(name, v.pubkey))] = i
    signed = set()
    data = text.encode("utf-8")
    for n, line in enumerate(sigs[:-1].split("\n"), 1):
        if not line.startswith(DASH):
            raise HeadError("signature line %d does not start with an em "
                            "dash and a space" % n)
        parts = line[len(DASH):].split(" ")
        if len(parts) != 2 or not parts[0]:
            raise HeadError("signature line %d is not \"— NAME SIGNATURE\""
                            % n)
        name, blob = parts[0], _b64(parts[1], "signature line %d" % n)
        if len(blob) < 5:
            raise HeadError("signature line %d is too short for a key id "
                            "and a signature" % n)
        i = known.get((name, blob[:4]))
        if i is None:
            h.ignored += 1   # another key's, e.g. a witness's cosignature
            continue
        sig = blob[4:]
        if len(sig) != SIGNATURE_SIZE or \
                not ed25519_verify(members[i].pubkey, data, sig):
            raise HeadError("the signature of %s (validator %d, %s) does "
                            "not verify over the checkpoint"
                            % (name, i, members[i].name))
        signed.add(i)
    need = quorum(len(members))
    if len(signed) < need:
        raise HeadError("signed by %d distinct validator(s); a quorum is %d "
                        "of %d" % (len(signed), need, len(members)))
    h.signers = sorted(signed)
    return h


def head_sentence(h, g):
    if h.changes:
        return ("The history of chain %s at %d blocks has root %s, signed by "
                "%d validators of the set in force at that size (followed "
                "from the genesis through %d set change(s) given)."
                % (g.chain_id, h.size, h.root.hex(), len(h.signers),
                   h.changes))
    return ("The history of chain %s at %d blocks has root %s, signed by %d "
            "of its %d validators." % (g.chain_id, h.size, h.root.hex(),
                                       len(h.signers), len(g.validators)))


# --- consistency ---------------------------------------------------------------
def proof_from_json(text):
    """(from, to, [hash]) of a ConsistencyResponse as JSON (spec/api.md:
    `from`, `to` as strings or numbers, `proof` hex hashes; the roots it
    states are never used)."""
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise HeadError("the consistency proof is not JSON: %s" % e)
    if not isinstance(doc, dict) or "proof" not in doc:
        raise HeadError("the consistency proof has no \"proof\" member")

    def size(k):
        v = doc.get(k)
        if isinstance(v, str) and SIZE.match(v):
            return int(v)
        if type(v) is int and v >= 0:
            return v
        raise HeadError("the consistency proof's \"%s\" is not a size" % k)
    hashes = doc["proof"]
    if not isinstance(hashes, list) or len(hashes) > CONSISTENCY_MAX:
        raise HeadError("the consistency proof is not an array of at most "
                        "%d hashes" % CONSISTENCY_MAX)
    out = []
    for i, x in enumerate(hashes):
        if not isinstance(x, str) or not re.fullmatch(r"[0-9a-f]{64}", x):
            raise HeadError("proof[%d] is not 32 bytes in lower-case hex" % i)
        out.append(bytes.fromhex(x))
    return size("from"), size("to"), out


def fetch_proof(url, a, b):
    """The node's /v1/proofs/consistency?from=a&to=b (spec/api.md)."""
    u = "%s/v1/proofs/consistency?from=%d&to=%d" % (url.rstrip("/"), a, b)
    try:
        with urllib.request.urlopen(u, timeout=10) as r:
            return r.read().decode("utf-8")
    except OSError as e:
        raise HeadError("%s: %s" % (u, e))


def check_consistency(old, new, sizes_and_proof):
    """Whether the proof shows the history of head `old` to be a prefix of
    head `new`'s, against the roots the validators signed. Raises
    HeadError; returns the number of hashes."""
    a, b, hashes = sizes_and_proof
    if (a, b) != (old.size, new.size):
        raise HeadError("the proof is between sizes %d and %d, the heads are "
                        "of %d and %d" % (a, b, old.size, new.size))
    if old.size > new.size:
        raise HeadError("the older head (%d blocks) is larger than the newer "
                        "(%d)" % (old.size, new.size))
    if not verify_consistency(old.size, new.size, old.root, new.root,
                              hashes):
        raise HeadError("the consistency proof (%d hashes) does not show the "
                        "signed history of %d blocks (root %s) to be a "
                        "prefix of the signed history of %d blocks (root %s)"
                        % (len(hashes), old.size, old.root.hex(), new.size,
                           new.root.hex()))
    return len(hashes)
