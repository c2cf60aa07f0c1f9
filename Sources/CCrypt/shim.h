#ifndef CCRYPT_SHIM_H
#define CCRYPT_SHIM_H
// libxcrypt's crypt_rn verifies the bcrypt hashes of the web config's basic_auth_users (bcrypt is
// not reimplemented here); the system libcrypto's one-shot SHA256 keys the cache of verified
// credentials so that cache never holds a password in the clear.
#include <crypt.h>
#include <openssl/sha.h>

static inline int ccrypt_data_size(void) { return (int)sizeof(struct crypt_data); }
#endif
