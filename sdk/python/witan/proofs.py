# SPDX-License-Identifier: Apache-2.0
"""proof.json and evidence bundles (spec/proofs.md), checked with the
genesis alone: no node, no database, no other block.

check_proof() follows spec/proofs.md, "Checking", steps 1-8, in that
order, and names the first step that fails (step 3 follows the
validator-set changes a proof of version 2 carries, from the genesis on:
follow_sets(), which signed heads use too); check_evidence() checks every
proof of a bundle and then the links of "Evidence". Certificates are
verify.cert_problem(), the rule the archive verifier applies; paths are
hashing.verify_inclusion() (RFC 9162, 2.1.3.2).
"""
import json
import base64
import re
import struct

from .genesis import genesis_hash
from .hashing import (TAG_BLOCK, TAG_ENVELOPE, TAG_RECEIPT, TAG_TX, tagged,
                      verify_inclusion)
from .keys import KEY_NAMES, SIGNATURE_SIZE, pubkey_ok, verify as sig_verify
from .pb import DecodeError, W, decode
from .verify import cert_problem, show

TAG_RECORD = b"witan/record/v1"
TAG_VALIDATORS = b"witan/validators/v1"
PATH_MAX = 64        # "Paths hold at most 64 hashes"
EVIDENCE_MIN, EVIDENCE_MAX = 2, 64
PROOF_VERSION = 1    # without validator_changes
PROOF_VERSION_SETS = 2
CHANGES_MAX = 256    # "1 to 256" validator_changes
VALIDATORS_MAX = 64
EVIDENCE_VERSION = 1

# The state tables of spec/state.md (and contracts.md, section 5 and 7),
# with the name a sentence gives their records.
STATE_TABLES = {6: "account", 7: "attestation", 8: "model",
                9: "prediction", 13: "contract", 15: "contract run",
                16: "contract state", 17: "decision", 19: "event",
                21: "prediction score", 22: "scorecard"}
TABLE_PREDICTIONS, TABLE_DECISIONS = 9, 17

STEPS = {0: "the file", 1: "version, chain and genesis",
         2: "the headers", 3: "the validator sets", 4: "results_cert",
         5: "block h's certificate", 6: "the receipt",
         7: "the transaction", 8: "the record"}


class ProofError(Exception):
    """The first step of spec/proofs.md, "Checking", that fails (0: the
    file itself is not a proof.json)."""

    def __init__(self, step, what, expected=None, found=None, proof=None):
        self.step, self.what, self.proof = step, what, proof
        self.expected, self.found = expected, found
        super().__init__(self._text())

    def _text(self):
        where = "step %d (%s)" % (self.step, STEPS[self.step]) \
            if self.step else STEPS[0]
        if self.proof is not None:
            where = "proof %d of the evidence, %s" % (self.proof, where)
        text = "%s: %s" % (where, self.what)
        if self.expected is not None or self.found is not None:
            text += ": expected %s, found %s" % (show(self.expected),
                                                 show(self.found))
        return text

    def in_proof(self, n):
        self.proof = n
        self.args = (self._text(),)
        return self


class EvidenceError(Exception):
    """A bundle whose proofs hold but whose links do not."""


# --- reading proof.json -------------------------------------------------------
# spec/proofs.md, "proof.json": every member present (but `record`, and
# `deleted` inside it, `envelope`, `tx_path` without `envelope`, and
# `validator_changes`, required with version 2 and refused with 1), of
# its JSON type; bytes in padded standard base64 (the proto3 JSON
# mapping); members the format does not define are ignored (they are not
# hashed, so they cannot change what a proof proves).
B64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|"
                 r"[A-Za-z0-9+/]{3}=)?\Z")
BYTES_MEMBERS = ("genesis_hash", "receipt", "header", "results_header",
                 "results_cert")


def _bad(what):
    raise ProofError(0, what)


def _member(obj, k, where=""):
    if k not in obj:
        _bad("member \"%s%s\" is missing" % (where, k))
    return obj[k]


def _b64(v, where):
    if not isinstance(v, str) or not B64.match(v):
        _bad("%s is not a string of padded standard base64" % where)
    return base64.b64decode(v, validate=True)


def _uint(v, where, bits):
    if type(v) is not int or not 0 <= v < 2 ** bits:
        _bad("%s is not an integer in 0..2^%d-1" % (where, bits))
    return v


def _path(v, where):
    if not isinstance(v, list):
        _bad("%s is not an array of hashes" % where)
    if len(v) > PATH_MAX:
        _bad("%s holds %d hashes; at most %d" % (where, len(v), PATH_MAX))
    out = []
    for i, x in enumerate(v):
        b = _b64(x, "%s[%d]" % (where, i))
        if len(b) != 32:
            _bad("%s[%d] is not 32 bytes" % (where, i))
        out.append(b)
    return out


