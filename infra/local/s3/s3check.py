#!/usr/bin/env python3
"""One S3 request signed with AWS Signature Version 4, path style, with the
standard library only. infra/local/up.sh uses it to know that the local S3
server answers and to create the bucket; it is also there to poke at the
server by hand:

    s3check.py ping                        # a ListBuckets that S3 answers
    s3check.py ensure-bucket BUCKET        # HEAD it, PUT it when missing
    s3check.py METHOD PATH [options]       # e.g. GET /studio?list-type=2

Options: -d FILE (the body; `-` is stdin), -H 'Name: value' (repeatable),
--unsigned-payload (x-amz-content-sha256: UNSIGNED-PAYLOAD instead of the
body's hash), -i (the response's headers to stderr), --expect CODE (succeed
only on that status). PATH is the raw path and query, already URL-encoded
where a key needs it; the canonical request encodes it again per SigV4's
rules. The response's status goes to stderr, its body to stdout.

Settings from the environment, as up.sh prints them: STUDIO_S3_ENDPOINT
(http://127.0.0.1:9000), STUDIO_S3_ACCESS_KEY (studio), STUDIO_S3_SECRET_KEY
(studio-secret-key), STUDIO_S3_REGION (us-east-1).

Exit status: 0 for a 2xx (or the --expect status), 1 for another status,
2 when the server cannot be reached.
"""

import datetime
import hashlib
import hmac
import http.client
import os
import sys
import urllib.parse

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def settings():
    return {
        "endpoint": os.environ.get("STUDIO_S3_ENDPOINT", "http://127.0.0.1:9000"),
        "access_key": os.environ.get("STUDIO_S3_ACCESS_KEY", "studio"),
        "secret_key": os.environ.get("STUDIO_S3_SECRET_KEY", "studio-secret-key"),
        "region": os.environ.get("STUDIO_S3_REGION", "us-east-1"),
    }


def _encode(text, safe):
    # RFC 3986 unreserved characters stay; everything else is %XX, upper case.
    return urllib.parse.quote(urllib.parse.unquote(text), safe=safe)


def _canonical_query(query):
    pairs = []
    for part in query.split("&") if query else []:
        name, _, value = part.partition("=")
        pairs.append((_encode(name, "-_.~"), _encode(value, "-_.~")))
    return "&".join(f"{n}={v}" for n, v in sorted(pairs))


def _hmac(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sign(cfg, method, path, headers, payload_hash, now=None):
    """The headers to send: HEADERS plus Host, x-amz-date,
    x-amz-content-sha256 and Authorization."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    host = urllib.parse.urlsplit(cfg["endpoint"]).netloc
    raw_path, _, query = path.partition("?")
    headers = dict(headers)
    headers.update({"Host": host, "x-amz-date": amz_date, "x-amz-content-sha256": payload_hash})
    # Every header sent is signed, so that a proxy cannot change it unseen.
    signed = {name.lower(): " ".join(str(value).split()) for name, value in headers.items()}
    names = sorted(signed)
    canonical = "\n".join([
        method,
        _encode(raw_path or "/", "/-_.~"),
        _canonical_query(query),
        "".join(f"{name}:{signed[name]}\n" for name in names),
        ";".join(names),
        payload_hash,
    ])
    scope = f"{day}/{cfg['region']}/s3/aws4_request"
    to_sign = "\n".join([
        "AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(("AWS4" + cfg["secret_key"]).encode(), day)
    for part in (cfg["region"], "s3", "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={cfg['access_key']}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}")
    return headers


def request(cfg, method, path, body=b"", headers=(), unsigned_payload=False, timeout=10):
    """(status, reason, response headers, body); raises OSError when the
    server cannot be reached."""
    if not path.startswith("/"):
        path = "/" + path
    payload_hash = "UNSIGNED-PAYLOAD" if unsigned_payload else hashlib.sha256(body).hexdigest()
    all_headers = dict(headers)
    if body or method in ("PUT", "POST"):
        all_headers["Content-Length"] = str(len(body))
    all_headers = sign(cfg, method, path, all_headers, payload_hash)
    url = urllib.parse.urlsplit(cfg["endpoint"])
    conn_class = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    conn = conn_class(url.hostname, url.port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in all_headers.items():
            conn.putheader(name, value)
        conn.endheaders(body if body else None)
        response = conn.getresponse()
        return response.status, response.reason, response.getheaders(), response.read()
    finally:
        conn.close()


def _show(body):
    text = body.decode(errors="replace").strip()
    return text if len(text) <= 300 else text[:300] + "..."


def ping(cfg):
    """A signed ListBuckets answered as S3 answers it, not only any 200 from
    whatever listens on the port."""
    status, _, _, body = request(cfg, "GET", "/", timeout=5)
    if status == 200 and b"ListAllMyBucketsResult" in body:
        return True
    print(f"GET /: {status} {_show(body)}", file=sys.stderr)
    return False


def ensure_bucket(cfg, bucket):
    """Creates BUCKET unless it exists; true once a HEAD of it succeeds."""
    status, _, _, _ = request(cfg, "HEAD", "/" + bucket)
    if status == 200:
        return True
    if status != 404:
        print(f"HEAD /{bucket}: {status}", file=sys.stderr)
        return False
    status, _, _, body = request(cfg, "PUT", "/" + bucket)
    # Another up.sh may have created it in between: that is fine too.
    if status not in (200, 409):
        print(f"PUT /{bucket}: {status} {_show(body)}", file=sys.stderr)
        return False
    if status == 409 and b"BucketAlreadyOwnedByYou" not in body:
        print(f"PUT /{bucket}: {status} {_show(body)}", file=sys.stderr)
        return False
    print(f"created bucket {bucket}", file=sys.stderr)
    status, _, _, _ = request(cfg, "HEAD", "/" + bucket)
    return status == 200


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__, file=sys.stderr)
        return 2
    cfg = settings()
    try:
        if argv[1] == "ping" and len(argv) == 2:
            return 0 if ping(cfg) else 1
        if argv[1] == "ensure-bucket" and len(argv) == 3:
            return 0 if ensure_bucket(cfg, argv[2]) else 1
        method, path, args = argv[1].upper(), argv[2] if len(argv) > 2 else "/", argv[3:]
        body, headers, unsigned, show_headers, expect = b"", [], False, False, None
        while args:
            option = args.pop(0)
            if option == "-d":
                source = args.pop(0)
                body = sys.stdin.buffer.read() if source == "-" else open(source, "rb").read()
            elif option == "-H":
                name, _, value = args.pop(0).partition(":")
                headers.append((name.strip(), value.strip()))
            elif option == "--unsigned-payload":
                unsigned = True
            elif option == "-i":
                show_headers = True
            elif option == "--expect":
                expect = int(args.pop(0))
            else:
                print(f"unknown option {option}", file=sys.stderr)
                return 2
        status, reason, response_headers, response_body = request(
            cfg, method, path, body, headers, unsigned)
    except OSError as error:
        print(f"{cfg['endpoint']}: {error}", file=sys.stderr)
        return 2
    print(f"HTTP {status} {reason}", file=sys.stderr)
    if show_headers:
        for name, value in response_headers:
            print(f"{name}: {value}", file=sys.stderr)
    sys.stdout.buffer.write(response_body)
    sys.stdout.flush()
    if expect is not None:
        return 0 if status == expect else 1
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
