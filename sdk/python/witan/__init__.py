# SPDX-License-Identifier: Apache-2.0
"""Witan auditor's SDK: verifies a chain archive (spec/audit.md) from the
genesis alone, without re-executing transactions; checks proofs, evidence
bundles, signed history heads and consistency proofs (spec/proofs.md).

Written from spec/ only, as a second implementation beside the C code in
cli/audit.c; where the two disagree, spec/ decides.
"""

PROTOCOL_VERSION = 1  # spec/genesis.md: "must equal the build's (1)"
