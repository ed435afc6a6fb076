# SPDX-License-Identifier: Apache-2.0
"""genesis.json (spec/genesis.md) to the canonical Genesis message, its
hash (spec/encoding.md, "Genesis"), and the validator set and quorum it
gives (spec/consensus.md, "Validators, faults, quorums")."""
import json
import re

from . import PROTOCOL_VERSION
from .hashing import TAG_GENESIS, address, tagged
from .keys import KEY_ED25519, KEY_SECP256K1, PUBKEY_SIZES, pubkey_ok
from .pb import W, encode

# Every parameter with its default and bounds (spec/genesis.md, "params").
PARAMS = {
    "block_tx_count_max": (1000, 1, 10000),
    "block_size_max": (4194304, 65536, 16 * 1024 * 1024),
    "block_interval_ms": (1000, 1, 60000),
    "pipeline_depth": (1, 1, 8),
    "checkpoint_interval": (100, 1, 1024),
    "tx_size_max": (65536, 256, 1024 * 1024),
    "model_gas_max": (10000000, 1, 2**40),
    "block_gas_max": (1000000000, 1, 2**40),
    "contract_gas_max": (10000000, 1, 2**40),
}
ROLES = {"data_provider": 1, "model_operator": 2, "proposer": 3,
         "auditor": 4, "admin": 5, "contract_operator": 6,
         "validator_operator": 7}
KEY_TYPES = {"ed25519": KEY_ED25519, "secp256k1": KEY_SECP256K1}
CHAIN_ID = re.compile(r"[A-Za-z0-9._-]{1,64}\Z")


class GenesisError(Exception):
    pass


def _no_fraction(text):
    raise GenesisError("numbers are integers only, not %s" % text)


def _fields(obj, where, allowed):
    if not isinstance(obj, dict):
        raise GenesisError("%s must be an object" % where)
    for k in obj:
        if k not in allowed:  # a misspelt setting is never ignored
            raise GenesisError("%s: unknown field \"%s\"" % (where, k))


def _int(obj, key, where, lo, hi):
    v = obj.get(key)
    if type(v) is not int or not lo <= v <= hi:
        raise GenesisError("%s.%s must be an integer in %d..%d"
                           % (where, key, lo, hi))
    return v


def _hex(obj, key, where, size):
    v = obj.get(key)
    try:
        b = bytes.fromhex(v) if isinstance(v, str) and \
            re.fullmatch(r"[0-9a-fA-F]*", v) else None
    except ValueError:
        b = None
    if b is None or len(b) != size:
        raise GenesisError("%s.%s must be %d bytes in hex" % (where, key, size))
    return b


def _str(obj, key, where):
    v = obj.get(key)
    if not isinstance(v, str):
        raise GenesisError("%s.%s must be a string" % (where, key))
    return v


def parse(text):
    """The canonical Genesis message of a genesis.json text."""
    try:
        doc = json.loads(text, parse_float=_no_fraction,
                         parse_constant=_no_fraction)
    except ValueError as e:
        raise GenesisError("not JSON: %s" % e)
    _fields(doc, "genesis", ("protocol_version", "chain_id",
                             "genesis_time_ms", "validators", "members",
                             "params"))
    g = W.Genesis()
    g.protocol_version = _int(doc, "protocol_version", "genesis",
                              PROTOCOL_VERSION, PROTOCOL_VERSION)
    g.chain_id = _str(doc, "chain_id", "genesis")
    if not CHAIN_ID.match(g.chain_id):
        raise GenesisError("chain_id must be 1-64 of A-Z a-z 0-9 - _ .")
    g.genesis_time_ms = _int(doc, "genesis_time_ms", "genesis",
                             -2**63, 2**63 - 1)
    vals = doc.get("validators")
    if not isinstance(vals, list) or not 1 <= len(vals) <= 64:
        raise GenesisError("validators: 1 to 64 are needed")
    for i, v in enumerate(vals):
        where = "validators[%d]" % i
        _fields(v, where, ("name", "pubkey", "operator"))
        val = g.validators.add()
        val.name = _str(v, "name", where)
        val.pubkey = _hex(v, "pubkey", where, 32)
        if "operator" in v:  # the member that votes for it (governance.md)
            setattr(val, "operator", _hex(v, "operator", where, 20))
    if len({v.pubkey for v in g.validators}) != len(g.validators):
        raise GenesisError("validators: a key is listed twice")
    members = doc.get("members", [])
    if not isinstance(members, list) or len(members) > 4096:
        raise GenesisError("members: a list of at most 4096")
    for i, m in enumerate(members):
        where = "members[%d]" % i
        _fields(m, where, ("name", "key_type", "pubkey", "roles"))
        mem = g.members.add()
        mem.name = _str(m, "name", where)
        kt = KEY_TYPES.get(m.get("key_type"))
        if kt is None:
            raise GenesisError("%s.key_type must be ed25519 or secp256k1"
                               % where)
        mem.key_type = kt
        mem.pubkey = _hex(m, "pubkey", where, PUBKEY_SIZES[kt])
        if not pubkey_ok(kt, mem.pubkey):
            raise GenesisError("%s.pubkey is not a valid key" % where)
        roles = m.get("roles", [])
        if not isinstance(roles, list) or \
                any(r not in ROLES for r in roles):
            raise GenesisError("%s.roles: each one of %s"
                               % (where, ", ".join(ROLES)))
        mem.roles.extend(sorted({ROLES[r] for r in roles}))
    if len({m.pubkey for m in g.members}) != len(g.members):
        raise GenesisError("members: a key is listed twice")
    addrs = {address(m.key_type, m.pubkey): m for m in g.members}
    for v in g.validators:
        op = addrs.get(getattr(v, "operator"))
        if getattr(v, "operator") and (op is None or ROLES[
                "validator_operator"] not in op.roles):
            raise GenesisError("validator %s: its operator must be a member "
                               "with the validator_operator role" % v.name)
    params = doc.get("params", {})
    _fields(params, "params", tuple(PARAMS) +
            ("membership_by_governance_only",))
    for name, (default, lo, hi) in PARAMS.items():
        # The canonical message carries every parameter the chain runs
        # with, a missing one as its default (spec/encoding.md, "Genesis").
        value = _int(params, name, "params", lo, hi) if name in params \
            else default
        setattr(g.params, name, value)
    only = params.get("membership_by_governance_only", False)
    if not isinstance(only, bool):
        raise GenesisError("params.membership_by_governance_only must be "
                           "true or false")
    g.params.membership_by_governance_only = only
    p = g.params
    if p.tx_size_max > p.block_size_max:
        raise GenesisError("params.tx_size_max is over block_size_max")
    if p.block_gas_max < max(p.model_gas_max, p.contract_gas_max):
        raise GenesisError("params.block_gas_max is below model_gas_max or "
                           "contract_gas_max")
    return g


def genesis_hash(g):
    return tagged(TAG_GENESIS, encode(g))


def quorum(n):
    """quorum = ceil((n + f + 1) / 2) with f = floor((n - 1) / 3)."""
    f = (n - 1) // 3
    return (n + f + 2) // 2
