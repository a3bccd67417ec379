"""Crash test: under load, kill -9 the server several times. After a restart every message
that got 250 is in the store byte-exact and exactly once, and has at least one event
(duplicates allowed, same id)."""
import os
import smtplib
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Gateway, queued_id  # noqa: E402

KILLS = int(os.environ.get("MXGATE_TEST_CRASH_KILLS", "4"))


class CrashTest(unittest.TestCase):
    def test_kill9_loses_nothing_acknowledged(self):
        gw = Gateway(name="crash")
        acked = {}            # id -> bytes
        lock = threading.Lock()
        stop = threading.Event()
        counter = [0]

        def client(n):
            while not stop.is_set():
                try:
                    with smtplib.SMTP("127.0.0.1", gw.ports["smtp"], timeout=5) as c:
                        c.ehlo("crash.test")
                        for _ in range(50):
                            if stop.is_set():
                                break
                            with lock:
                                counter[0] += 1
                                token = "token-%d-%d" % (n, counter[0])
                            size = 200 + (counter[0] * 7919) % 30000
                            body = ("Subject: %s\r\n\r\n" % token) + ("%s line\r\n" % token) * (size // 20)
                            msg = body.encode()
                            c.mail("load@origin.test")
                            c.rcpt("x@example.test")
                            code, resp = c.data(msg)
                            if code == 250:
                                with lock:
                                    acked[queued_id(resp)] = msg
                except (OSError, smtplib.SMTPException):
                    time.sleep(0.05)  # server down: retry

        gw.start()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        try:
            for k in range(KILLS):
                time.sleep(1.5)
                gw.kill9()
                time.sleep(0.2)
                gw.start()
            time.sleep(1.0)
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertGreater(len(acked), 50, "the load did not get going")
        # A clean stop lets the pipeline finish every durable record.
        self.assertEqual(gw.stop(), 0, gw.stderr_text())
        try:
            stored = {}
            for path in gw.raw_paths():
                with open(path, "rb") as f:
                    stored[os.path.basename(path)[:-4]] = f.read()
            missing = [i for i in acked if i not in stored]
            self.assertEqual(missing, [], "acknowledged but not stored")
            for mid, msg in acked.items():
                self.assertEqual(stored[mid], msg, "stored bytes differ for " + mid)
            # Exactly once: no acknowledged message body is stored under a second id.
            by_body = {}
            for mid, data in stored.items():
                by_body.setdefault(data, []).append(mid)
            dupes = [ids for data, ids in by_body.items() if len(ids) > 1 and data in acked.values()]
            self.assertEqual(dupes, [], "a message stored twice")
            event_ids = {e["id"] for e in gw.events()}
            self.assertEqual([i for i in acked if i not in event_ids], [], "acknowledged without an event")
            print("crash test: %d acknowledged, %d stored, %d kills, %d event lines"
                  % (len(acked), len(stored), KILLS, len(gw.events())))
        finally:
            gw.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
