// ossl_ptr.h: unique_ptr aliases with fixed deleters for every OpenSSL object vhsm uses. No
// code outside crypto/ calls *_free; call .release() only beside a set0/push that takes
// ownership, with a comment.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace vhsm::crypto {

template <auto FreeFn>
struct CallFree {
  template <class T>
  void operator()(T* p) const noexcept {
    FreeFn(p);
  }
};

inline void FreeBn(BIGNUM* b) { BN_clear_free(b); }

using BioPtr = std::unique_ptr<BIO, CallFree<&BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, CallFree<&FreeBn>>;
using BnCtxPtr = std::unique_ptr<BN_CTX, CallFree<&BN_CTX_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, CallFree<&EVP_PKEY_free>>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, CallFree<&EVP_PKEY_CTX_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, CallFree<&EVP_MD_CTX_free>>;
using EvpMdPtr = std::unique_ptr<EVP_MD, CallFree<&EVP_MD_free>>;
using EvpCipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CallFree<&EVP_CIPHER_CTX_free>>;
using EvpCipherPtr = std::unique_ptr<EVP_CIPHER, CallFree<&EVP_CIPHER_free>>;
using EvpMacPtr = std::unique_ptr<EVP_MAC, CallFree<&EVP_MAC_free>>;
using EvpMacCtxPtr = std::unique_ptr<EVP_MAC_CTX, CallFree<&EVP_MAC_CTX_free>>;
using EvpKdfPtr = std::unique_ptr<EVP_KDF, CallFree<&EVP_KDF_free>>;
using EvpKdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, CallFree<&EVP_KDF_CTX_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, CallFree<&ECDSA_SIG_free>>;
using EcGroupPtr = std::unique_ptr<EC_GROUP, CallFree<&EC_GROUP_free>>;
using EcPointPtr = std::unique_ptr<EC_POINT, CallFree<&EC_POINT_free>>;
using OsslParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, CallFree<&OSSL_PARAM_BLD_free>>;
using OsslParamPtr = std::unique_ptr<OSSL_PARAM, CallFree<&OSSL_PARAM_free>>;
using X509Ptr = std::unique_ptr<X509, CallFree<&X509_free>>;
using X509CrlPtr = std::unique_ptr<X509_CRL, CallFree<&X509_CRL_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, CallFree<&X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, CallFree<&X509_STORE_CTX_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, CallFree<&X509_NAME_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, CallFree<&X509_EXTENSION_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, CallFree<&ASN1_INTEGER_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, CallFree<&ASN1_TIME_free>>;
using Asn1ObjectPtr = std::unique_ptr<ASN1_OBJECT, CallFree<&ASN1_OBJECT_free>>;
using Asn1OctetStringPtr = std::unique_ptr<ASN1_OCTET_STRING, CallFree<&ASN1_OCTET_STRING_free>>;
using Asn1StringPtr = std::unique_ptr<ASN1_STRING, CallFree<&ASN1_STRING_free>>;
using Asn1TypePtr = std::unique_ptr<ASN1_TYPE, CallFree<&ASN1_TYPE_free>>;

}  // namespace vhsm::crypto
