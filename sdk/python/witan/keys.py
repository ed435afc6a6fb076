# SPDX-License-Identifier: Apache-2.0
"""Signature checks for the two key types of spec/encoding.md.

Ed25519 goes to PyNaCl, that is libsodium, the library the C code uses:
same refusals of non-canonical signatures and small-order keys.

PyNaCl has no secp256k1, and Debian's apt carries no Python binding of it
that this SDK may use; so ECDSA verification over secp256k1 is written out
here (SEC 1, section 4.1.4), with nothing secret involved: only public keys
and signatures, so constant time does not matter. The self-test holds it to
spec/encoding.md's vector and to refusals (a changed message, high S).
"""
import nacl.exceptions
import nacl.signing

KEY_ED25519 = 1
KEY_SECP256K1 = 2
KEY_NAMES = {KEY_ED25519: "ed25519", KEY_SECP256K1: "secp256k1"}
PUBKEY_SIZES = {KEY_ED25519: 32, KEY_SECP256K1: 33}
SIGNATURE_SIZE = 64


def ed25519_verify(pubkey, message, signature):
    try:
        nacl.signing.VerifyKey(bytes(pubkey)).verify(bytes(message),
                                                     bytes(signature))
        return True
    except (nacl.exceptions.BadSignatureError, ValueError,
            nacl.exceptions.CryptoError):
        return False


def ed25519_pubkey_from_seed(seed):
    return bytes(nacl.signing.SigningKey(seed).verify_key)


# --- secp256k1 ---------------------------------------------------------------
P = 2**256 - 2**32 - 977
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
     0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)


def _add(a, b):
    """Affine point addition; None is the point at infinity."""
    if a is None:
        return b
    if b is None:
        return a
    if a[0] == b[0]:
        if (a[1] + b[1]) % P == 0:
            return None
        lam = 3 * a[0] * a[0] * pow(2 * a[1], -1, P)
    else:
        lam = (b[1] - a[1]) * pow(b[0] - a[0], -1, P)
    x = (lam * lam - a[0] - b[0]) % P
    return x, (lam * (a[0] - x) - a[1]) % P


def _mul(k, point):
    result = None
    while k:
        if k & 1:
            result = _add(result, point)
        point = _add(point, point)
        k >>= 1
    return result


def secp256k1_decompress(pubkey):
    """The point of a 33-byte compressed SEC 1 key, or None."""
    if len(pubkey) != 33 or pubkey[0] not in (2, 3):
        return None
    x = int.from_bytes(pubkey[1:], "big")
    if x >= P:
        return None
    y2 = (pow(x, 3, P) + 7) % P
    y = pow(y2, (P + 1) // 4, P)  # P = 3 mod 4
    if y * y % P != y2:
        return None
    if y & 1 != pubkey[0] & 1:
        y = P - y
    return x, y


def secp256k1_pubkey_from_seed(seed):
    """spec/encoding.md: the seed is the secret scalar."""
    x, y = _mul(int.from_bytes(seed, "big"), G)
    return bytes([2 | (y & 1)]) + x.to_bytes(32, "big")


def secp256k1_verify(pubkey, digest, signature):
    """ECDSA over the 32-byte digest, r || s big-endian, s <= n/2."""
    q = secp256k1_decompress(bytes(pubkey))
    if q is None or len(signature) != 64 or len(digest) != 32:
        return False
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    if not (1 <= r < N and 1 <= s <= N // 2):  # low S only
        return False
    e = int.from_bytes(digest, "big")
    w = pow(s, -1, N)
    point = _add(_mul(e * w % N, G), _mul(r * w % N, q))
    return point is not None and point[0] % N == r


def verify(key_type, pubkey, message, signature):
    """Whether `signature` by `pubkey` of `key_type` covers the 32-byte
    object hash `message` (spec/encoding.md, "Keys and signatures")."""
    if key_type == KEY_ED25519:
        return ed25519_verify(pubkey, message, signature)
    if key_type == KEY_SECP256K1:
        return secp256k1_verify(pubkey, message, signature)
    return False


def pubkey_ok(key_type, pubkey):
    """A public key that can be a key of that type at all."""
    if len(pubkey) != PUBKEY_SIZES.get(key_type, -1):
        return False
    if key_type == KEY_SECP256K1:
        return secp256k1_decompress(bytes(pubkey)) is not None
    return True
