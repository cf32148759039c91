#!/usr/bin/env python3
"""Writes the seed tokens of the `jwt_decode` target (seeds/jwt_decode/), signed with the targets' secret
(`FUZZ_SECRET` in src/lib.rs). Python standard library only. Run from this directory."""
import base64
import hashlib
import hmac
import json
import os

SECRET = b"pikku-fuzz-secret-pikku-fuzz-secret-0123"
OTHER = b"another-secret-another-secret-0123456789"
FAR = 4102444800  # 2100-01-01: the valid seeds stay valid
H = {"alg": "HS256", "typ": "JWT", "kid": "primary"}


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(header, payload, key=SECRET):
    signing_input = b64(json.dumps(header, separators=(",", ":")).encode()) + "." + b64(
        json.dumps(payload, separators=(",", ":")).encode())
    return signing_input + "." + b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())


SEEDS = {
    "valid_primary": token(H, {"userId": "u1", "role": "admin", "iat": 1764300000, "exp": FAR,
                               "jti": "V1StGXR8_Z5jdHi6B-myTw.x9TmnZ3qhVsb"}),
    "valid_no_kid_no_jti": token({"alg": "HS256", "typ": "JWT"}, {"userId": "u2", "role": "user", "iat": 1764300000,
                                                                  "exp": FAR}),
    "valid_float_exp": token(H, {"userId": "u1", "role": "user", "exp": FAR + 0.5}),
    "expired": token(H, {"userId": "u1", "role": "admin", "iat": 1600000000, "exp": 1600003600}),
    "no_session": token(H, {"iat": 1764300000, "exp": FAR, "jti": "a.b"}),
    "other_secret": token(H, {"userId": "u1", "role": "admin", "exp": FAR}, OTHER),
    "hs512_header": token({"alg": "HS512", "typ": "JWT", "kid": "primary"}, {"userId": "u1", "role": "admin", "exp": FAR}),
    "alg_none": b64(b'{"alg":"none"}') + "." + b64(b'{"userId":"u1","role":"admin","exp":4102444800}') + ".",
}

os.makedirs("seeds/jwt_decode", exist_ok=True)
for name, value in SEEDS.items():
    with open(os.path.join("seeds/jwt_decode", name), "w") as f:
        f.write(value)
