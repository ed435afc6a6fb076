# SPDX-License-Identifier: Apache-2.0
"""python3 -m witan: the auditor's command line.

    python3 -m witan verify --archive FILE [--genesis FILE] [--sets FILE]
    python3 -m witan check (PROOF | EVIDENCE | HEAD) --genesis FILE
                           [--sets FILE]
    python3 -m witan consistency OLD_HEAD NEW_HEAD --genesis FILE
                                 (--proof FILE | --http URL) [--sets FILE]
    python3 -m witan selftest

Exit status: 0 when everything holds, 1 when something does not (the
first divergence is named on stderr), 2 for a usage error.
"""
import argparse
import json
import sys

from . import archive, genesis, heads, proofs, verify as verify_mod, vectors


def cmd_selftest(_args):
    failed = [name for name, ok in vectors.run() if not ok]
    total = sum(1 for _ in vectors.run())
    for name in failed:
        print("selftest: FAILED %s" % name, file=sys.stderr)
    print("selftest: %d of %d spec/encoding.md vectors hold"
          % (total - len(failed), total))
    return 1 if failed else 0


def cmd_verify(args):
    trusted = None
    if args.genesis:
        try:
            with open(args.genesis, "rb") as f:
                trusted = f.read().decode("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            print("witan verify: %s: %s" % (args.genesis, e), file=sys.stderr)
            return 2
    set_bytes = [c.validator_set for c in _sets(args, "verify")]
    try:
        with open(args.archive, "rb") as f:
            res, count = verify_mod.verify(f, trusted, set_bytes)
    except OSError as e:
        print("witan verify: %s: %s" % (args.archive, e), file=sys.stderr)
        return 2
    except verify_mod.Divergence as e:
        print("witan verify: FAILED%s %s" % (" at" if e.height else ":", e),
              file=sys.stderr)
        return 1
    except archive.ArchiveError as e:
        print("witan verify: FAILED: archive %s" % e, file=sys.stderr)
        return 1
    except (genesis.GenesisError, UnicodeDecodeError) as e:
        print("witan verify: FAILED: genesis: %s" % e, file=sys.stderr)
        return 1
    g, L = res.genesis, res.genesis.params.pipeline_depth
    sigs = ", ".join("%d %s" % (n, k) for k, n in sorted(res.sigs.items()))
    print("chain %s, genesis %s, %d validators (quorum %d), pipeline depth %d"
          % (g.chain_id, res.genesis_hash.hex(), len(g.validators),
             genesis.quorum(len(g.validators)), L))
    if res.set_changes:
        print("validator sets: %d change(s), in force from %s"
              % (len(res.set_changes),
                 ", ".join(str(e + 1) for e in res.set_changes)))
    print("signatures: %d transactions verified (%s); none left unchecked"
          % (res.txs, sigs or "none"))
    uncertified = min(L, count)
    print("roots: state and receipts roots of blocks 1..%d certified by the "
          "headers after them; the last %d block(s)' roots are the "
          "exporter's claim (their canonical certificate is in a block not "
          "yet made); roots are not recomputed (no re-execution: "
          "`witan audit verify` does that)"
          % (count - uncertified, uncertified))
    print("verified %d blocks: every header, hash chain, history root, "
          "transactions root, transaction signature, %d archive "
          "certificates and %d canonical certificates hold; tip %s"
          % (res.height, res.archive_certs, res.canonical_certs,
             res.tip_hash.hex()))
    return 0


def _read(path, what):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        print("witan %s: %s: %s" % (what, path, e), file=sys.stderr)
        raise SystemExit(2)


def _genesis(path, what):
    try:
        return genesis.parse(_read(path, what))
    except genesis.GenesisError as e:
        print("witan %s: %s: %s" % (what, path, e), file=sys.stderr)
        raise SystemExit(2)


def _sets(args, what):
    """The validator-set changes of --sets FILE (a set-chain file or a
    proof of version 2: its "validator_changes"), or none."""
    if not args.sets:
        return []
    text = _read(args.sets, what)
    try:
        doc = json.loads(text)
        if not isinstance(doc, dict):
            raise proofs.ProofError(0, "a set-chain file is a JSON object")
        return proofs.changes_from_json(doc.get("validator_changes", []))
    except (ValueError, proofs.ProofError) as e:
        print("witan %s: %s: %s" % (what, args.sets, e), file=sys.stderr)
        raise SystemExit(2)


def cmd_check(args):
    """A proof.json, an evidence bundle or a signed head, with the genesis
    alone (spec/proofs.md); which one is told by the first character."""
    g = _genesis(args.genesis, "check")
    text = _read(args.file, "check")
    if text.lstrip().startswith("{"):
        try:
            kind, parsed = proofs.load(text)
            if kind == "proof":
                print(proofs.sentence(proofs.check_proof(parsed, g), g))
            else:
                print(proofs.check_evidence(parsed, g))
        except proofs.ProofError as e:
            print("witan check: %s: FAILED at %s" % (args.file, e),
                  file=sys.stderr)
            return 1
        except proofs.EvidenceError as e:
            print("witan check: %s: FAILED: evidence: %s" % (args.file, e),
                  file=sys.stderr)
            return 1
        return 0
    try:
        h = heads.check_head(text, g, _sets(args, "check"))
    except heads.HeadError as e:
        print("witan check: %s: FAILED: signed head: %s" % (args.file, e),
              file=sys.stderr)
        return 1
    print(heads.head_sentence(h, g))
    return 0


def cmd_consistency(args):
    g = _genesis(args.genesis, "consistency")
    changes = _sets(args, "consistency")
    hs = []
    for path in (args.old, args.new):
        try:
            hs.append(heads.check_head(_read(path, "consistency"), g,
                                       changes))
        except heads.HeadError as e:
            print("witan consistency: %s: FAILED: signed head: %s"
                  % (path, e), file=sys.stderr)
            return 1
    old, new = hs
    try:
        if args.proof:
            text = _read(args.proof, "consistency")
        else:
            text = heads.fetch_proof(args.http, old.size, new.size)
        n = heads.check_consistency(old, new, heads.proof_from_json(text))
    except heads.HeadError as e:
        print("witan consistency: FAILED: %s" % e, file=sys.stderr)
        return 1
    print("The history of %d blocks signed in %s is a prefix of the history "
          "of %d blocks signed in %s (%d hashes)."
          % (old.size, args.old, new.size, args.new, n))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="python3 -m witan",
        description="Witan auditor's SDK: verifies a chain archive "
                    "(spec/audit.md) without re-executing it.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("verify", help="verify a chain archive")
    v.add_argument("--archive", required=True,
                   help="the file `witan audit export` wrote")
    v.add_argument("--genesis",
                   help="the genesis.json you trust; the archive's must be "
                        "the same chain")
    v.add_argument("--sets",
                   help="the validator sets the archive's changes name (a "
                        "set chain: `witan audit head --sets-out`, or a "
                        "proof of version 2)")
    c = sub.add_parser("check", help="check a proof.json, an evidence "
                       "bundle or a signed history head (spec/proofs.md)")
    c.add_argument("file")
    c.add_argument("--genesis", required=True, help="the genesis you trust")
    c.add_argument("--sets", help="a head's validator-set changes (`witan "
                   "audit head --sets-out`, or a proof of version 2)")
    k = sub.add_parser("consistency", help="verify an RFC 6962 consistency "
                       "proof between two signed heads, against their "
                       "signed roots")
    k.add_argument("old")
    k.add_argument("new")
    k.add_argument("--genesis", required=True, help="the genesis you trust")
    k.add_argument("--sets", help="the newer head's validator-set changes")
    src = k.add_mutually_exclusive_group(required=True)
    src.add_argument("--proof", help="the proof as JSON (GET "
                     "/v1/proofs/consistency's answer)")
    src.add_argument("--http", metavar="URL", help="a node's HTTP gateway "
                     "to ask for the proof")
    sub.add_parser("selftest", help="check spec/encoding.md's test vectors")
    args = ap.parse_args(argv)
    return {"verify": cmd_verify, "check": cmd_check,
            "consistency": cmd_consistency,
            "selftest": cmd_selftest}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
