#!/usr/bin/env python3
"""Proof that an integrator in another language can use omniroute's wire contract.

Starts `omniroute up` on the embedded broker, then, in Python only:
  - posts a message to the webhook connector, signed with HMAC-SHA256 (hmac module),
  - runs an agent desk over ZeroMQ (pyzmq) with classes protoc generated from schemas/,
  - receives the signed reply callback on a local HTTP server and checks the signature,
  - reads the decision trail from omni.routing with confluent-kafka,
  - lists the topics with kcat.
Usage: interop_test.py OMNIROUTE_BINARY GENERATED_PYTHON_DIR
"""
import hashlib
import hmac
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, sys.argv[2])
import zmq  # noqa: E402
from confluent_kafka import Consumer, TopicPartition  # noqa: E402
from omniroute.v1 import agent_pb2, events_pb2, routing_pb2  # noqa: E402

SECRET = b"py-secret"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sign(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()


received = []


class Callback(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ok = hmac.compare_digest(self.headers.get("X-Omniroute-Signature", ""), sign(body))
        if ok:
            received.append(json.loads(body))
        self.send_response(200 if ok else 401)
        self.end_headers()

    def log_message(self, *args):
        pass


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def main():
    binary = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="omniroute-py-")
    web_port, agent_port = free_port(), free_port()
    cb = http.server.HTTPServer(("127.0.0.1", 0), Callback)
    threading.Thread(target=cb.serve_forever, daemon=True).start()
    cfg = os.path.join(tmp, "omniroute.yaml")
    # CURVE as any integrator would do it: pyzmq makes the desk's key pair; the router is
    # given the public key; the desk needs the router's public key (state.dir/router.pub).
    desk_public, desk_secret = zmq.curve_keypair()
    with open(cfg, "w") as f:
        f.write(f"""log_level: warn
kafka: {{brokers: embedded, partitions: 3}}
state: {{dir: "{tmp}/state"}}
router: {{agent_endpoint: "tcp://127.0.0.1:{agent_port}", heartbeat_interval_ms: 200, heartbeat_timeout_ms: 1000}}
connectors:
  webhook: {{listen: "127.0.0.1:{web_port}"}}
workspaces:
  - id: acme
    queues: [{{id: general}}]
    inboxes:
      - id: api
        channel: webhook
        queue: general
        settings: {{secret: "{SECRET.decode()}", callback_url: "http://127.0.0.1:{cb.server_port}/cb"}}
    agents:
      - {{id: pyagent, name: Py Agent, capacity: {{webhook: 2}}, curve_public_key: "{desk_public.decode()}"}}
""")
    up = subprocess.Popen([binary, "up", "--config", cfg], stdout=subprocess.PIPE, text=True)
    try:
        bootstrap = None
        deadline = time.time() + 30
        while time.time() < deadline:
            line = up.stdout.readline()
            if not line:
                fail("omniroute up exited early")
            if line.strip().startswith("kafka:"):
                bootstrap = line.split()[1]
            if line.strip().startswith("webhook:"):
                break
        if not bootstrap:
            fail("no kafka bootstrap printed")

        # --- the desk (pyzmq + generated protobuf classes)
        with open(os.path.join(tmp, "state", "router.pub"), "rb") as k:
            server_public = k.read().strip()
        ctx = zmq.Context()
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.curve_serverkey = server_public
        sock.curve_publickey = desk_public
        sock.curve_secretkey = desk_secret
        sock.connect(f"tcp://127.0.0.1:{agent_port}")

        def send(frame):
            sock.send(frame.SerializeToString())

        hello = agent_pb2.AgentFrame()
        hello.hello.protocol_version = 1
        hello.hello.workspace_id = "acme"
        hello.hello.agent_id = "pyagent"
        hello.hello.desk = "python-interop"
        send(hello)

        posted = False
        outbound_id = None
        sent_seen = False
        conversation = None
        last_hb = 0.0
        deadline = time.time() + 60
        while time.time() < deadline and not (sent_seen and received):
            if time.time() - last_hb > 0.2:
                hb = agent_pb2.AgentFrame()
                hb.heartbeat.SetInParent()
                send(hb)
                last_hb = time.time()
            if sock.poll(100):
                f = agent_pb2.AgentFrame()
                f.ParseFromString(sock.recv())
                kind = f.WhichOneof("kind")
                if kind == "welcome" and not posted:
                    msg = events_pb2.InboundMessage(external_message_id="py-1", customer_handle="py@example.com",
                                                    customer_display_name="Py Customer", text_body="Hola desde Python")
                    from google.protobuf import json_format
                    body = json_format.MessageToJson(msg).encode()
                    req = urllib.request.Request(f"http://127.0.0.1:{web_port}/v1/webhook/acme/api/messages", data=body,
                                                 headers={"Content-Type": "application/json",
                                                          "X-Omniroute-Signature": sign(body)})
                    with urllib.request.urlopen(req, timeout=20) as r:
                        if r.status != 202:
                            fail(f"webhook answered {r.status}")
                    posted = True
                    # A tampered signature gets 403 and publishes nothing.
                    bad = urllib.request.Request(req.full_url, data=body + b" ",
                                                 headers={"X-Omniroute-Signature": sign(body)})
                    try:
                        urllib.request.urlopen(bad, timeout=20)
                        fail("tampered body was accepted")
                    except urllib.error.HTTPError as e:
                        if e.code != 403:
                            fail(f"tampered body got {e.code}, want 403")
                elif kind == "offer":
                    acc = agent_pb2.AgentFrame()
                    acc.accept.offer_id = f.offer.offer_id
                    send(acc)
                elif kind == "assignment":
                    conversation = f.assignment.conversation.conversation_id
                    if f.assignment.history[0].text_body != "Hola desde Python":
                        fail("history does not hold the customer's message")
                    rep = agent_pb2.AgentFrame()
                    rep.reply.conversation_id = conversation
                    rep.reply.reply_id = str(uuid.uuid4())
                    rep.reply.text_body = "Hola, soy un agente en Python"
                    send(rep)
                elif kind == "reply_ack":
                    outbound_id = f.reply_ack.outbound_id
                elif kind == "delivery_update":
                    if f.delivery_update.state == events_pb2.DeliveryStatus.STATE_SENT:
                        sent_seen = True
        if not received or received[0]["text_body"] != "Hola, soy un agente en Python":
            fail(f"callback did not receive the reply: {received}")
        if received[0]["outbound_id"] != outbound_id:
            fail("callback outbound_id differs from the ReplyAck")
        if not sent_seen:
            fail("no STATE_SENT delivery update reached the desk")

        # --- the decision trail over Kafka (confluent-kafka)
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": "py-interop", "enable.auto.commit": False})
        c.assign([TopicPartition("omni.routing", p, 0) for p in range(3)])
        kinds = set()
        end = time.time() + 10
        want = {"KIND_OPENED", "KIND_CLASSIFIED", "KIND_QUEUED", "KIND_OFFERED", "KIND_ACCEPTED",
                "KIND_REPLIED", "KIND_DELIVERY"}
        while time.time() < end and not want <= kinds:
            m = c.poll(0.2)
            if m is None or m.error():
                continue
            e = routing_pb2.RoutingEvent()
            e.ParseFromString(m.value())
            if e.conversation_id == conversation:
                kinds.add(routing_pb2.RoutingEvent.Kind.Name(e.kind))
        c.close()
        if not want <= kinds:
            fail(f"routing events seen {sorted(kinds)}, want {sorted(want)}")

        # --- kcat joins the embedded cluster like any Kafka client
        if shutil.which("kcat"):
            out = subprocess.run(["kcat", "-b", bootstrap, "-L"], capture_output=True, text=True, timeout=20).stdout
            if "omni.inbound" not in out:
                fail("kcat does not list omni.inbound")
        print("1 passed, 0 failed")
    finally:
        up.terminate()
        try:
            up.wait(timeout=20)
        except subprocess.TimeoutExpired:
            up.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
