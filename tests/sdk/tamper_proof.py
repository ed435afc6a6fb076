# SPDX-License-Identifier: Apache-2.0
"""Writes a tampered copy of a proof, an evidence bundle, a signed head or a
consistency proof for tests/sdk/test_sdk.sh.

    tamper_proof.py IN OUT MODE

Modes:
  tx-path        proof.json: a bit of tx_path[0] flipped
  receipts-path  proof.json: a bit of receipts_path[0] flipped
  value          proof.json: a bit of record.value flipped
  results-cert   proof.json: a bit of results_cert's last byte flipped
                 (inside the last signature)
  evidence-path  evidence: a bit of receipts_path[0] of the first proof
                 after the first whose path is not empty (prints its number)
  evidence-drop  evidence: the last proof left out (the model's
                 registration, for a decision from a prediction)
  head-forge     signed head: a byte of the second signature line's
                 signature changed, its key name and id kept
  head-weak      signed head: only the first two signature lines kept
  head-witness   signed head: a line of a key that is no validator's added
  hash           consistency JSON: a hex digit of the first hash flipped

It edits text and JSON directly and shares no checking code with the
SDK."""
import base64
import json
import sys


def flip(hexstr, at=0):
    c = hexstr[at]
    return hexstr[:at] + ("1" if c == "0" else "0") + hexstr[at + 1:]


def flip_b64(text, at=0):
    """proof.json's bytes are base64: one bit of byte `at` (from the end
    when negative) flipped, encoded again."""
    raw = bytearray(base64.b64decode(text))
    raw[at] ^= 1
    return base64.b64encode(bytes(raw)).decode()


def main(src, dst, mode):
    text = open(src, encoding="utf-8").read()
    out = None
    if mode in ("tx-path", "receipts-path", "value", "results-cert",
                "evidence-path", "evidence-drop", "hash"):
        doc = json.loads(text)
        if mode == "tx-path":
            doc["tx_path"][0] = flip_b64(doc["tx_path"][0], 3)
        elif mode == "receipts-path":
            doc["receipts_path"][0] = flip_b64(doc["receipts_path"][0], 3)
        elif mode == "value":
            doc["record"]["value"] = flip_b64(doc["record"]["value"], 4)
        elif mode == "results-cert":
            doc["results_cert"] = flip_b64(doc["results_cert"], -1)
        elif mode == "evidence-path":
            ev = doc["evidence"]
            n = next(i for i in range(1, len(ev)) if ev[i]["receipts_path"])
            ev[n]["receipts_path"][0] = flip_b64(ev[n]["receipts_path"][0], 3)
            print(n + 1)
        elif mode == "evidence-drop":
            doc["evidence"].pop()
        elif mode == "hash":
            doc["proof"][0] = flip(doc["proof"][0], 5)
        out = json.dumps(doc, indent=1) + "\n"
    else:
        body, sigs = text.split("\n\n", 1)
        lines = sigs.splitlines()
        if mode == "head-forge":
            name, blob = lines[1].split(" ")[1:]
            raw = bytearray(base64.b64decode(blob))
            raw[20] ^= 1
            lines[1] = "\u2014 %s %s" % (name,
                                         base64.b64encode(raw).decode())
        elif mode == "head-weak":
            lines = lines[:2]
        elif mode == "head-witness":
            lines.append("\u2014 witness.example/1 " +
                         base64.b64encode(b"\x01\x02\x03\x04" +
                                          b"\x05" * 64).decode())
        else:
            sys.exit("unknown mode " + mode)
        out = body + "\n\n" + "".join(line + "\n" for line in lines)
    with open(dst, "w", encoding="utf-8") as f:
        f.write(out)


if __name__ == "__main__":
    main(*sys.argv[1:4])
