//! What the JWT tests share: secrets, a session type, and helpers that forge tokens by hand (any header, any
//! payload, raw JSON text), bypassing the service under test.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{now_secs, Algorithm, JwtService};

pub(super) const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-test-secret";

pub(super) const OTHER_SECRET: &[u8] = b"fedcba9876543210fedcba9876543210-other-secret";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Session {
    pub(super) user_id: String,
    pub(super) role: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AllOptional {
    pub(super) user_id: Option<String>,
}

pub(super) fn session() -> Session {
    Session { user_id: "u1".into(), role: "admin".into() }
}

pub(super) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(super) fn parts(token: &str) -> (Value, Value) {
    let mut it = token.split('.');
    let h = URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap();
    let p = URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap();
    (serde_json::from_slice(&h).unwrap(), serde_json::from_slice(&p).unwrap())
}

/// Sign an arbitrary payload by hand (HS*), optionally with a kid.
pub(super) fn forge(alg: Algorithm, kid: Option<&str>, payload: &Value, secret: &[u8]) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, payload, &EncodingKey::from_secret(secret)).unwrap()
}

pub(super) fn now() -> i64 {
    now_secs()
}

pub(super) fn service() -> JwtService {
    JwtService::hs256(SECRET).unwrap()
}

/// Sign a payload given as raw JSON text (HS256, kid "primary"), so key order and escapes are exactly as
/// written.
pub(super) fn forge_raw(payload: &str) -> String {
    forge_raw_hs256(r#"{"alg":"HS256","typ":"JWT","kid":"primary"}"#, payload, SECRET)
}

/// Sign a header and a payload given as raw JSON text with HS256.
pub(super) fn forge_raw_hs256(header: &str, payload: &str, secret: &[u8]) -> String {
    let message = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let sig =
        jsonwebtoken::crypto::sign(message.as_bytes(), &EncodingKey::from_secret(secret), Algorithm::HS256).unwrap();
    format!("{message}.{sig}")
}

// TEST FIXTURES ONLY: throwaway keys generated for these tests with openssl. Never use them for anything else.
pub(super) const RSA_PRIVATE_PEM: &[u8] = b"-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDuye+hXIwBG42e
KJPfhBsnZ76S8lST+FOkPHDkjfILyLxA/h6S5VpdoeL9p7xZvv9PfCCCJ6O0GMFX
Vlr2pLbopKgP1NHLNO0OMBm+aeEo7an9ZvQaRD7ZZxMa9jqLjSLLXsV5Y9RDDNhA
BW163PARXEyaSmA0guEPYsTDYCdA2qLc0hoskaW/DlJofzpB34xISAzMMqOqHfUq
zHVPFcz9K/babHYCJLqJrkWSjbmJMFFCC8RQZ27hQlCIasiRZwRHMNv8PPjK0py4
hpFE2rfB5Cs0RrZxYmUQ2MQSSmZQKyEfbFF5BhPHiPTTgIOwywE/8M0BRCYIyWsc
/w5Y88+3AgMBAAECggEAEVknyQ1e4+W15ZEFIpldGlZ13gSFEzWuE0yLgc9eOm+c
XbcYpDYi2T1IWdgJ3cCmmTESG41Ns2k+WAi0wHPkZgUwa0CxopXMcy9uGgtkia4F
Ske54alQ950pd4Kpa4zBbmJgQ8V2R7jIgpONCf7AjO0BE7nmQL+8IiYG2DrwHyH0
qYwYm2cPHHvVlQjY5LfE+brre9KzZqcxstabM93A3N3A3sFrTRsZAHqkQF67vX7k
bZI5koQv+Uj+kwy2+aIR8T4jz9NH8hwVpUByXsGzYzmBODq6R4lc5kduVt5EJV3z
4TCnAiMTEKnU2xT8f+oFvYbe3oO/0yYvPW1S4IiX4QKBgQD/LNkbHyXQh2Ld1S9i
v5pRRF4MeRF7kh9w7Rj0uytOCBpLT+E3d1tYsWNdtahOpJNjEx2V+zAy5rQBtrk4
9639KK9+fdrKE59ts3ZWU493yRaEOvr0XXTKzIR7cU+iuDLR1rnBkmyYcIlTcEVd
HZTwJf7AyHtoNB32CDZlO5nOPQKBgQDvj4dTYprwxT1fvTDXI1GvW2E50JxJpJRT
q5Va4UnNdXdNh7JY7mBjcd5mzgodvmeiT9YRZwsVZxywYor0jh/sfOowXhnKD84w
BfRdG/Hh3d9DhSnJRLIT3rqM0w6svqQCMXEZiUrYsUcqaDjOtUVkEb16jDt1/H4F
jfqceCNJAwKBgG78ub2DMbZefJER/ZdM0TkRrHpuWj1OFCDQ727azf4VpiIlr0ap
wnB0T0zeC0ORb43DLbYjWBZ7o8WvDScLC4E2Jga1hOkp2ckkKo9nrtoh+4ouASMy
Vu8yP1lVspaK2YfNhmP8ZQF0yTYiefkDOdmuHP0K9iofqPxvHAGyB7bdAoGAVrGl
coq7sahfhpcr5p90fzZdoBObi5cQyprMqR/gmocJDrit1TsnDLX3m1KzHIJ8dKPZ
v2CABVXUbwyqZshMS0QFaE2VnadModp1zYBAb9Hga0n0jk7a9w/iiPYUWHWBWv3T
hT9HI9Y7/9/JtxyoqQc2f/PhzNf8LzxrVlavxksCgYEAtABdclgcVfUWwIEol6K3
fcqlTP7Vex6Zf52VqK3owoOV+gePJoTkV4mgc0eXfslT1v4Xo4n7uzLb0N/BXlwO
WzZGhtUUjwDtkji1QBo/zvzkJrtMjElXzxDEh1ETKY5P/82EQ9Xog6pUKmtUvdqW
KJXsWQqtET2F1h2w3xnw3kk=
-----END PRIVATE KEY-----
";

pub(super) const RSA_PUBLIC_PEM: &[u8] = b"-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA7snvoVyMARuNniiT34Qb
J2e+kvJUk/hTpDxw5I3yC8i8QP4ekuVaXaHi/ae8Wb7/T3wggiejtBjBV1Za9qS2
6KSoD9TRyzTtDjAZvmnhKO2p/Wb0GkQ+2WcTGvY6i40iy17FeWPUQwzYQAVtetzw
EVxMmkpgNILhD2LEw2AnQNqi3NIaLJGlvw5SaH86Qd+MSEgMzDKjqh31Ksx1TxXM
/Sv22mx2AiS6ia5Fko25iTBRQgvEUGdu4UJQiGrIkWcERzDb/Dz4ytKcuIaRRNq3
weQrNEa2cWJlENjEEkpmUCshH2xReQYTx4j004CDsMsBP/DNAUQmCMlrHP8OWPPP
twIDAQAB
-----END PUBLIC KEY-----
";

pub(super) const EC_PRIVATE_PEM: &[u8] = b"-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg3CtQ3ccENT4e2fqX
kvTmagpcPeQmPbCb7UxXIH5CzJ6hRANCAAQ62ZpnAypyUgegZTlbpM3O3Z6LYYsI
Tw6Nmw1R3SJ/iAJVdkL13FXTO0hy47jYtx/1iVF/h/qZBvfP9LRm3gNo
-----END PRIVATE KEY-----
";

pub(super) const EC_PUBLIC_PEM: &[u8] = b"-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEOtmaZwMqclIHoGU5W6TNzt2ei2GL
CE8OjZsNUd0if4gCVXZC9dxV0ztIcuO42Lcf9YlRf4f6mQb3z/S0Zt4DaA==
-----END PUBLIC KEY-----
";

pub(super) const ED_PRIVATE_PEM: &[u8] = b"-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIAAzUHZmw5En/0arE+Tc9ZP9yLz25I8UQNluuHRMy4eS
-----END PRIVATE KEY-----
";

pub(super) const ED_PUBLIC_PEM: &[u8] = b"-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAEt3SBfnnL+bb0aFEThem/bnNtegCvVpxRUyVCh5ncKo=
-----END PUBLIC KEY-----
";

pub(super) const ED_OTHER_PUBLIC_PEM: &[u8] = b"-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAVcm15WEzcSeQroFkEsZQNqOsbeJJNWeqNfPf6fbxNaE=
-----END PUBLIC KEY-----
";
