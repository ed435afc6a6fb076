# SPDX-License-Identifier: Apache-2.0
"""The chain archive of spec/audit.md, read as a stream: a file of any
length is checked in memory proportional to one block."""
import struct

MAGIC = b"witan-archive/v1\n"
# The bounds spec/audit.md puts on each part (common/limits.h names them).
GENESIS_SIZE_MAX = 1024 * 1024      # WITAN_GENESIS_SIZE_MAX
BLOCK_SIZE_MAX = 16 * 1024 * 1024   # WITAN_BLOCK_SIZE_MAX
CERT_SIZE_MAX = 4096                # WITAN_HEADER_SIZE_MAX


class ArchiveError(Exception):
    """Where the file itself is wrong: `where` names the part."""

    def __init__(self, where, what):
        super().__init__("%s: %s" % (where, what))
        self.where, self.what = where, what


class Record:
    __slots__ = ("height", "block", "cert", "state_root", "receipts_root")


class Archive:
    def __init__(self, f):
        self.f = f
        self.offset = 0
        if self._read(len(MAGIC), "the magic line") != MAGIC:
            raise ArchiveError("the magic line",
                               "not a Witan archive (no \"witan-archive/v1\")")
        self.genesis_json = self._part(GENESIS_SIZE_MAX, "the genesis")
        self.count = struct.unpack(">Q", self._read(8, "the block count"))[0]

    def _read(self, n, where):
        data = self.f.read(n)
        if len(data) != n:
            raise ArchiveError(where, "the file ends at byte %d: %d bytes "
                               "expected there, %d found"
                               % (self.offset + len(data), n, len(data)))
        self.offset += n
        return data

    def _part(self, limit, where):
        size = struct.unpack(">I", self._read(4, where + "'s size"))[0]
        if size > limit:
            raise ArchiveError(where, "%d bytes; the limit is %d"
                               % (size, limit))
        return self._read(size, where)

    def records(self):
        """Each block's record, heights 1 .. count in order; then the file
        must end (spec/audit.md: nothing follows the last record)."""
        for h in range(1, self.count + 1):
            r = Record()
            r.height = h
            where = "record of block %d" % h
            r.block = self._part(BLOCK_SIZE_MAX, where + ", block")
            r.cert = self._part(CERT_SIZE_MAX, where + ", certificate")
            r.state_root = self._read(32, where + ", state root")
            r.receipts_root = self._read(32, where + ", receipts root")
            yield r
        extra = self.f.read(1)
        if extra:
            raise ArchiveError("after the last record",
                               "bytes follow the %d records the count "
                               "announces (at byte %d)"
                               % (self.count, self.offset))
