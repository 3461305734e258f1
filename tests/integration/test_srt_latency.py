"""SRT through the proxy adds no latency of its own (issue 21): stamped
packets (srt_stamped.py) go through srt-live-transmit peers straight to an
SRT origin and then through srs-proxy, and the end receiver's one-way delay
is compared. The proxy receives with TSBPD off and carries each packet's
source time on, so the only latency window left is the end receiver's: the
difference must stay within 10 ms, publishing at the default and at a 500 ms
latency and playing. With 5 % of the packets lost between the publisher and
the proxy, retransmission still delivers every packet, in order, and on time
(the end receiver's delays stay flat)."""
import subprocess

from harness import ProxyTestCase, free_port, main, require, wait_for
from srt_stamped import LossyRelay, Receiver, Sender, median, percentile
from test_srt import udp_bound

RATE = 200  # packets a second (2.1 Mbit/s)
SECONDS = 3
ADDED_MS = 10.0


class SrtLatencyTest(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        require("srt-live-transmit")

    def spawn(self, cmd):
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

        def stop():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.addCleanup(stop)
        return proc

    def srt_proxy(self, latency):
        port = free_port()
        p = self.proxy(body="srt { listen 127.0.0.1:%d; latency %dms; peer_latency %dms; }"
                       % (port, latency, latency))
        p.wait_log("srt listening on 127.0.0.1:%d" % port)
        return p, port

    def register(self, p, port):
        status, body = p.register({"ip": "127.0.0.1", "server": "srt-origin", "service": "s", "pid": "1",
                                   "rtmp": ["1935"], "srt": ["udp://0.0.0.0:%d" % port]})
        self.assertEqual(status, 200, body)

    def run_stream(self, send_port, receiver, proc, count=RATE * SECONDS, latency=120):
        """Warms the chain up, sends `count` stamped packets, waits for them;
        stops `proc` (the caller) afterwards. Returns the receiver."""
        sender = Sender(send_port)
        try:
            sender.warm_up(receiver)
            sender.send(count, RATE)
            if not sender.keep_live(lambda: len(receiver.seqs) >= count, RATE, 2 + latency / 1000):
                missing = sorted(set(range(count)) - set(receiver.seqs))
                raise AssertionError("%d of %d stamped packets missing at the end receiver: %s"
                                     % (len(missing), count, missing[:20]))
        finally:
            sender.close()
            proc.terminate()
            proc.wait()
            receiver.close()
        return receiver

    def origin_listener(self, latency, out_port):
        port = free_port()
        self.spawn(["srt-live-transmit", "-q", "-a", "yes", "srt://127.0.0.1:%d?mode=listener&latency=%d"
                    % (port, latency), "udp://127.0.0.1:%d" % out_port])
        wait_for(lambda: udp_bound(port), what="origin listener")
        return port

    def publish_delays(self, latency, target_port, out_port, streamid):
        receiver = Receiver(out_port)
        caller_in = free_port()
        caller = self.spawn(["srt-live-transmit", "-q", "-a", "no", "udp://127.0.0.1:%d" % caller_in,
                             "srt://127.0.0.1:%d?streamid=%s&latency=%d" % (target_port, streamid, latency)])
        wait_for(lambda: udp_bound(caller_in), what="publishing caller")
        return self.run_stream(caller_in, receiver, caller, latency=latency)

    def check_publish_adds_at_most_10ms(self, latency):
        p, port = self.srt_proxy(latency)
        out = free_port()
        origin = self.origin_listener(latency, out)
        self.register(p, origin)
        direct = self.publish_delays(latency, origin, out, "live/direct")
        proxied = self.publish_delays(latency, port, out, "#!::r=live/lat,m=publish")
        self.assert_added_within(direct, proxied, latency, "publish")
        self.assertIn("caller's stream delivered as received", p.log())

    def assert_added_within(self, direct, proxied, latency, what):
        for r in (direct, proxied):
            self.assertEqual(r.seqs, sorted(r.seqs), "%s: packets out of order" % what)
        added = median(proxied.delays_ms) - median(direct.delays_ms)
        summary = ("%s at %d ms latency: direct median %.1f ms, proxied median %.1f p95 %.1f ms, added %.1f ms"
                   % (what, latency, median(direct.delays_ms), median(proxied.delays_ms),
                      percentile(proxied.delays_ms, 0.95), added))
        print(summary)
        # The end receiver's own window is there either way.
        self.assertGreater(median(direct.delays_ms), latency * 0.9, summary)
        self.assertLessEqual(added, ADDED_MS, summary)

    def test_publishing_through_the_proxy_adds_at_most_10ms_at_the_default_latency(self):
        self.check_publish_adds_at_most_10ms(120)

    def test_publishing_through_the_proxy_adds_at_most_10ms_at_500ms_latency(self):
        self.check_publish_adds_at_most_10ms(500)

    def test_playing_through_the_proxy_adds_at_most_10ms(self):
        latency = 120
        p, port = self.srt_proxy(latency)
        feed, origin = free_port(), free_port()
        # The origin serves what it gets on `feed` to the player that calls it.
        self.spawn(["srt-live-transmit", "-q", "-a", "yes", "udp://127.0.0.1:%d" % feed,
                    "srt://127.0.0.1:%d?mode=listener&latency=%d" % (origin, latency)])
        wait_for(lambda: udp_bound(origin) and udp_bound(feed), what="serving origin")
        self.register(p, origin)
        results = []
        for target, streamid in ((origin, "live/direct"), (port, "#!::r=live/play,m=request")):
            out = free_port()
            receiver = Receiver(out)
            player = self.spawn(["srt-live-transmit", "-q", "-a", "no",
                                 "srt://127.0.0.1:%d?streamid=%s&latency=%d" % (target, streamid, latency),
                                 "udp://127.0.0.1:%d" % out])
            results.append(self.run_stream(feed, receiver, player, latency=latency))
        self.assert_added_within(results[0], results[1], latency, "play")
        self.assertIn("origin's stream delivered as received", p.log())

    def test_loss_on_the_callers_hop_is_recovered_and_the_timing_kept(self):
        latency = 120
        p, port = self.srt_proxy(latency)
        out = free_port()
        origin = self.origin_listener(latency, out)
        self.register(p, origin)
        relay = LossyRelay(port, 0.05)
        self.addCleanup(relay.close)
        count = RATE * SECONDS
        r = self.publish_delays(latency, relay.port, out, "#!::r=live/lossy,m=publish")
        # Every stamped packet, in order, none twice.
        self.assertEqual(r.seqs, list(range(count)))
        self.assertGreater(relay.dropped["to_proxy"], count * 0.02, relay.dropped)
        # Retransmitted packets were played at their time, not late.
        delay = dict(zip(r.seqs, r.delays_ms))
        resent = [delay[s] for s in relay.dropped_seqs]
        print("loss %s: delay median %.1f p90 %.1f p99 %.1f max %.1f ms; retransmitted median %.1f max %.1f ms"
              % (relay.dropped, median(r.delays_ms), percentile(r.delays_ms, 0.9), percentile(r.delays_ms, 0.99),
                 max(r.delays_ms), median(resent), max(resent)))
        self.assertLess(median(resent) - median(r.delays_ms), 5.0)
        p.wait_log("srt session end")
        end = next(l for l in p.log().splitlines() if "srt session end" in l)
        self.assertRegex(end, r"client \[lost [1-9]\d*")


if __name__ == "__main__":
    main()
