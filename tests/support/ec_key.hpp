// An EC P-256 key pair made with OpenSSL, as SendGrid's signed Event Webhook uses: the public half as the
// base64 DER SendGrid's settings page shows, and signatures (base64 DER ECDSA over SHA-256) made here,
// independently of the product's verifier. Link OpenSSL::Crypto.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <string>

namespace gpuopt::testing {

class EcKey {
public:
    EcKey() : key_(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")) {}
    ~EcKey() { EVP_PKEY_free(key_); }
    EcKey(const EcKey&) = delete;
    EcKey& operator=(const EcKey&) = delete;

    std::string PublicKey() const {
        unsigned char* der = nullptr;
        const int n = i2d_PUBKEY(key_, &der);
        std::string out = Base64(der, static_cast<size_t>(n));
        OPENSSL_free(der);
        return out;
    }

    std::string Sign(const std::string& message) const {
        EVP_MD_CTX* ctx = EVP_MD_CTX_new();
        size_t size = 0;
        EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_);
        EVP_DigestSign(ctx, nullptr, &size, reinterpret_cast<const unsigned char*>(message.data()), message.size());
        std::string sig(size, '\0');
        EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &size,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size());
        EVP_MD_CTX_free(ctx);
        return Base64(reinterpret_cast<const unsigned char*>(sig.data()), size);
    }

private:
    static std::string Base64(const unsigned char* data, size_t size) {
        std::string out(4 * ((size + 2) / 3) + 1, '\0');
        const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
        out.resize(static_cast<size_t>(n));
        return out;
    }

    EVP_PKEY* key_;
};

}  // namespace gpuopt::testing
