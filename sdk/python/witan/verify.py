# SPDX-License-Identifier: Apache-2.0
"""Verifies a chain archive from its genesis without re-executing it.

What holds when verify() returns (spec/encoding.md, spec/consensus.md
"Validity", spec/state.md "Applying a block"; numbers are the checks'):

 1. the genesis parses and, when the auditor gives one, is the archive's;
 2. every block and header is in canonical form and within its limits;
 3. each header follows the one before: version, chain id, height,
    prev_hash, a time not before it, the history root, tx_count;
 4. for h > L the header carries the results of block h - L (L =
    pipeline_depth): its height, and the state and receipts roots the
    archive records for h - L; for h <= L no results at all;
 5. that header's results_cert is the canonical commit certificate of
    block h - L: canonical form, then a quorum of the validator set in
    force at h - L, each Ed25519 signature over its Vote;
 6. every transaction's stateless checks: size, decoding, key type and
    key, signature (Ed25519, and secp256k1 by keys.py), chain id, sender
    size, nonce >= 1, a payload; none twice, none committed before;
 7. the transactions root over the envelopes;
 8. the certificate the archive gives with each block, like 5;
 9. the validator sets: the genesis's from height 1; a header that
    carries next_validators_hash (block E, the last of its set) names the
    set in force from E + 1, whose bytes must be given (a set chain:
    `witan audit head --sets-out`, or a proof of version 2) and hash to
    it, in force from E + 1, with 1 to 64 Ed25519 keys.

What it cannot see without executing transactions: whether the state and
receipts roots themselves are right (the chain certifies them, which 4
and 5 check; `witan audit verify` re-executes and recomputes them), the
roots the archive records for the last L blocks (no header certifies
them yet), and the rules applied at execution (nonces, roles, payload
rules, models, contracts), whose outcome is in those roots.

The archive holds no validator set, only the hash of each next one (the
sets are state, table 27, which `witan audit verify` rebuilds by
re-executing): the set bytes come from a set chain, and nothing in it
but a set some header of the archive names is used. An archive past a
change whose set is not given fails at its first certificate by that
set, naming the block and the hash it needs.

proof.json, evidence bundles (proofs.py) and signed history heads
(heads.py) are checked with the genesis alone, with cert_problem() below
as their certificate rule too.
"""
import collections

from . import PROTOCOL_VERSION
from .archive import Archive
from .genesis import genesis_hash, parse as parse_genesis, quorum
from .hashing import (History, TAG_BLOCK, TAG_ENVELOPE, TAG_TX, TAG_VOTE,
                      mth, tagged)
from .keys import KEY_NAMES, SIGNATURE_SIZE, pubkey_ok, verify as sig_verify
from .keys import ed25519_verify
from .pb import DecodeError, W, decode, encode

HEADER_SIZE_MAX = 4096  # WITAN_HEADER_SIZE_MAX, spec/encoding.md
TAG_VALIDATORS = b"witan/validators/v1"  # spec/encoding.md, tags
VALIDATORS_MAX = 64     # a ValidatorSet's size bound, spec/governance.md


class Divergence(Exception):
    """The first place where the archive does not hold."""

    def __init__(self, height, what, expected=None, found=None):
        self.height, self.what = height, what
        self.expected, self.found = expected, found
        text = "block %d: %s" % (height, what) if height else what
        if expected is not None or found is not None:
            text += ": expected %s, found %s" % (show(expected), show(found))
        super().__init__(text)


def show(v):
    if isinstance(v, (bytes, bytearray)):
        return v.hex() if v else "(empty)"
    return str(v)


class Result:
    """What a verified archive established, for the summary and for the
    checks to come (proofs, signed heads)."""

    def __init__(self):
        self.genesis = None
        self.genesis_hash = None
        self.height = 0
        self.tip_hash = None
        self.tip_time_ms = 0
        self.block_hashes = []          # heights 1 .. height
        self.history = History()        # over those hashes
        self.txs = 0
        self.sigs = collections.Counter()  # verified, by key type name
        self.archive_certs = 0
        self.canonical_certs = 0        # results_cert checked
        self.certified_roots = 0        # archive roots a header confirmed
        self.set_changes = []           # heights E that named a next set


