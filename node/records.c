/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The consensus-record log (spec/node.md, "Consensus records"): what this
 * validator signed, appended before it is sent, and synced then unless the
 * record is lazy (a proposal or prepare the core's boot rule covers; the
 * next sync takes it). One file beside the database, one write and at most
 * one fdatasync for all the records of a Ready. An LMDB commit costs a
 * sync, a path of pages and its meta page, and three of them would lie on
 * the way of every block. The file is
 * pruned below the stable checkpoint by writing what is kept to a new file
 * and renaming it over the old one, so that it is whole at every instant
 * but its last frame.
 * It is read a frame at a time: it may hold a checkpoint interval's blocks.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/internal.h"
#include "spec/consensus.pb-c.h"

#define RECORDS_MAGIC "WITANRL1"
#define RECORDS_MAGIC_SIZE 8
#define RECORDS_CHECK_SIZE 8
#define RECORDS_HEADER_SIZE                                                    \
    (RECORDS_MAGIC_SIZE + WCRYPTO_ED25519_PUBKEY_SIZE + RECORDS_CHECK_SIZE)
/* A frame's length prefix and check around its record. */
#define RECORDS_FRAME_OVERHEAD (4 + RECORDS_CHECK_SIZE)
/* The log grows by this much past its size after the last rewrite before a
 * stable checkpoint rewrites it: a rewrite costs a sync, a rename and a
 * directory sync, so it is not done for every checkpoint of a quiet
 * chain. */
#define RECORDS_PRUNE_BYTES (1u << 20)
/* The record a clean stop appends last: everything before it, lazy
 * records included, is durable and nothing was sent after it. */
#define RECORDS_STOP_MARK 'C'
/* A rewrite writes the new file this much at a time. */
#define RECORDS_WRITE_CHUNK (1u << 20)
static const char RECORDS_TAG[] = "witan/consensus-log/v1";

struct node_records {
    char path[NODE_RECORDS_PATH_MAX];
    int fd;
    uint64_t size;        /* bytes of whole frames, the header included */
    uint64_t pruned_size; /* the size after the last rewrite */
    bool unsynced;        /* lazy records written since the last sync */
    bool stopped_cleanly; /* the log ended with the stop mark when opened */
    wcrypto_pubkey owner;
    uint8_t *buf; /* the frames of one append */
    size_t buf_cap;
};

static int from_errno(int e)
{
    return e == ENOSPC || e == EDQUOT ? WITAN_ENOSPACE
           : e == ENOMEM              ? WITAN_ENOMEM
                                      : WITAN_EIO;
}

/* The first RECORDS_CHECK_SIZE bytes of H(tag, a ‖ b). */
static void check_of(const uint8_t *a, size_t a_size, const uint8_t *b,
                     size_t b_size, uint8_t out[RECORDS_CHECK_SIZE])
{
    wcrypto_hasher h;
    uint8_t full[WCRYPTO_HASH_SIZE];
    wcrypto_hasher_init(&h, RECORDS_TAG);
    wcrypto_hasher_update(&h, a, a_size);
    if (b_size)
        wcrypto_hasher_update(&h, b, b_size);
    wcrypto_hasher_final(&h, full);
    memcpy(out, full, RECORDS_CHECK_SIZE);
}

static void header_of(const wcrypto_pubkey *owner,
                      uint8_t out[RECORDS_HEADER_SIZE])
{
    memcpy(out, RECORDS_MAGIC, RECORDS_MAGIC_SIZE);
    memcpy(out + RECORDS_MAGIC_SIZE, owner->bytes, WCRYPTO_ED25519_PUBKEY_SIZE);
    check_of(out, RECORDS_MAGIC_SIZE + WCRYPTO_ED25519_PUBKEY_SIZE, NULL, 0,
             out + RECORDS_MAGIC_SIZE + WCRYPTO_ED25519_PUBKEY_SIZE);
}

/* Whether `data` opens with a header (of any owner) as header_of writes. */
static bool header_whole(const uint8_t *data, size_t size)
{
    if (size < RECORDS_HEADER_SIZE)
        return false;
    wcrypto_pubkey theirs;
    memcpy(theirs.bytes, data + RECORDS_MAGIC_SIZE, WCRYPTO_ED25519_PUBKEY_SIZE);
    uint8_t expect[RECORDS_HEADER_SIZE];
    header_of(&theirs, expect);
    return memcmp(expect, data, RECORDS_HEADER_SIZE) == 0;
}

