"""RTMP protocol control per hop, checked on the wire at both ends: a Python
client talks to the proxy, and the proxy talks to a scripted Python origin.
The origin must see the client's connect properties and exact publish name,
its own message stream id on media, Acks for its window, answers to its
pings, a large chunk size and deleteStream naming its stream; the client must
see its own stream id and none of the origin's control messages."""
import os
import socket
import struct
import threading

from harness import main, wait_for
from rtmp_client import Client, amf_decode_all, amf_encode, chunk, command
from rtmp_fixture import RtmpTestCase

ORIGIN_STREAM_ID = 7


def user_control(event, value):
    return chunk(2, 4, 0, struct.pack(">HI", event, value))


class ScriptedOrigin(threading.Thread):
    """Accepts one connection and plays an RTMP server's part, recording
    every message it receives as (type, stream id, payload)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.messages, self.commands, self.error = [], [], None
        self.done = threading.Event()

    def run(self):
        try:
            self.serve()
        except Exception as e:  # recorded for the test's failure message
            self.error = e
        finally:
            self.done.set()

    def serve(self):
        sock, _ = self.listener.accept()
        self.listener.close()
        with sock:
            self.converse(sock)

    def converse(self, sock):
        c = Client.over(sock)
        c1 = c.read_exact(1537)[1:]
        sock.sendall(b"\x03" + struct.pack(">II", 0, 0) + os.urandom(1528) + c1)  # simple: S2 echoes C1
        c.read_exact(1536)
        send = sock.sendall
        while True:
            try:
                t, sid, payload = c.read_message()
            except EOFError:
                return
            self.messages.append((t, sid, payload))
            if t != 20:
                continue
            cmd = amf_decode_all(payload)
            self.commands.append(cmd)
            if cmd[0] == "connect":
                send(chunk(2, 5, 0, struct.pack(">I", 1000)))  # ack every 1000 bytes, please
                send(chunk(2, 1, 0, struct.pack(">I", 8192)))  # our own chunk size: not for the client
                c_out = 8192
                props = {"fmsVer": "scripted", "capabilities": 31}
                info = {"level": "status", "code": "NetConnection.Connect.Success", "description": "ok"}
                send(chunk(3, 20, 0, amf_encode("_result") + amf_encode(cmd[1]) + amf_encode(props) +
                           amf_encode(info), chunk_size=c_out))
            elif cmd[0] == "createStream":
                send(chunk(3, 20, 0, amf_encode("_result") + amf_encode(cmd[1]) + amf_encode(None) +
                           amf_encode(ORIGIN_STREAM_ID), chunk_size=c_out))
            elif cmd[0] == "publish":
                send(user_control(0, ORIGIN_STREAM_ID))  # StreamBegin
                info = {"level": "status", "code": "NetStream.Publish.Start", "description": "go"}
                send(chunk(5, 20, ORIGIN_STREAM_ID, amf_encode("onStatus") + amf_encode(0) + amf_encode(None) +
                           amf_encode(info), chunk_size=c_out))
                send(user_control(6, 12345))  # ping request
                # A data message bigger than 128 bytes, chunked at our 8192.
                send(chunk(5, 18, ORIGIN_STREAM_ID, amf_encode("onOriginNote") + amf_encode("x" * 3000),
                           chunk_size=c_out))


class RtmpHops(RtmpTestCase):
    def test_control_stays_per_hop_and_stream_ids_are_mapped(self):
        p = self.rtmp_proxy(workers=1)
        origin = ScriptedOrigin()
        origin.start()
        status, body = p.register({"ip": "127.0.0.1", "server": "scripted", "service": "x", "pid": "1",
                                   "rtmp": [str(origin.port)]})
        self.assertEqual(status, 200, body)

        c = Client(self.rtmp_port)
        c.handshake()
        tc_url = self.url("live")
        c.send(command("connect", 1, {"app": "live", "tcUrl": tc_url, "flashVer": "FMLE/3.0 test",
                                      "swfUrl": "http://example.com/p.swf", "pageUrl": "http://example.com/page",
                                      "objectEncoding": 0}))
        c.wait_command(lambda v: v[0] == "_result" and v[1] == 1)
        self.assertEqual(c.create_stream(), 1)
        c.publish("hop?k=v", stream_id=1)
        info = c.wait_status()
        self.assertEqual(info["code"], "NetStream.Publish.Start")
        status_msgs = [m for m in c.messages if m[0] == 20 and amf_decode_all(m[2])[0] == "onStatus"]
        self.assertEqual(status_msgs[-1][1], 1, "onStatus on the client's stream id")
        # Media and data from the client, with payload bytes that must arrive untouched.
        frames = [os.urandom(2500 + i) for i in range(6)]
        for i, f in enumerate(frames):
            c.send(chunk(6, 9, 1, f, timestamp=40 * i))
        c.send(chunk(4, 18, 1, amf_encode("@setDataFrame") + amf_encode("onMetaData")))
        c.send(command("deleteStream", 4, None, 1))
        # The client hears StreamBegin for its own id and the origin's data note.
        got = wait_for(lambda: c.read_message() and any(m[0] == 18 for m in c.messages), timeout=10,
                       what="the origin's data message at the client")
        self.assertTrue(got)
        uc = [struct.unpack(">HI", m[2][:6]) for m in c.messages if m[0] == 4]
        self.assertIn((0, 1), uc, "StreamBegin names the client's stream id")
        self.assertNotIn(6, [e for e, _ in uc], "the origin's ping is answered by the proxy, not forwarded")
        chunk_sizes = [struct.unpack(">I", m[2])[0] for m in c.messages if m[0] == 1]
        # The proxy announces its own chunk size once and keeps it (a change
        # in mid-stream trips nginx-rtmp); the origin's is never forwarded.
        self.assertEqual(chunk_sizes, [4096], "only the proxy's own chunk size reaches the client")
        self.assertTrue(all(m[1] in (0, 1) for m in c.messages))
        c.close()

        origin.done.wait(10)
        self.assertIsNone(origin.error)
        om = origin.messages
        connect = next(cmd for cmd in origin.commands if cmd[0] == "connect")
        for key, value in (("tcUrl", tc_url), ("app", "live"), ("flashVer", "FMLE/3.0 test"),
                           ("swfUrl", "http://example.com/p.swf"), ("pageUrl", "http://example.com/page")):
            self.assertEqual(connect[2].get(key), value, key)
        publish = next(cmd for cmd in origin.commands if cmd[0] == "publish")
        self.assertEqual(publish[3:5], ["hop?k=v", "live"])
        videos = [m for m in om if m[0] == 9]
        self.assertEqual([m[2] for m in videos], frames)
        self.assertTrue(all(m[1] == ORIGIN_STREAM_ID for m in videos))
        self.assertTrue(any(m[0] == 18 and m[1] == ORIGIN_STREAM_ID for m in om))
        self.assertTrue(any(m[0] == 3 for m in om), "the proxy acknowledges the origin's window")
        self.assertIn((7, 12345), [struct.unpack(">HI", m[2][:6]) for m in om if m[0] == 4])
        # One Set Chunk Size toward the origin, the proxy's own, before any media.
        self.assertEqual([struct.unpack(">I", m[2])[0] for m in om if m[0] == 1], [4096])
        self.assertLess(next(i for i, m in enumerate(om) if m[0] == 1), next(i for i, m in enumerate(om) if m[0] == 9))
        delete = next(cmd for cmd in origin.commands if cmd[0] == "deleteStream")
        self.assertEqual(delete[3], ORIGIN_STREAM_ID)
        p.wait_log("reason=client connection closed")


if __name__ == "__main__":
    main()