def cert_problem(g, cert, height, block_hash, vset=None):
    """None when `cert` (a decoded CommitCertificate) is a canonical, valid
    quorum certificate of (height, block_hash) under genesis g's
    validators, or those of `vset` (a ValidatorSet message, the set in
    force at `height` after a change: spec/proofs.md, "Validator-set
    changes") (spec/encoding.md, "Votes and commit certificates";
    spec/consensus.md, quorums); else (why, expected, found) of the first
    thing that fails. The one rule for archives, proofs and evidence."""
    members = list((vset if vset is not None else g).validators)
    keys = [v.pubkey for v in members]
    need = quorum(len(keys))
    # canonical form first, before any signature is looked at
    if len(cert.block_hash) != 32:
        return "block_hash is not 32 bytes", 32, len(cert.block_hash)
    if any(len(s) != SIGNATURE_SIZE for s in cert.signatures):
        return "a signature is not 64 bytes", None, None
    signers = bytes(cert.signers)
    if not signers or len(signers) > 8 or signers[-1] == 0:
        return ("signers bitmap is empty, over 8 bytes or ends in a zero "
                "byte", None, signers)
    idx = [i for i in range(8 * len(signers))
           if signers[i // 8] >> (i % 8) & 1]
    if len(idx) != len(cert.signatures):
        return ("signature count differs from the signers bitmap",
                len(idx), len(cert.signatures))
    # then what it certifies, and whether it is a quorum
    if cert.height != height:
        return "height", height, cert.height
    if cert.block_hash != block_hash:
        return "block_hash", block_hash, cert.block_hash
    outside = [i for i in idx if i >= len(keys)]
    if outside:
        return ("signer %d is outside the validator set of %d"
                % (outside[0], len(keys)), None, None)
    if len(idx) < need:
        return ("signers are below quorum (%d of %d validators needed)"
                % (need, len(keys)), need, len(idx))
    vote = encode(W.Vote(chain_id=g.chain_id, height=height,
                         view=cert.view, block_hash=block_hash))
    digest = tagged(TAG_VOTE, vote)
    for i, sig in zip(idx, cert.signatures):
        if not ed25519_verify(keys[i], digest, sig):
            return ("signature of validator %d (%s) does not verify over "
                    "the vote (view %d)" % (i, members[i].name,
                                            cert.view), None, None)
    return None


class Verifier:
    def __init__(self, genesis_msg, set_bytes=()):
        self.g = genesis_msg
        # the given sets by their hash; the sets in force, (first, set)
        # in height order (None: the genesis's); a change whose set was
        # not given: (E, hash), after which nothing can be certified
        self.given = {tagged(TAG_VALIDATORS, b): b for b in set_bytes}
        self.sets = [(1, None)]
        self.missing = None
        self.L = genesis_msg.params.pipeline_depth
        self.res = Result()
        self.res.genesis = genesis_msg
        self.res.genesis_hash = genesis_hash(genesis_msg)
        self.res.tip_hash = self.res.genesis_hash
        self.res.tip_time_ms = genesis_msg.genesis_time_ms
        self.recent = collections.deque(maxlen=self.L)  # (hash, record)
        self.seen_txs = set()

    # --- certificates ------------------------------------------------------
    def check_cert(self, at, cert, what, height, block_hash):
        """Raises unless `cert` (decoded) is a canonical, valid quorum
        certificate of (height, block_hash). `at` is the block whose
        check this is, `what` names the certificate in messages."""
        problem = cert_problem(self.g, cert, height, block_hash,
                               self.set_at(at, height))
        if problem:
            why, expected, found = problem
            raise Divergence(at, "%s: %s" % (what, why), expected, found)

    def set_at(self, at, height):
        """The ValidatorSet in force at `height` (None: the genesis's)."""
        if self.missing and height > self.missing[0]:
            e, want = self.missing
            raise Divergence(at, "block %d is certified by the validator "
                             "set block %d names (next_validators_hash %s), "
                             "which was not given (a set chain: --sets)"
                             % (height, e, want.hex()))
        vs = None
        for first, s in self.sets:
            if first <= height:
                vs = s
        return vs

    def next_set(self, h, want):
        """Block h names `want` as the next set: in force from h + 1."""
        def fail(what, expected=None, found=None):
            raise Divergence(h, "next_validators_hash: " + what, expected,
                             found)
        if len(want) != 32:
            fail("not 32 bytes", 32, len(want))
        data = self.given.get(want)
        if data is None:
            self.missing = (h, want)
            return
        try:
            vs = decode(W.ValidatorSet, data, unknown_ok=True)
        except DecodeError as e:
            fail("the set given for it %s" % e)
        if vs.first_height != h + 1 or \
                not 1 <= len(vs.validators) <= VALIDATORS_MAX:
            fail("the set it names is in force from %d with %d validators; "
                 "expected from %d with 1 to %d"
                 % (vs.first_height, len(vs.validators), h + 1,
                    VALIDATORS_MAX))
        for k, v in enumerate(vs.validators):
            if not pubkey_ok(1, v.pubkey):
                fail("validator %d's key in the set it names is not an "
                     "Ed25519 key" % k)
        self.sets.append((h + 1, vs))
        self.res.set_changes.append(h)

    def decode_cert(self, at, what, data):
        try:
            return decode(W.CommitCertificate, data)
        except DecodeError as e:
            raise Divergence(at, "%s %s" % (what, e))

    # --- transactions ------------------------------------------------------
    def check_tx(self, h, i, env_bytes):
        """Stateless checks of transaction i of block h; its hash."""
        def fail(why, expected=None, found=None):
            raise Divergence(h, "transaction %d: %s" % (i, why),
                             expected, found)
        p = self.g.params
        if len(env_bytes) > p.tx_size_max:
            fail("over tx_size_max", p.tx_size_max, len(env_bytes))
        try:
            env = decode(W.Envelope, env_bytes, unknown_ok=True)
        except DecodeError as e:
            fail("the envelope %s" % e)
        name = KEY_NAMES.get(env.key_type)
        if name is None:
            fail("unknown key type", "1 or 2", env.key_type)
        if not pubkey_ok(env.key_type, env.pubkey):
            fail("not a valid %s public key" % name, None, env.pubkey)
        if len(env.signature) != SIGNATURE_SIZE:
            fail("signature size", SIGNATURE_SIZE, len(env.signature))
        try:
            body = decode(W.TxBody, env.body, unknown_ok=True)
        except DecodeError as e:
            fail("the body %s" % e)
        if body.chain_id != self.g.chain_id:
            fail("chain id", self.g.chain_id, body.chain_id)
        if len(body.sender) != 20:
            fail("sender is not a 20-byte address", 20, len(body.sender))
        if body.nonce == 0:
            fail("nonce 0 (nonces start at 1)")
        if body.WhichOneof("payload") is None:
            fail("no payload")
        tx_hash = tagged(TAG_TX, env.body)
        if not sig_verify(env.key_type, env.pubkey, tx_hash, env.signature):
            fail("%s signature does not verify over transaction %s"
                 % (name, tx_hash.hex()))
        self.res.sigs[name] += 1
        return tx_hash

    # --- one block ---------------------------------------------------------
    def block(self, rec):
        h, res, p = rec.height, self.res, self.g.params

        def fail(what, expected=None, found=None):
            raise Divergence(h, what, expected, found)
        if len(rec.block) > p.block_size_max:
            fail("block over block_size_max", p.block_size_max,
                 len(rec.block))
        try:
            block = decode(W.Block, rec.block, canonical=True)
        except DecodeError as e:
            fail("the block %s" % e)
        if not 1 <= len(block.header) <= HEADER_SIZE_MAX:
            fail("header size not in 1..%d" % HEADER_SIZE_MAX, None,
                 len(block.header))
        try:
            hd = decode(W.BlockHeader, block.header, canonical=True)
        except DecodeError as e:
            fail("the header %s" % e)
        block_hash = tagged(TAG_BLOCK, block.header)

        # 3. the header against the one before
        if hd.protocol_version != PROTOCOL_VERSION:
            fail("protocol_version", PROTOCOL_VERSION, hd.protocol_version)
        if hd.chain_id != self.g.chain_id:
            fail("chain_id", self.g.chain_id, hd.chain_id)
        if hd.height != h:
            fail("height (the archive's records are 1, 2, ... in order)",
                 h, hd.height)
        if hd.prev_hash != res.tip_hash:
            fail("prev_hash (the hash of block %d%s)"
                 % (h - 1, ", the genesis hash" if h == 1 else ""),
                 res.tip_hash, hd.prev_hash)
        if hd.time_ms < res.tip_time_ms:
            fail("time_ms goes back (not before %s's)"
                 % ("the genesis" if h == 1 else "block %d" % (h - 1)),
                 ">= %d" % res.tip_time_ms, hd.time_ms)
        history = res.history.root()
        if hd.history_root != history:
            fail("history_root (RFC 6962 over blocks 1..%d)" % (h - 1),
                 history, hd.history_root)
        if hd.tx_count != len(block.txs):
            fail("tx_count", len(block.txs), hd.tx_count)
        if hd.tx_count > p.block_tx_count_max:
            fail("tx_count over block_tx_count_max", p.block_tx_count_max,
                 hd.tx_count)

        # 4, 5. the results of block h - L and their canonical certificate
        if h > self.L:
            old_hash, old = self.recent[0]
            r = h - self.L
            if hd.results_height != r:
                fail("results_height", r, hd.results_height)
            if hd.results_state_root != old.state_root:
                fail("results_state_root: the archive's state root of "
                     "block %d is not the one this header certifies "
                     "(expected: the header's, found: the archive's)" % r,
                     hd.results_state_root, old.state_root)
            if hd.results_receipts_root != old.receipts_root:
                fail("results_receipts_root: the archive's receipts root "
                     "of block %d is not the one this header certifies "
                     "(expected: the header's, found: the archive's)" % r,
                     hd.results_receipts_root, old.receipts_root)
            if not hd.HasField("results_cert"):
                fail("no results_cert (the canonical certificate of block "
                     "%d)" % r)
            self.check_cert(h, hd.results_cert,
                            "results_cert (canonical certificate of block "
                            "%d)" % r, r, old_hash)
            res.canonical_certs += 1
            res.certified_roots += 1
        elif (hd.results_height or hd.results_state_root or
              hd.results_receipts_root or hd.HasField("results_cert")):
            fail("results before any are due (height <= pipeline depth %d)"
                 % self.L)

        # 6, 7. transactions and their root
        hashes = [self.check_tx(h, i, env) for i, env in enumerate(block.txs)]
        if len(set(hashes)) != len(hashes):
            fail("a transaction appears twice")
        for i, t in enumerate(hashes):
            if t in self.seen_txs:
                fail("transaction %d (%s) was committed before"
                     % (i, t.hex()))
        root = mth([tagged(TAG_ENVELOPE, env) for env in block.txs])
        if hd.txs_root != root:
            fail("txs_root (RFC 6962 over the envelopes)", root, hd.txs_root)

        # 8. the certificate given with the block
        cert = self.decode_cert(h, "the archive's certificate",
                                rec.cert)
        self.check_cert(h, cert, "the archive's certificate", h, block_hash)
        res.archive_certs += 1

        # 9. the next set, when this block ends its own
        if hd.next_validators_hash:
            if self.missing:
                fail("a next validator set past one that was not given")
            self.next_set(h, hd.next_validators_hash)

        self.seen_txs.update(hashes)
        res.txs += len(hashes)
        res.height = h
        res.tip_hash = block_hash
        res.tip_time_ms = hd.time_ms
        res.block_hashes.append(block_hash)
        res.history.append(block_hash)
        self.recent.append((block_hash, rec))


def verify(f, trusted_genesis_json=None, set_bytes=()):
    """Verifies the archive open as binary file `f`, with the serialized
    ValidatorSet messages `set_bytes` for its changes (the validator_set
    of each ValidatorChange of a set chain); the Result, or raises
    Divergence (or archive.ArchiveError, genesis.GenesisError)."""
    a = Archive(f)
    g = parse_genesis(a.genesis_json.decode("utf-8", "strict"))
    if trusted_genesis_json is not None:
        trusted = parse_genesis(trusted_genesis_json)
        if genesis_hash(trusted) != genesis_hash(g):
            raise Divergence(0, "the archive's genesis is not the trusted "
                             "one (genesis hash)", genesis_hash(trusted),
                             genesis_hash(g))
    v = Verifier(g, set_bytes)
    for rec in a.records():
        v.block(rec)
    return v.res, a.count
