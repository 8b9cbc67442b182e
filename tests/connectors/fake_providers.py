#!/usr/bin/python3
"""Local stand-ins for the providers' APIs, for tests: Twilio's Messages API (which then
calls the status callback, signed the way Twilio signs), the Meta Graph API (Messenger,
Instagram, WhatsApp Cloud) and the Telegram Bot API. Written independently of the C++
code under test (Python's hmac/hashlib), so a signature bug cannot agree with itself.

Listens on 127.0.0.1:<argv[1]> (0 or absent: any free port; "port N" is printed). Control:
  GET  /_control/requests            every API request so far, as JSON (with the id answered)
  POST /_control/fail                {"prefix": "/2010", "status": 429, "count": 2,
                                      "body": {...}, "retry_after": "1"}
  POST /_control/statuses            {"statuses": [["sent", ""], ["undelivered", "30003"]]}
"""
import base64
import hashlib
import hmac
import json
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
REQUESTS = []
FAILS = []  # dicts: prefix, status, count, body, retry_after
STATUSES = [["sent", ""], ["delivered", ""]]
COUNTER = [0]


def twilio_signature(token, url, params):
    data = url + "".join(k + v for k, v in sorted(params))
    mac = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def send_status_callbacks(url, token, account, sid, to, statuses):
    for status, code in statuses:
        time.sleep(0.05)
        params = [("MessageSid", sid), ("SmsSid", sid), ("AccountSid", account),
                  ("MessageStatus", status), ("SmsStatus", status), ("To", to)]
        if code:
            params.append(("ErrorCode", code))
        body = urllib.parse.urlencode(params).encode()
        req = urllib.request.Request(url, data=body, method="POST")
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
        req.add_header("X-Twilio-Signature", twilio_signature(token, url, params))
        try:
            urllib.request.urlopen(req, timeout=10).read()
        except Exception as e:  # the test sees the missing status
            print("status callback failed:", e, file=sys.stderr, flush=True)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, obj, headers=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/_control/requests":
            with LOCK:
                self.reply(200, REQUESTS)
            return
        self.reply(404, {"error": "unknown"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length).decode("utf-8", "replace")
        if self.path == "/_control/fail":
            with LOCK:
                FAILS.append(json.loads(raw))
            self.reply(200, {})
            return
        if self.path == "/_control/statuses":
            with LOCK:
                STATUSES[:] = json.loads(raw)["statuses"]
            self.reply(200, {})
            return
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("application/x-www-form-urlencoded"):
            body = urllib.parse.parse_qsl(raw, keep_blank_values=True)
        else:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
        record = {"path": self.path, "auth": self.headers.get("Authorization", ""), "body": body}
        with LOCK:
            REQUESTS.append(record)
            COUNTER[0] += 1
            n = COUNTER[0]
            for f in FAILS:
                if f["count"] > 0 and self.path.startswith(f["prefix"]):
                    f["count"] -= 1
                    headers = {"Retry-After": f["retry_after"]} if f.get("retry_after") else {}
                    self.reply(f["status"], f.get("body", {"error": "injected"}), headers)
                    return
            statuses = list(STATUSES)
        if "/Messages.json" in self.path:  # Twilio
            account = self.path.split("/")[3]
            user, _, token = base64.b64decode(
                self.headers.get("Authorization", "Basic ")[6:]).decode().partition(":")
            if user != account:
                self.reply(401, {"code": 20003, "message": "Authenticate"})
                return
            params = dict(body)
            sid = "SM%032x" % n
            record["id"] = sid
            self.reply(201, {"sid": sid, "status": "queued", "to": params.get("To")})
            if params.get("StatusCallback"):
                threading.Thread(target=send_status_callbacks,
                                 args=(params["StatusCallback"], token, account, sid,
                                       params.get("To", ""), statuses), daemon=True).start()
            return
        if self.path.startswith("/bot"):  # Telegram
            record["id"] = n
            self.reply(200, {"ok": True, "result": {"message_id": n, "date": int(time.time())}})
            return
        if self.path.endswith("/messages"):  # Graph API
            if isinstance(body, dict) and body.get("messaging_product") == "whatsapp":
                record["id"] = "wamid.%d" % n
                self.reply(200, {"messaging_product": "whatsapp",
                                 "contacts": [{"input": body.get("to"), "wa_id": body.get("to")}],
                                 "messages": [{"id": "wamid.%d" % n}]})
            else:
                rid = body.get("recipient", {}).get("id") if isinstance(body, dict) else None
                record["id"] = "m_%d" % n
                self.reply(200, {"recipient_id": rid, "message_id": "m_%d" % n})
            return
        self.reply(404, {"error": "unknown path " + self.path})


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("port", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