def changes_from_json(v, where="validator_changes"):
    """ValidatorChange messages from a JSON array of {header, cert,
    validator_set} objects (at most CHANGES_MAX)."""
    if not isinstance(v, list) or len(v) > CHANGES_MAX:
        _bad("%s is not an array of at most %d changes" % (where, CHANGES_MAX))
    out = []
    for i, o in enumerate(v):
        w = "%s[%d]" % (where, i)
        if not isinstance(o, dict):
            _bad("%s is not an object" % w)
        c = W.ValidatorChange()
        for name in ("header", "cert", "validator_set"):
            setattr(c, name, _b64(_member(o, name, w + "."),
                                  "%s.%s" % (w, name)))
        out.append(c)
    return out


def proof_from_json(obj):
    """A Proof message from proof.json's object."""
    if not isinstance(obj, dict):
        _bad("a proof is not a JSON object")
    p = W.Proof()
    p.version = _uint(_member(obj, "version"), "version", 32)
    cid = _member(obj, "chain_id")
    if not isinstance(cid, str):
        _bad("chain_id is not a string")
    p.chain_id = cid
    for name in BYTES_MEMBERS:
        setattr(p, name, _b64(_member(obj, name), name))
    # The transaction is optional: without it the receipt proves its hash
    # was committed (evidence links); a tx_path then fails at step 6.
    if "envelope" in obj:
        p.envelope = _b64(obj["envelope"], "envelope")
    if p.envelope or "tx_path" in obj:
        p.tx_path.extend(_path(_member(obj, "tx_path"), "tx_path"))
    p.receipts_path.extend(_path(_member(obj, "receipts_path"),
                                 "receipts_path"))
    if "record" in obj:
        r = obj["record"]
        if not isinstance(r, dict):
            _bad("record is not an object")
        p.record.table = _uint(_member(r, "table", "record."),
                               "record.table", 32)
        p.record.key = _b64(_member(r, "key", "record."), "record.key")
        p.record.value = _b64(_member(r, "value", "record."), "record.value")
        deleted = r.get("deleted", False)
        if not isinstance(deleted, bool):
            _bad("record.deleted is not true or false")
        p.record.deleted = deleted
    if p.version == PROOF_VERSION_SETS:
        changes = changes_from_json(_member(obj, "validator_changes"))
        if not changes:
            _bad("validator_changes is empty in a proof of version 2")
        p.validator_changes.extend(changes)
    elif "validator_changes" in obj:
        _bad("validator_changes in a proof of version %d" % p.version)
    return p


def load(text):
    """('proof', Proof) or ('evidence', [Proof]) from a file's text."""
    try:
        doc = json.loads(text)
    except ValueError as e:
        _bad("not JSON: %s" % e)
    if isinstance(doc, dict) and "evidence" in doc:
        if _member(doc, "version") != EVIDENCE_VERSION:
            _bad("the evidence file's version is not %d" % EVIDENCE_VERSION)
        ev = doc["evidence"]
        if not isinstance(ev, list) or \
                not EVIDENCE_MIN <= len(ev) <= EVIDENCE_MAX:
            _bad("evidence must be an array of %d to %d proofs"
                 % (EVIDENCE_MIN, EVIDENCE_MAX))
        proofs = []
        for i, o in enumerate(ev):
            try:
                proofs.append(proof_from_json(o))
            except ProofError as e:
                raise e.in_proof(i + 1)
        return "evidence", proofs
    return "proof", proof_from_json(doc)


# --- record hashes ------------------------------------------------------------
def record_hash(table, key, value, deleted):
    """H("witan/record/v1", u8 table || be32 key_size || key ||
    u8 (1 = put, 0 = delete) || be32 value_size || value)."""
    entry = (bytes([table]) + struct.pack(">I", len(key)) + key +
             bytes([0 if deleted else 1]) + struct.pack(">I", len(value)) +
             value)
    return tagged(TAG_RECORD, entry)


# --- validator sets -----------------------------------------------------------
class SetsError(Exception):
    """A change of a set chain that does not hold: its index, what."""

    def __init__(self, index, what):
        self.index, self.what = index, what
        super().__init__("validator_changes[%d]: %s" % (index, what))