/* Grows *buf to hold `need` bytes (exactly: frames are rarely larger than
 * the last). */
static int reserve(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return WITAN_OK;
    uint8_t *grown = realloc(*buf, need);
    if (!grown)
        return WITAN_ENOMEM;
    *buf = grown;
    *cap = need;
    return WITAN_OK;
}

/* Appends one frame of `record` to buf at *used (room is the caller's). */
static void frame_into(uint8_t *buf, size_t *used, const pbft_bytes *record)
{
    uint8_t *p = buf + *used;
    store_be32(p, (uint32_t)record->size);
    memcpy(p + 4, record->data, record->size);
    check_of(p, 4, record->data, record->size, p + 4 + record->size);
    *used += RECORDS_FRAME_OVERHEAD + record->size;
}

/* All of `size` bytes at offset `at`, written from buf or read into it. */
static int io_at(int fd, uint8_t *buf, size_t size, uint64_t at, bool writing)
{
    while (size > 0) {
        ssize_t n = writing ? pwrite(fd, buf, size, (off_t)at)
                            : pread(fd, buf, size, (off_t)at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return from_errno(n < 0 ? errno : EIO);
        buf += n;
        size -= (size_t)n;
        at += (uint64_t)n;
    }
    return WITAN_OK;
}

static int write_all(int fd, const uint8_t *data, size_t size, uint64_t at)
{
    return io_at(fd, (uint8_t *)data, size, at, true);
}

static int read_at(int fd, uint8_t *buf, size_t size, uint64_t at)
{
    return io_at(fd, buf, size, at, false);
}

static int sync_dir_of(const char *path)
{
    char copy[NODE_RECORDS_PATH_MAX];
    snprintf(copy, sizeof copy, "%s", path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return from_errno(errno);
    int err = fsync(fd) == 0 ? WITAN_OK : from_errno(errno);
    close(fd);
    return err;
}

/* The height a record is about, or 0 when it is kept whatever the stable
 * checkpoint (view changes and new views). */
static uint64_t record_height(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint64_t h = 0;
    if (data[0] == 'P') {
        Witan__PreparedRecord *p =
            witan__prepared_record__unpack(NULL, size - 1, data + 1);
        if (p && p->proof)
            h = p->proof->height;
        if (p)
            witan__prepared_record__free_unpacked(p, NULL);
        return h;
    }
    Witan__SignedMessage *sm =
        witan__signed_message__unpack(NULL, size - 1, data + 1);
    if (!sm)
        return 0;
    Witan__ConsensusMessage *m =
        witan__consensus_message__unpack(NULL, sm->body.len, sm->body.data);
    if (m) {
        switch (m->kind_case) {
        case WITAN__CONSENSUS_MESSAGE__KIND_PRE_PREPARE:
            h = m->pre_prepare->height;
            break;
        case WITAN__CONSENSUS_MESSAGE__KIND_PREPARE:
            h = m->prepare->height;
            break;
        case WITAN__CONSENSUS_MESSAGE__KIND_COMMIT:
            h = m->commit->height;
            break;
        default:
            break;
        }
        witan__consensus_message__free_unpacked(m, NULL);
    }
    witan__signed_message__free_unpacked(sm, NULL);
    return h;
}

/* A pass over a log's frames, one at a time in a buffer of the largest
 * record's size: a log may hold a checkpoint interval's blocks, which need
 * not fit in memory at once. */
struct reader {
    int fd;
    uint64_t size; /* of the file, or of its whole frames */
    uint64_t at;   /* the next frame */
    uint8_t *buf;
    size_t cap;
    uint64_t stable; /* records at or below it are passed over (0: none) */
};

/* 1 with the next whole frame's record in *rec (valid until the next
 * call), 0 where the whole frames end (r->at), or an error. */
static int next_frame(struct reader *r, pbft_bytes *rec)
{
    for (;;) {
        if (r->size - r->at < RECORDS_FRAME_OVERHEAD)
            return 0;
        uint8_t len_be[4];
        int err = read_at(r->fd, len_be, 4, r->at);
        if (err)
            return err;
        uint32_t len = store_read_be32(len_be);
        if (len > r->size - r->at - RECORDS_FRAME_OVERHEAD)
            return 0;
        size_t need = (size_t)len + RECORDS_CHECK_SIZE;
        if ((err = reserve(&r->buf, &r->cap, need)) != 0 ||
            (err = read_at(r->fd, r->buf, need, r->at + 4)) != 0)
            return err;
        uint8_t check[RECORDS_CHECK_SIZE];
        check_of(len_be, 4, r->buf, len, check);
        if (memcmp(check, r->buf + len, RECORDS_CHECK_SIZE) != 0)
            return 0;
        r->at += RECORDS_FRAME_OVERHEAD + len;
        uint64_t h = r->stable ? record_height(r->buf, len) : 0;
        if (h == 0 || h > r->stable) {
            *rec = (pbft_bytes){r->buf, len};
            return 1;
        }
    }
}

/* Where rewrite takes its records from: an array, or a reader. */
struct source {
    const pbft_bytes *records;
    size_t count, next;
    struct reader *reader;
};

static int source_next(struct source *src, pbft_bytes *rec)
{
    if (src->reader)
        return next_frame(src->reader, rec);
    if (src->next == src->count)
        return 0;
    *rec = src->records[src->next++];
    return 1;
}

/* Writes a whole log (header and the source's records) to PATH.new a
 * chunk at a time, syncs it, renames it over PATH and syncs the
 * directory: at every instant PATH is either the old log or the new one. */
static int rewrite(const char *path, const wcrypto_pubkey *owner,
                   struct source *src)
{
    char tmp[NODE_RECORDS_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.new", path);
    size_t cap = RECORDS_WRITE_CHUNK, used = RECORDS_HEADER_SIZE;
    uint64_t at = 0;
    uint8_t *buf = malloc(cap);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int err = !buf ? WITAN_ENOMEM : fd < 0 ? from_errno(errno) : WITAN_OK;
    if (!err)
        header_of(owner, buf);
    pbft_bytes rec;
    int more;
    while (!err && (more = source_next(src, &rec)) != 0) {
        if (more < 0) {
            err = more;
            break;
        }
        size_t need = RECORDS_FRAME_OVERHEAD + rec.size;
        if (used + need > cap && used > 0) {
            err = write_all(fd, buf, used, at);
            at += used;
            used = 0;
        }
        if (!err)
            err = reserve(&buf, &cap, need);
        if (!err)
            frame_into(buf, &used, &rec);
    }
    if (!err && used)
        err = write_all(fd, buf, used, at);
    free(buf);
    if (!err && fdatasync(fd) != 0)
        err = from_errno(errno);
    if (fd >= 0 && close(fd) != 0 && !err)
        err = from_errno(errno);
    if (!err && rename(tmp, path) != 0)
        err = from_errno(errno);
    if (!err)
        err = sync_dir_of(path);
    if (err) {
        unlink(tmp);
        WITAN_ERROR("node", "cannot write the consensus log %s: %s", path,
                    witan_err_message(err));
    }
    return err;
}

static int rewrite_records(const char *path, const wcrypto_pubkey *owner,
                           const pbft_bytes *records, size_t count)
{
    struct source src = {records, count, 0, NULL};
    return rewrite(path, owner, &src);
}

/* The header of the log open at fd, into *owner; WITAN_EDBCORRUPT when
 * there is none (logged). */
static int read_header(int fd, uint64_t size, const char *path,
                       wcrypto_pubkey *owner)
{
    uint8_t header[RECORDS_HEADER_SIZE];
    int err = size >= RECORDS_HEADER_SIZE
                  ? read_at(fd, header, sizeof header, 0)
                  : WITAN_OK;
    if (err)
        return err;
    if (size < RECORDS_HEADER_SIZE || !header_whole(header, sizeof header)) {
        WITAN_ERROR("node", "the consensus log %s has no valid header: it is "
                            "not a Witan consensus log, or it is damaged; "
                            "this validator cannot know what it signed, so "
                            "it does not start",
                    path);
        return WITAN_EDBCORRUPT;
    }
    memcpy(owner->bytes, header + RECORDS_MAGIC_SIZE,
           WCRYPTO_ED25519_PUBKEY_SIZE);
    return WITAN_OK;
}

static int file_size(int fd, uint64_t *size)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return from_errno(errno);
    *size = (uint64_t)st.st_size;
    return WITAN_OK;
}

static int reopen(struct node_records *rl)
{
    if (rl->fd >= 0)
        close(rl->fd);
    rl->fd = open(rl->path, O_RDWR | O_CLOEXEC);
    return rl->fd < 0 ? from_errno(errno) : WITAN_OK;
}

void node_records_close(struct node_records *rl)
{
    if (!rl)
        return;
    if (rl->fd >= 0)
        close(rl->fd);
    free(rl->buf);
    free(rl);
}

void node_records_free(pbft_bytes *records, size_t count)
{
    for (size_t i = 0; records && i < count; i++)
        free((void *)records[i].data);
    free(records);
}

/* Copies of the records r passes, into *out. */
static int collect(struct reader *r, pbft_bytes **out, size_t *count)
{
    size_t cap = 0;
    pbft_bytes rec;
    int more;
    while ((more = next_frame(r, &rec)) == 1) {
        if (*count == cap) {
            cap = cap ? cap * 2 : 64;
            pbft_bytes *grown = realloc(*out, cap * sizeof *grown);
            if (!grown)
                return WITAN_ENOMEM;
            *out = grown;
        }
        uint8_t *c = malloc(rec.size ? rec.size : 1);
        if (!c)
            return WITAN_ENOMEM;
        memcpy(c, rec.data, rec.size);
        (*out)[(*count)++] = (pbft_bytes){c, rec.size};
    }
    return more;
}

int node_records_open(const char *path, const wcrypto_pubkey *owner,
                      uint64_t stable, const pbft_bytes *initial,
                      size_t initial_count, struct node_records **out,
                      pbft_bytes **records, size_t *count)
{
    *out = NULL;
    *records = NULL;
    *count = 0;
    if (strlen(path) >= NODE_RECORDS_PATH_MAX)
        return WITAN_ELIMIT;
    struct node_records *rl = calloc(1, sizeof *rl);
    if (!rl)
        return WITAN_ENOMEM;
    snprintf(rl->path, sizeof rl->path, "%s", path);
    rl->owner = *owner;
    rl->fd = -1;
    int err = WITAN_OK;
    if (access(path, F_OK) != 0)
        err = errno == ENOENT
                  ? rewrite_records(path, owner, initial, initial_count)
                  : from_errno(errno);
    if (!err)
        err = reopen(rl);
    uint64_t size = 0;
    wcrypto_pubkey theirs;
    if (!err)
        err = file_size(rl->fd, &size);
    if (!err)
        err = read_header(rl->fd, size, path, &theirs);
    struct reader r = {rl->fd, size, RECORDS_HEADER_SIZE, NULL, 0, stable};
    if (!err && memcmp(theirs.bytes, owner->bytes,
                       WCRYPTO_ED25519_PUBKEY_SIZE) != 0) {
        /* A copy of another validator's files: its messages are not this
         * validator's to replay. */
        size_t n = 0;
        pbft_bytes rec;
        int more;
        r.stable = 0;
        while ((more = next_frame(&r, &rec)) == 1)
            n++;
        WITAN_WARN("node", "%zu consensus records in %s are another "
                           "validator's (a copy of its files): discarded",
                   n, path);
        err = more < 0 ? more : rewrite_records(path, owner, NULL, 0);
        if (!err)
            err = reopen(rl);
        r.fd = rl->fd;
        r.at = r.size = size = RECORDS_HEADER_SIZE;
    }
    if (!err)
        err = collect(&r, records, count);
    free(r.buf);
    uint64_t end = r.at;
    if (!err && r.at < size)
        /* The last append was cut short (a crash mid-write), or a power
         * loss took lazy records (the core's boot rule covers them). */
        WITAN_WARN("node", "consensus log %s: %llu bytes after the last "
                           "whole record (a write cut short) dropped",
                   path, (unsigned long long)(size - r.at));
    if (!err && *count > 0 && (*records)[*count - 1].size == 1 &&
        (*records)[*count - 1].data[0] == RECORDS_STOP_MARK) {
        /* Taken off before anything is sent: a crash from here on must
         * not find it. */
        rl->stopped_cleanly = true;
        free((void *)(*records)[--*count].data);
        end -= RECORDS_FRAME_OVERHEAD + 1;
    }
    if (!err && end < size &&
        (ftruncate(rl->fd, (off_t)end) != 0 || fdatasync(rl->fd) != 0))
        err = from_errno(errno);
    if (err) {
        node_records_free(*records, *count);
        *records = NULL;
        *count = 0;
        node_records_close(rl);
        return err;
    }
    rl->size = rl->pruned_size = end;
    *out = rl;
    return WITAN_OK;
}

bool node_records_stopped_cleanly(const struct node_records *rl)
{
    return rl->stopped_cleanly;
}

int node_records_mark_stopped(struct node_records *rl)
{
    static const uint8_t mark = RECORDS_STOP_MARK;
    pbft_action a = {.type = PBFT_ACT_PERSIST, .data = {&mark, 1}};
    size_t written;
    bool synced;
    return node_records_append(rl, &a, 1, &written, &synced);
}

int node_records_append(struct node_records *rl, const pbft_action *actions,
                        size_t action_count, size_t *written, bool *synced)
{
    *written = 0;
    *synced = false;
    size_t size = 0;
    bool sync = false;
    for (size_t i = 0; i < action_count; i++)
        if (actions[i].type == PBFT_ACT_PERSIST) {
            size += RECORDS_FRAME_OVERHEAD + actions[i].data.size;
            sync |= !actions[i].lazy;
        }
    if (size == 0)
        return WITAN_OK;
    int err = reserve(&rl->buf, &rl->buf_cap, size);
    if (err)
        return err;
    size_t used = 0, n = 0;
    for (size_t i = 0; i < action_count; i++) {
        if (actions[i].type != PBFT_ACT_PERSIST)
            continue;
        WITAN_ASSERT(actions[i].data.size <= UINT32_MAX);
        frame_into(rl->buf, &used, &actions[i].data);
        n++;
    }
    /* A failed write leaves rl->size where it was: the next append writes
     * over what was cut short, and a restart drops it. */
    err = write_all(rl->fd, rl->buf, used, rl->size);
    if (!err && sync && fdatasync(rl->fd) != 0)
        err = from_errno(errno);
    if (err) {
        WITAN_ERROR("node", "cannot append to the consensus log %s: %s",
                    rl->path, witan_err_message(err));
        return err;
    }
    rl->size += used;
    rl->unsynced = !sync;
    *written = n;
    *synced = sync;
    /* Kept for the next append, unless a large block made it large. */
    if (rl->buf_cap > RECORDS_WRITE_CHUNK) {
        free(rl->buf);
        rl->buf = NULL;
        rl->buf_cap = 0;
    }
    return WITAN_OK;
}

int node_records_sync(struct node_records *rl)
{
    if (!rl->unsynced)
        return WITAN_OK;
    if (fdatasync(rl->fd) != 0) {
        int err = from_errno(errno);
        WITAN_ERROR("node", "cannot sync the consensus log %s: %s", rl->path,
                    witan_err_message(err));
        return err;
    }
    rl->unsynced = false;
    return WITAN_OK;
}

/* Rewrites the log with the records kept above `stable` under `owner`. */
static int rewrite_kept(struct node_records *rl, uint64_t stable,
                        const wcrypto_pubkey *owner)
{
    struct reader r = {rl->fd, rl->size, RECORDS_HEADER_SIZE, NULL, 0, stable};
    struct source src = {NULL, 0, 0, &r};
    int err = rewrite(rl->path, owner, &src);
    free(r.buf);
    if (!err)
        err = reopen(rl);
    uint64_t size = 0;
    if (!err)
        err = file_size(rl->fd, &size);
    if (!err) {
        rl->size = size;
        rl->owner = *owner;
        rl->unsynced = false; /* the rewrite synced what it kept */
    }
    return err;
}

int node_records_prune(struct node_records *rl, uint64_t stable)
{
    if (rl->size - rl->pruned_size < RECORDS_PRUNE_BYTES)
        return WITAN_OK;
    int err = rewrite_kept(rl, stable, &rl->owner);
    if (!err)
        rl->pruned_size = rl->size;
    return err;
}

int node_records_rekey(struct node_records *rl, const wcrypto_pubkey *from,
                       const wcrypto_pubkey *to)
{
    if (memcmp(rl->owner.bytes, from->bytes, WCRYPTO_ED25519_PUBKEY_SIZE) != 0)
        return WITAN_OK;
    return rewrite_kept(rl, 0, to);
}

uint64_t node_records_size(const struct node_records *rl)
{
    return rl->size;
}

int node_records_rekey_file(const char *path, const wcrypto_pubkey *from,
                            const wcrypto_pubkey *to)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? WITAN_OK : from_errno(errno);
    uint64_t size = 0;
    wcrypto_pubkey owner;
    int err = file_size(fd, &size);
    /* A log that is not whole is for node_records_open to refuse. */
    bool theirs = !err && read_header(fd, size, path, &owner) == 0 &&
                  memcmp(owner.bytes, from->bytes,
                         WCRYPTO_ED25519_PUBKEY_SIZE) == 0;
    struct reader r = {fd, size, RECORDS_HEADER_SIZE, NULL, 0, 0};
    struct source src = {NULL, 0, 0, &r};
    if (theirs)
        err = rewrite(path, to, &src);
    free(r.buf);
    close(fd);
    return err;
}
