#!/usr/bin/env python3
"""WeCom's server API as the arm64 guest needs it (gettoken, media/upload, message/send), on 127.0.0.1:PORT inside
the guest, where the tests' C# fake (tests/Appliance.Tests/WeCom/FakeWeComServer.cs) cannot run: the guest has no .NET
SDK. Logs one JSON line per call to LOG: the API, the query, and for uploads the size and whether the body holds a
JPEG; for message/send the JSON the appliance sent. Usage: fake-wecom.py PORT LOG"""
import json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

port, log_path = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()
media = [0]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, document):
        body = json.dumps(document).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def record(self, entry):
        with lock, open(log_path, "a") as log:
            log.write(json.dumps(entry) + "\n")

    def do_GET(self):
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.record({"api": url.path, "query": query})
        if url.path == "/cgi-bin/gettoken":
            self.answer({"errcode": 0, "errmsg": "ok", "access_token": "arm64-fake-token", "expires_in": 7200})
        else:
            self.answer({"errcode": 404, "errmsg": "not faked"})

    def do_POST(self):
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if query.get("access_token") != "arm64-fake-token":
            self.record({"api": url.path, "query": query, "refused": True})
            self.answer({"errcode": 40014, "errmsg": "invalid access_token"})
        elif url.path == "/cgi-bin/media/upload":
            with lock:
                media[0] += 1
                media_id = f"media-{media[0]}"
            self.record({"api": url.path, "query": query, "bytes": len(body), "jpeg": b"\xff\xd8\xff" in body, "media_id": media_id})
            self.answer({"errcode": 0, "errmsg": "ok", "type": query.get("type"), "media_id": media_id, "created_at": "1380000000"})
        elif url.path == "/cgi-bin/message/send":
            self.record({"api": url.path, "query": query, "message": json.loads(body or b"{}")})
            self.answer({"errcode": 0, "errmsg": "ok", "msgid": "arm64-msg"})
        else:
            self.record({"api": url.path, "query": query})
            self.answer({"errcode": 404, "errmsg": "not faked"})


ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