def follow_sets(g, changes, h, later, strict):
    """spec/proofs.md, "Checking", step 3: from the genesis's set (in force
    from height 1), each change in order: block E's header, of g's chain,
    with the current set's first height <= E < later, certified by the
    current set, naming H("witan/validators/v1", validator_set) as its
    next_validators_hash; the set in force from E + 1 on. `strict` (a
    proof) refuses a change at or past `later`; otherwise (a head) the
    walk stops there. The ValidatorSet messages in force at h and at later
    (None: the genesis's); raises SetsError."""
    cur, first, at_h = None, 1, None
    for i, c in enumerate(changes):
        try:
            e = decode(W.BlockHeader, c.header, unknown_ok=True)
            cert = decode(W.CommitCertificate, c.cert)
        except DecodeError as x:
            raise SetsError(i, "header or cert %s" % x)
        if e.chain_id != g.chain_id:
            raise SetsError(i, "header: of another chain")
        if not strict and e.height >= later:
            break
        if not first <= e.height < later:
            raise SetsError(i, "header: block %d does not end the set in "
                            "force from %d before block %d"
                            % (e.height, first, later))
        if len(e.next_validators_hash) != 32:
            raise SetsError(i, "header: block %d names no next validator "
                            "set" % e.height)
        problem = cert_problem(g, cert, e.height, tagged(TAG_BLOCK, c.header),
                               cur)
        if problem:
            raise SetsError(i, "cert: block %d is not certified by the set "
                            "in force from %d: %s"
                            % (e.height, first, problem[0]))
        if tagged(TAG_VALIDATORS, c.validator_set) != e.next_validators_hash:
            raise SetsError(i, "validator_set: its hash is not the "
                            "next_validators_hash block %d carries"
                            % e.height)
        try:
            vs = decode(W.ValidatorSet, c.validator_set, unknown_ok=True)
        except DecodeError as x:
            raise SetsError(i, "validator_set %s" % x)
        if vs.first_height != e.height + 1 or \
                not 1 <= len(vs.validators) <= VALIDATORS_MAX:
            raise SetsError(i, "validator_set: in force from %d with %d "
                            "validators; block %d's next set is in force "
                            "from %d with 1 to %d"
                            % (vs.first_height, len(vs.validators), e.height,
                               e.height + 1, VALIDATORS_MAX))
        for k, v in enumerate(vs.validators):
            if not pubkey_ok(1, v.pubkey):
                raise SetsError(i, "validator_set: validator %d's key is "
                                "not an Ed25519 key" % k)
        cur, first = vs, vs.first_height
        if first <= h:
            at_h = cur
    return at_h, cur


# --- checking one proof ------------------------------------------------------
class Checked:
    """What a proof established, for its sentence and for evidence."""

    def __init__(self):
        self.height = self.results_height = 0
        self.tx_hash = self.sender = None
        self.nonce = 0
        self.body = None          # the decoded TxBody
        self.receipt = None
        self.status = ""
        self.record = None        # the StateRecord, when there is one
        self.changes = 0          # validator-set changes followed


def _decode(step, cls, data, what, unknown_ok=True):
    try:
        return decode(cls, data, unknown_ok=unknown_ok)
    except DecodeError as e:
        raise ProofError(step, "%s %s" % (what, e))


