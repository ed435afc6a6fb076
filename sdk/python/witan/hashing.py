# SPDX-License-Identifier: Apache-2.0
"""Tagged hashes and RFC 6962 Merkle trees (spec/encoding.md)."""
import hashlib

TAG_TX = b"witan/tx/v1"
TAG_ENVELOPE = b"witan/envelope/v1"
TAG_BLOCK = b"witan/block/v1"
TAG_VOTE = b"witan/vote/v1"
TAG_RECEIPT = b"witan/receipt/v1"
TAG_GENESIS = b"witan/genesis/v1"
TAG_ADDRESS = b"witan/address/v1"


def sha256(data):
    return hashlib.sha256(data).digest()


def tagged(tag, data):
    """H(tag, bytes) = SHA-256(tag || 0x00 || bytes)."""
    assert len(tag) <= 32
    return sha256(tag + b"\x00" + bytes(data))


def address(key_type, pubkey):
    """The first 20 bytes of H("witan/address/v1", key_type || pubkey)."""
    return tagged(TAG_ADDRESS, bytes([key_type]) + pubkey)[:20]


def _leaf(d):
    return sha256(b"\x00" + d)


def _node(left, right):
    return sha256(b"\x01" + left + right)


def mth(leaves):
    """MTH(D[n]) of RFC 6962, section 2.1, straight from its definition."""
    n = len(leaves)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return _leaf(leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return _node(mth(leaves[:k]), mth(leaves[k:]))


class History:
    """The history tree kept incrementally: only the roots of the perfect
    subtrees that make up the first `size` leaves (at most 64), largest
    first. An RFC 6962 tree of n leaves is exactly those subtrees joined
    from the right, so appending costs O(log n) and the root O(log n),
    where mth() over every block hash again would cost O(n) per block."""

    def __init__(self):
        self.size = 0
        self.frontier = []  # (leaf count, root), leaf counts decreasing

    def append(self, d):
        self.size += 1
        self.frontier.append((1, _leaf(d)))
        while len(self.frontier) > 1 and \
                self.frontier[-1][0] == self.frontier[-2][0]:
            (n, right), (_, left) = self.frontier.pop(), self.frontier.pop()
            self.frontier.append((2 * n, _node(left, right)))

    def root(self):
        if not self.frontier:
            return sha256(b"")
        root = self.frontier[-1][1]
        for _, left in reversed(self.frontier[:-1]):
            root = _node(left, root)
        return root


# --- proofs (RFC 9162, 2.1.3.2 and 2.1.4.2) ----------------------------------
# Used by proof.json checks (proofs.py) and consistency proofs between
# signed heads (heads.py); the self-test holds them to spec/encoding.md's
# vectors.

def verify_inclusion(index, size, leaf, path, root):
    """Whether `path` proves leaf data `leaf` at `index` in the tree of
    `size` leaves whose root is `root`."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, _leaf(leaf)
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(size1, size2, root1, root2, proof):
    """Whether `proof` shows the tree of size1 (root1) to be a prefix of
    the tree of size2 (root2)."""
    if size1 > size2:
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if size1 == 0:
        return not proof
    if not proof:
        return False
    proof = list(proof)
    if size1 & (size1 - 1) == 0:  # a power of two: root1 starts the path
        proof.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _node(c, fr)
            sr = _node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == root1 and sr == root2
