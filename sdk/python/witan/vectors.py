# SPDX-License-Identifier: Apache-2.0
"""spec/encoding.md's test vectors, checked by `python3 -m witan selftest`
so that this implementation's hashing, keys and trees are held to the same
numbers as crypto/ before it judges a chain."""
from .hashing import (TAG_BLOCK, TAG_TX, address, mth, sha256, tagged,
                      verify_consistency, verify_inclusion)
from .keys import (KEY_ED25519, KEY_SECP256K1, N, ed25519_pubkey_from_seed,
                   secp256k1_pubkey_from_seed, verify)
from .pb import W, encode

SEED = bytes(range(1, 33))
X = bytes.fromhex


def _tx_body(sender):
    b = W.TxBody(chain_id="witan-test", sender=sender, nonce=1)
    a = b.attest
    a.feed, a.subject = "climate/co2/mauna-loa", "mauna-loa"
    a.observed_at_ms, a.unit = 1704067200000, "ppm"
    a.values.add(name="co2", mantissa=42113, scale=2)
    return encode(b)


def run():
    """Yields (name, ok) for every vector."""
    ed = ed25519_pubkey_from_seed(SEED)
    k1 = secp256k1_pubkey_from_seed(SEED)
    yield "ed25519 public key", ed == X(
        "79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664")
    yield "secp256k1 public key", k1 == X(
        "0284bf7562262bbd6940085748f3be6afa52ae317155181ece31b66351ccffa4b0")
    yield "ed25519 address", address(KEY_ED25519, ed) == X(
        "500c27b1763bad113b9aacbf1dcb050128a1cb09")
    yield "secp256k1 address", address(KEY_SECP256K1, k1) == X(
        "58a2b703205e650172c89c3d1d8c75a8b53b3326")
    cases = [
        (KEY_ED25519, ed, "500c27b1763bad113b9aacbf1dcb050128a1cb09",
         "0a0a776974616e2d746573741214500c27b1763bad113b9aacbf1dcb050128a1cb091801523b0a15636c696d6174652f636f322f6d61756e612d6c6f6112096d61756e612d6c6f611880d08fa59863220b0a03636f321082920518022a0370706d",
         "91d5f2360eea9081f4ffc0a808301ddd782cfd435ceab2702aaa5046e82730e9",
         "5fe4940133d4cc3e251e22da6b01f23f6e7c53e0fb509742042221241501a1d57e21dd6119ff0c95cecdbb680abef1b3bb9eb256fafb5614368a5a4642bba70f"),
        (KEY_SECP256K1, k1, "58a2b703205e650172c89c3d1d8c75a8b53b3326",
         "0a0a776974616e2d74657374121458a2b703205e650172c89c3d1d8c75a8b53b33261801523b0a15636c696d6174652f636f322f6d61756e612d6c6f6112096d61756e612d6c6f611880d08fa59863220b0a03636f321082920518022a0370706d",
         "edc316879aaf7d3f50ec0432fcf0cac0eb8d7a872430b942b8740c28ce476273",
         "7d87745a5a166774b59a7451f24b08e76d6e3c26b1f4bbb2fe4dfe8e575c8db630908edbf8bca214bde1bc75208ffc1a161eb03f5a278d3ed60ebffd3d3260d0"),
    ]
    for kt, pub, sender, body, txh, sig in cases:
        name = {KEY_ED25519: "ed25519", KEY_SECP256K1: "secp256k1"}[kt]
        yield name + " tx body", _tx_body(X(sender)) == X(body)
        yield name + " tx hash", tagged(TAG_TX, X(body)) == X(txh)
        yield name + " signature verifies", verify(kt, pub, X(txh), X(sig))
        bad = bytearray(X(txh))
        bad[0] ^= 1
        yield name + " signature refused on another hash", \
            not verify(kt, pub, bytes(bad), X(sig))
    # the same secp256k1 signature with s replaced by n - s: valid ECDSA,
    # but high S, which the spec refuses
    s = int.from_bytes(X(cases[1][5])[32:], "big")
    high = X(cases[1][5])[:32] + (N - s).to_bytes(32, "big")
    yield "secp256k1 high-S refused", not verify(KEY_SECP256K1, k1,
                                                 X(cases[1][4]), high)

    d = [sha256(bytes([i])) for i in range(7)]
    root3 = X("d1f13800048f5909d4043fc0c152f6643280cba608b672715e56ce159a20629f")
    root7 = X("bee2275db16667589a4515f63e0d053a2fa602c1d9f9703e98920a5bdad59baf")
    yield "merkle empty root", mth([]) == X(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    yield "merkle root of 3", mth(d[:3]) == root3
    yield "merkle root of 7", mth(d) == root7
    from .hashing import History
    hist = History()
    ok = True
    for i in range(7):
        ok &= hist.root() == mth(d[:i])
        hist.append(d[i])
    yield "history tree equals MTH at every size", ok and hist.root() == root7
    incl = [X(h) for h in (
        "36e4970e7c84e559ed7290304c3c0672289a6918e7746d48397b0e122db7748f",
        "604d540f09268b91672ab011394d5266ccd7d4484d0d109411a55848126a1b2c",
        "8da0dadfa0aaea7d9f4cd621d80cfbda617c8d13798abb8c3854351059e33be0")]
    yield "inclusion proof of leaf 2 in 7", \
        verify_inclusion(2, 7, d[2], incl, root7)
    yield "inclusion proof refused for leaf 3", \
        not verify_inclusion(3, 7, d[3], incl, root7)
    cons = [X("27d02c8f713c90ea0c37901129db86ac03186ee22a1f6f13da67e6b5bcee2044")]
    cons += incl
    yield "consistency proof 3 -> 7", \
        verify_consistency(3, 7, root3, root7, cons)
    yield "consistency proof refused for 3 -> 6", \
        not verify_consistency(3, 6, root3, mth(d[:6]), cons)

    hd = W.BlockHeader(protocol_version=1, chain_id="witan-test", height=1,
                       view=0, time_ms=1704067200000, prev_hash=b"\x11" * 32,
                       txs_root=root7, history_root=mth([]), tx_count=7)
    header = encode(hd)
    yield "block header bytes", header == X(
        "0801120a776974616e2d7465737418012880d08fa59863322011111111111111111111111111111111111111111111111111111111111111113a20bee2275db16667589a4515f63e0d053a2fa602c1d9f9703e98920a5bdad59baf4220e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8554807")
    yield "block hash", tagged(TAG_BLOCK, header) == X(
        "b8a6de6fdd5e757664911a4a2505d0473b99a2ce14bed6c916c5709be6eec521")
