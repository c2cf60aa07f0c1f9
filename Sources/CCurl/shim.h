#ifndef CCURL_SHIM_H
#define CCURL_SHIM_H
#include <curl/curl.h>
#include <openssl/ssl.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

// Swift cannot call C variadic functions, so every curl_easy_setopt / curl_easy_getinfo /
// curl_multi_setopt argument type the client uses gets its own typed entry point.

static inline CURLcode ccurl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

// Strings are copied by libcurl (except CURLOPT_POSTFIELDS, which the client does not use).
static inline CURLcode ccurl_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

// Used for both CURLOPT_WRITEFUNCTION and CURLOPT_HEADERFUNCTION (same C signature).
static inline CURLcode ccurl_easy_setopt_write_function(CURL *handle, CURLoption option, curl_write_callback value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_xferinfo_function(CURL *handle, CURLoption option, curl_xferinfo_callback value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode ccurl_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode ccurl_easy_getinfo_double(CURL *handle, CURLINFO info, double *value) {
    return curl_easy_getinfo(handle, info, value);
}

// The returned string is owned by the handle and valid until the next transfer or cleanup.
static inline CURLcode ccurl_easy_getinfo_string(CURL *handle, CURLINFO info, const char **value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode ccurl_easy_getinfo_pointer(CURL *handle, CURLINFO info, void **value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline struct curl_certinfo *ccurl_easy_certinfo(CURL *handle) {
    struct curl_certinfo *info = NULL;
    if (curl_easy_getinfo(handle, CURLINFO_CERTINFO, &info) != CURLE_OK) {
        return NULL;
    }
    return info;
}

static inline CURLMcode ccurl_multi_setopt_long(CURLM *handle, CURLMoption option, long value) {
    return curl_multi_setopt(handle, option, value);
}

// The negotiated TLS protocol name ("TLSv1.3", ...) or NULL for plain HTTP / other backends.
// CURLINFO_TLS_SSL_PTR only yields the SSL* while the transfer is in progress, so this must be
// called from a transfer callback (the header callback), not after completion.
static inline const char *ccurl_tls_version(CURL *handle) {
    struct curl_tlssessioninfo *info = NULL;
    if (curl_easy_getinfo(handle, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK || info == NULL) {
        return NULL;
    }
    if (info->backend != CURLSSLBACKEND_OPENSSL || info->internals == NULL) {
        return NULL;
    }
    return SSL_get_version((const SSL *)info->internals);
}

// Idle keep-alive connections would each hold OpenSSL's read and write buffers (tens of KiB)
// between polls; SSL_MODE_RELEASE_BUFFERS frees them whenever a connection has nothing pending.
static CURLcode ccurl_release_idle_tls_buffers(CURL *handle, void *ssl_ctx, void *user) {
    (void)handle;
    (void)user;
    SSL_CTX_set_mode((SSL_CTX *)ssl_ctx, SSL_MODE_RELEASE_BUFFERS);
    return CURLE_OK;
}

static inline CURLcode ccurl_easy_release_idle_tls_buffers(CURL *handle) {
    return curl_easy_setopt(handle, CURLOPT_SSL_CTX_FUNCTION, ccurl_release_idle_tls_buffers);
}

// CURLMsg carries its result in a union; reading it in C keeps the Swift side free of layout guesses.
static inline CURLcode ccurl_message_result(const CURLMsg *message) {
    return message->data.result;
}

// Names the calling thread (shows in `top -H`, gdb, /proc); pthread_setname_np needs _GNU_SOURCE,
// which the Swift importer does not define.
static inline void ccurl_name_current_thread(const char *name) {
#ifdef __linux__
    prctl(PR_SET_NAME, (unsigned long)name, 0UL, 0UL, 0UL);
#endif
}

// Macros built from casts or shifts that the Swift importer skips.
static const unsigned long CCURL_AUTH_BEARER = CURLAUTH_BEARER;
static const long CCURL_GLOBAL_DEFAULT = CURL_GLOBAL_DEFAULT;
static const long CCURL_PIPE_MULTIPLEX = CURLPIPE_MULTIPLEX;
static const int CCURL_ERROR_SIZE = CURL_ERROR_SIZE;
static const unsigned int CCURLU_DEFAULT_PORT = CURLU_DEFAULT_PORT;
static const unsigned int CCURLU_NON_SUPPORT_SCHEME = CURLU_NON_SUPPORT_SCHEME;
// TLS 1.0 at least and 1.1 at most: the handshake that proves a server still accepts them.
static const long CCURL_SSLVERSION_LEGACY_ONLY = CURL_SSLVERSION_TLSv1_0 | CURL_SSLVERSION_MAX_TLSv1_1;

#endif
