/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key files: small text files holding a key's type, its 32-byte seed and its
 * public key, readable by their owner only.
 *
 *   # Witan key file: whoever reads it can sign as this key.
 *   type: ed25519
 *   seed: 9d61b19d...
 *   public: d75a9801...
 *
 * Written with O_EXCL and mode 0600, synced before rename-free success is
 * reported; read only when neither group nor others have any access, so a
 * key left readable is noticed instead of used. Every buffer that held the
 * seed is wiped before it is released.
 */
#include "crypto/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int wcrypto_keyfile_write(const char *path, const wcrypto_keypair *kp)
{
    char seed_hex[2 * WCRYPTO_SEED_SIZE + 1];
    char pub_hex[2 * WCRYPTO_PUBKEY_SIZE_MAX + 1];
    char text[WITAN_KEY_FILE_SIZE_MAX];
    witan_hex_encode(kp->seed, WCRYPTO_SEED_SIZE, seed_hex);
    witan_hex_encode(kp->pub.bytes, kp->pub.size, pub_hex);
    int n = snprintf(text, sizeof text,
                     "# Witan key file: whoever reads it can sign as this "
                     "key.\ntype: %s\nseed: %s\npublic: %s\n",
                     wcrypto_key_type_name(kp->pub.type), seed_hex, pub_hex);
    sodium_memzero(seed_hex, sizeof seed_hex);
    WITAN_ASSERT(n > 0 && (size_t)n < sizeof text);

    int err = WITAN_OK;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        err = errno == EEXIST ? WITAN_EEXIST : WITAN_EIO;
        goto out;
    }
    /* The umask may have removed bits but never adds any; fchmod makes the
     * mode exact whatever the umask. */
    if (fchmod(fd, 0600) != 0 || write(fd, text, (size_t)n) != n ||
        fsync(fd) != 0)
        err = WITAN_EIO;
    if (close(fd) != 0)
        err = WITAN_EIO;
    if (err)
        unlink(path);
out:
    sodium_memzero(text, sizeof text);
    return err;
}

/* Finds "name: value" on its own line and copies value (up to the newline). */
static int field(const char *text, const char *name, char *out, size_t out_size)
{
    size_t name_size = strlen(name);
    for (const char *line = text; *line; line = strchr(line, '\n') + 1) {
        if (strncmp(line, name, name_size) == 0 && line[name_size] == ':' &&
            line[name_size + 1] == ' ') {
            const char *value = line + name_size + 2;
            size_t size = strcspn(value, "\n");
            if (size >= out_size)
                return WITAN_EKEYFILE;
            memcpy(out, value, size);
            out[size] = '\0';
            return WITAN_OK;
        }
        if (!strchr(line, '\n'))
            break;
    }
    return WITAN_EKEYFILE;
}

int wcrypto_keyfile_read(const char *path, wcrypto_keypair *out)
{
    char text[WITAN_KEY_FILE_SIZE_MAX + 1];
    char type_name[16], seed_hex[2 * WCRYPTO_SEED_SIZE + 2];
    char pub_hex[2 * WCRYPTO_PUBKEY_SIZE_MAX + 2];
    uint8_t seed[WCRYPTO_SEED_SIZE];
    uint8_t pub[WCRYPTO_PUBKEY_SIZE_MAX];
    enum wcrypto_key_type type;
    struct stat st;
    ssize_t n = 0;
    int err;

    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? WITAN_ENOTFOUND : WITAN_EIO;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return WITAN_EIO;
    }
    /* What the file is comes before how it is protected: a file that is
     * no key file is said to be so, not to need chmod. */
    if (!S_ISREG(st.st_mode) || st.st_size > WITAN_KEY_FILE_SIZE_MAX) {
        close(fd);
        return WITAN_EKEYFILE;
    }
    n = read(fd, text, WITAN_KEY_FILE_SIZE_MAX + 1);
    close(fd);
    if (n < 0)
        return WITAN_EIO;
    if (n > WITAN_KEY_FILE_SIZE_MAX || memchr(text, '\0', (size_t)n)) {
        err = WITAN_EKEYFILE;
        goto out;
    }
    text[n] = '\0';

    err = field(text, "type", type_name, sizeof type_name);
    if (!err)
        err = wcrypto_key_type_parse(type_name, &type) ? WITAN_EKEYFILE : 0;
    if (!err)
        err = field(text, "seed", seed_hex, sizeof seed_hex);
    if (!err)
        err = field(text, "public", pub_hex, sizeof pub_hex);
    if (!err)
        err = witan_hex_decode(seed_hex, seed, sizeof seed) ? WITAN_EKEYFILE
                                                            : 0;
    if (!err)
        err = wcrypto_keypair_from_seed(type, seed, out) ? WITAN_EKEYFILE : 0;
    /* The stored public key is redundant on purpose: a file whose seed was
     * damaged is caught here instead of signing as a stranger. */
    if (!err && (strlen(pub_hex) != 2u * out->pub.size ||
                 witan_hex_decode(pub_hex, pub, out->pub.size) != 0 ||
                 memcmp(pub, out->pub.bytes, out->pub.size) != 0))
        err = WITAN_EKEYFILE;
    if (!err && (st.st_mode & 077))
        err = WITAN_EKEYPERM;
    if (err)
        wcrypto_keypair_wipe(out);
out:
    sodium_memzero(text, sizeof text);
    sodium_memzero(seed_hex, sizeof seed_hex);
    sodium_memzero(seed, sizeof seed);
    return err;
}
