"""A small AWS Lambda Runtime API emulator for the tests (PLATFORM.md: the endpoints of API
version 2018-06-01): GET /2018-06-01/runtime/invocation/next hands out queued events with
the Lambda-Runtime-* headers, POST .../invocation/{id}/response and .../error and
.../runtime/init/error are recorded. One thread per request (the /next long poll blocks)."""
import http.server
import json
import queue
import threading
import time
import uuid

PREFIX = "/2018-06-01/runtime"


class RuntimeApi:
    def __init__(self, port):
        self.port = port
        self.pending = queue.Queue()
        self.answers = {}  # request id -> ("response"|"error", body dict or text, headers)
        self.init_errors = []
        self.first_next_at = None
        self.next_calls = 0
        self.cond = threading.Condition()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path != PREFIX + "/invocation/next":
                    self.send_error(404)
                    return
                with api.cond:
                    api.next_calls += 1
                    if api.first_next_at is None:
                        api.first_next_at = time.monotonic()
                    api.cond.notify_all()
                while True:
                    try:
                        request_id, payload, headers = api.pending.get(timeout=0.2)
                        break
                    except queue.Empty:
                        if getattr(api, "closing", False):
                            return
                body = payload.encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                                 "arn:aws:lambda:eu-west-1:123456789012:function:mxgate")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n).decode()
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if self.path == PREFIX + "/init/error":
                    record = ("init_error", json.loads(body), dict(self.headers))
                    with api.cond:
                        api.init_errors.append(record)
                        api.cond.notify_all()
                    return
                parts = self.path[len(PREFIX + "/invocation/"):].split("/")
                if len(parts) == 2 and parts[1] in ("response", "error"):
                    try:
                        doc = json.loads(body)
                    except ValueError:
                        doc = body
                    with api.cond:
                        api.answers[parts[0]] = (parts[1], doc, dict(self.headers))
                        api.cond.notify_all()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        # A function killed mid-poll resets its connection: expected, not worth a traceback.
        self.server.handle_error = lambda request, client_address: None
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def invoke(self, payload, trace=None, timeout=60):
        """Queues one event and waits for the function's answer: (kind, document, headers)."""
        request_id = str(uuid.uuid4())
        headers = {"Lambda-Runtime-Trace-Id": trace} if trace else {}
        self.pending.put((request_id, payload if isinstance(payload, str) else json.dumps(payload), headers))
        deadline = time.time() + timeout
        with self.cond:
            while request_id not in self.answers:
                left = deadline - time.time()
                if left <= 0:
                    raise TimeoutError("no answer to invocation " + request_id)
                self.cond.wait(left)
            return self.answers[request_id]

    def wait_init_error(self, timeout=30):
        deadline = time.time() + timeout
        with self.cond:
            while not self.init_errors:
                left = deadline - time.time()
                if left <= 0:
                    raise TimeoutError("no init error")
                self.cond.wait(left)
            return self.init_errors[0]

    def wait_next(self, timeout=30):
        deadline = time.time() + timeout
        with self.cond:
            while self.first_next_at is None:
                left = deadline - time.time()
                if left <= 0:
                    raise TimeoutError("the function never asked for an invocation")
                self.cond.wait(left)
            return self.first_next_at

    def close(self):
        self.closing = True
        self.server.shutdown()
        self.server.server_close()
