// OpenSSL's libcrypto, for its digests (already loaded: libpq and libcurl link it).
#include <openssl/evp.h>