def check_proof(p, g):
    """Checks Proof p against the genesis message g; a Checked, or raises
    ProofError naming the first step that fails."""
    L = g.params.pipeline_depth
    out = Checked()

    # 1. version (1 without validator_changes, 2 with 1 to 256), chain
    # id, genesis hash
    def fail1(what, e=None, f=None):
        raise ProofError(1, what, e, f)
    if p.version not in (PROOF_VERSION, PROOF_VERSION_SETS):
        fail1("version", "1 or 2", p.version)
    n = len(p.validator_changes)
    if (p.version == PROOF_VERSION) != (n == 0) or n > CHANGES_MAX:
        fail1("validator_changes: a proof of version %d carries %s"
              % (p.version, "none" if p.version == 1 else "1 to 256"),
              None, n)
    if p.chain_id != g.chain_id:
        fail1("chain_id is not the genesis's", g.chain_id, p.chain_id)
    gh = genesis_hash(g)
    if p.genesis_hash != gh:
        fail1("genesis_hash is not the genesis's hash", gh, p.genesis_hash)

    # 2. both headers decode, of G's chain, h + L carrying h's results.
    # (Bytes that are not a canonical header cannot be certified: step 3
    # or 4 refuses them.)
    def fail2(what, e=None, f=None):
        raise ProofError(2, what, e, f)
    rh = _decode(2, W.BlockHeader, p.results_header, "results_header")
    hd = _decode(2, W.BlockHeader, p.header, "header")
    if hd.chain_id != g.chain_id:
        fail2("header.chain_id", g.chain_id, hd.chain_id)
    if rh.chain_id != g.chain_id:
        fail2("results_header.chain_id", g.chain_id, rh.chain_id)
    if rh.height != hd.height + L:
        fail2("results_header.height is not header.height + L (L = %d)" % L,
              hd.height + L, rh.height)
    if rh.results_height != hd.height:
        fail2("results_header.results_height is not header.height",
              hd.height, rh.results_height)
    out.height, out.results_height = hd.height, rh.height

    # 3. the validator sets, from the genesis's through each change
    try:
        set_h, set_later = follow_sets(g, p.validator_changes, hd.height,
                                       rh.height, True)
    except SetsError as x:
        raise ProofError(3, str(x))
    out.changes = n

    # 4. results_cert certifies block h + L, under the set in force there
    # (a field the spec does not define makes it no certificate:
    # encoding.md, "Votes and commit certificates")
    cert = _decode(4, W.CommitCertificate, p.results_cert, "results_cert",
                   unknown_ok=False)
    problem = cert_problem(g, cert, rh.height,
                           tagged(TAG_BLOCK, p.results_header), set_later)
    if problem:
        why, e, f = problem
        raise ProofError(4, "not a valid certificate of block %d: %s"
                         % (rh.height, why), e, f)

    # 5. block h + L's header certifies block h, under the set at h
    if not rh.HasField("results_cert"):
        raise ProofError(5, "results_header carries no results_cert")
    problem = cert_problem(g, rh.results_cert, hd.height,
                           tagged(TAG_BLOCK, p.header), set_h)
    if problem:
        why, e, f = problem
        raise ProofError(5, "results_header.results_cert is not a valid "
                         "certificate of block %d: %s" % (hd.height, why),
                         e, f)

    # 6. the receipt, at its index in h + L's receipts root
    def fail5(what, e=None, f=None):
        raise ProofError(6, what, e, f)
    rc = _decode(6, W.Receipt, p.receipt, "the receipt")
    if rc.height != hd.height:
        fail5("the receipt's height is not block h's", hd.height, rc.height)
    if rc.index >= hd.tx_count:
        fail5("the receipt's index is not below header.tx_count (%d)"
              % hd.tx_count, "< %d" % hd.tx_count, rc.index)
    if not verify_inclusion(rc.index, hd.tx_count,
                            tagged(TAG_RECEIPT, p.receipt),
                            list(p.receipts_path),
                            rh.results_receipts_root):
        fail5("receipts_path does not lead from the receipt (index %d of "
              "%d) to results_header.results_receipts_root %s"
              % (rc.index, hd.tx_count, rh.results_receipts_root.hex()))
    out.receipt = rc
    out.status = W.TxStatus.Name(rc.status).replace("TX_STATUS_", "") \
        if rc.status in W.TxStatus.values() else "status %d" % rc.status

    # 7. the envelope, at the same index in h's transactions root; its
    # hash is the receipt's; its signature
    def fail6(what, e=None, f=None):
        raise ProofError(7, what, e, f)
    out.tx_hash, out.body = rc.tx_hash, None
    if not p.envelope:
        if len(p.tx_path):
            fail6("a tx_path without the envelope")
        return check_record(p, rc, out)
    if not verify_inclusion(rc.index, hd.tx_count,
                            tagged(TAG_ENVELOPE, p.envelope),
                            list(p.tx_path), hd.txs_root):
        fail6("tx_path does not lead from the envelope (index %d of %d) to "
              "header.txs_root %s" % (rc.index, hd.tx_count,
                                      hd.txs_root.hex()))
    try:
        env = decode(W.Envelope, p.envelope, unknown_ok=True)
    except DecodeError as e:
        fail6("the envelope %s" % e)
    tx_hash = tagged(TAG_TX, env.body)
    if tx_hash != rc.tx_hash:
        fail6("H(\"witan/tx/v1\", envelope.body) is not the receipt's "
              "tx_hash", rc.tx_hash, tx_hash)
    name = KEY_NAMES.get(env.key_type)
    if name is None or not pubkey_ok(env.key_type, env.pubkey) or \
            len(env.signature) != SIGNATURE_SIZE or \
            not sig_verify(env.key_type, env.pubkey, tx_hash, env.signature):
        fail6("the envelope's %s signature does not verify over transaction "
              "%s" % (name or "(unknown key type %d)" % env.key_type,
                      tx_hash.hex()))
    try:
        body = decode(W.TxBody, env.body, unknown_ok=True)
    except DecodeError as e:
        fail6("the transaction's body %s" % e)
    out.tx_hash, out.body = tx_hash, body
    out.sender, out.nonce = body.sender, body.nonce
    return check_record(p, rc, out)


