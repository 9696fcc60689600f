"""The lab mirror's file server: one directory over HTTPS (the Kubernetes package repository, as a company's mirror of
pkgs.k8s.io serves it with a certificate of the company's CA) and over plain HTTP (the Debian packages, as Debian
mirrors serve them: apt trusts a signed Release, not the transport).

    python3 mirror_server.py --bind ADDRESS --https-port 8443 --http-port 8081 --directory DIR --cert FILE --key FILE
"""

from __future__ import annotations

import argparse
import functools
import http.server
import ssl
import sys
import threading


class Handler(http.server.SimpleHTTPRequestHandler):
    """Files only (no directory listings), one log line per request on stderr."""

    def list_directory(self, path):  # noqa: D401 - the base class's name
        self.send_error(404, "no listing")
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--bind", required=True)
    parser.add_argument("--https-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--directory", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args(argv)
    handler = functools.partial(Handler, directory=args.directory)
    secure = http.server.ThreadingHTTPServer((args.bind, args.https_port), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(args.cert, args.key)
    secure.socket = context.wrap_socket(secure.socket, server_side=True)
    plain = http.server.ThreadingHTTPServer((args.bind, args.http_port), handler)
    threading.Thread(target=plain.serve_forever, daemon=True).start()
    print(f"serving {args.directory} on https://{args.bind}:{args.https_port}/ and http://{args.bind}:{args.http_port}/",
          file=sys.stderr, flush=True)
    secure.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