def check_record(p, rc, out):
    # 8. the record, among the receipt's record hashes
    if p.HasField("record"):
        r = p.record
        if r.table not in STATE_TABLES:
            raise ProofError(8, "table %d is not a state table (spec/"
                             "state.md)" % r.table)
        if r.deleted and r.value:
            raise ProofError(8, "a deleted record carries a value")
        rhash = record_hash(r.table, r.key, r.value, r.deleted)
        if rhash not in list(rc.records):
            raise ProofError(8, "its record hash %s is not among the "
                             "receipt's %d records"
                             % (rhash.hex(), len(rc.records)))
        out.record = r
    return out


def sentence(c, g):
    """What a checked proof proved, in one sentence (as proofs.md's
    example)."""
    sender = (" from %s (nonce %d)" % (c.sender.hex(), c.nonce)
              if c.body is not None and len(c.sender) == 20 else "")
    sets = (" (the validator sets of %d change(s) from the genesis on)"
            % c.changes if c.changes else "")
    s = ("Block %d of chain %s, certified by its validators%s through block "
         "%d, holds transaction %s%s with receipt %s"
         % (c.height, g.chain_id, sets, c.results_height, c.tx_hash.hex(),
            sender, c.status))
    if c.record is not None:
        r = c.record
        name = STATE_TABLES[r.table]
        if r.deleted:
            s += ", which deleted %s record %s" % (name, r.key.hex())
        else:
            s += ", which wrote %s record %s (%d bytes)" % (
                name, r.key.hex(), len(r.value))
    return s + "."


# --- evidence -----------------------------------------------------------------
def _text(b):
    b = bytes(b)
    if b and all(0x20 <= c <= 0x7e for c in b):
        return "'%s'" % b.decode("ascii")
    return b.hex() or "(empty)"


def check_evidence(proofs, g):
    """Every proof, then the links of spec/proofs.md, "Evidence": the
    first is the decision's record; among the others, the contract's
    deployment (a transaction whose hash is the contract id), the
    prediction's record (key Decision.prediction), the model's
    registration (PredictionRecord.model_tx) and each input's transaction
    (PredictionRecord.input_txs); a decision made by a call links to its
    contract only. The sentence of what it proved."""
    checked = []
    for i, p in enumerate(proofs):
        try:
            checked.append(check_proof(p, g))
        except ProofError as e:
            raise e.in_proof(i + 1)
    first = checked[0]
    if first.record is None or first.record.table != TABLE_DECISIONS or \
            first.record.deleted:
        raise EvidenceError("the first proof is not of a decision's record "
                            "(table %d)" % TABLE_DECISIONS)
    try:
        dec = decode(W.Decision, first.record.value, unknown_ok=True)
    except DecodeError as e:
        raise EvidenceError("the decision record %s" % e)
    txs = {c.tx_hash: c for c in checked}

    def need_tx(h, what):
        if h not in txs:
            raise EvidenceError("no proof of %s (transaction %s)"
                                % (what, bytes(h).hex()))
        return txs[h]
    need_tx(dec.contract, "the contract's deployment")
    parts = "the decision and the contract's deployment are"
    if not dec.prediction:
        tail = "was made by a call"
    else:
        pred = None
        for c in checked:
            r = c.record
            if r is not None and r.table == TABLE_PREDICTIONS and \
                    r.key == dec.prediction and not r.deleted:
                pred = c
                break
        if pred is None:
            raise EvidenceError("no proof of the prediction's record (key "
                                "%s)" % dec.prediction.hex())
        try:
            pr = decode(W.PredictionRecord, pred.record.value,
                        unknown_ok=True)
        except DecodeError as e:
            raise EvidenceError("the prediction record %s" % e)
        need_tx(pr.model_tx, "the model's registration")
        for k, t in enumerate(pr.input_txs):
            need_tx(t, "input %d" % (k + 1))
        tail = ("follows from model %s's prediction at height %d, computed "
                "from %d input attestation(s)"
                % (pr.model_hash.hex(), pr.height, len(pr.input_txs)))
        parts = ("the decision, the prediction, the contract's deployment, "
                 "the model's registration and every input are")
    return ("Decision %s on %s by contract %s v%d (%s) at height %d %s; %s "
            "certified by the chain's validators (%d proofs)."
            % (_text(dec.kind), _text(dec.subject), dec.contract_name,
               dec.contract_version, dec.contract.hex(), dec.height, tail,
               parts, len(proofs)))
