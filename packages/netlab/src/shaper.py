#!/usr/bin/env python3
"""Userspace delay/jitter forwarder of @peerbench/netlab (this kernel has no netem).

Runs inside a namespace spliced into a link: A <-veth-> [a  shaper  b] <-veth-> B.
Every Ethernet frame read on one side (AF_PACKET) is sent out of the other side
after delay_ms +- jitter_ms (uniform, drawn per frame from a seeded RNG), so the
two ends see one Ethernet segment with latency. Node cannot open AF_PACKET
sockets or call ioctl, hence Python (stdlib only).

  shaper.py csum-off IFACE...          turn TX checksum offload off (SIOCETHTOOL)
  shaper.py forward A B DELAY JITTER SEED
      stdin lines "set DELAY JITTER" change the shaping while it runs.

Checksum offload: a veth hands frames on with the checksum not yet computed
(CHECKSUM_PARTIAL); a raw socket copies them as they are, so the far end would
see bad UDP checksums (and a NAT router passes such packets un-NATed). Turning
TX checksum offload off on every veth that sends into the shaper makes the
kernel compute the checksum before the frame is handed on.
"""
import ctypes
import fcntl
import heapq
import random
import select
import socket
import struct
import sys
import time

SIOCETHTOOL = 0x8946
ETHTOOL_STXCSUM = 0x17
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
MAX_FRAME_BYTES = 65536


def csum_off(ifname):
    value = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_STXCSUM, 0))
    ifreq = struct.pack("16sP", ifname.encode(), ctypes.addressof(value))
    ifreq += b"\0" * (40 - len(ifreq))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifreq)
    finally:
        s.close()


def open_raw(ifname):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    s.bind((ifname, 0))
    s.setblocking(False)
    return s


def forward(a, b, delay_ms, jitter_ms, seed):
    rng = random.Random(seed)
    sa, sb = open_raw(a), open_raw(b)
    out = {sa.fileno(): sb, sb.fileno(): sa}
    pending = []  # (due monotonic s, seq, out socket, frame)
    seq = 0
    frames = 0
    stdin = sys.stdin
    inputs = [sa, sb, stdin]
    print("shaper ready %s<->%s delay=%s jitter=%s" % (a, b, delay_ms, jitter_ms), flush=True)
    while True:
        now = time.monotonic()
        timeout = max(0.0, pending[0][0] - now) if pending else 1.0
        readable, _, _ = select.select(inputs, [], [], timeout)
        for r in readable:
            if r is stdin:
                line = stdin.readline()
                if not line:
                    inputs.remove(stdin)
                    continue
                parts = line.split()
                if len(parts) == 3 and parts[0] == "set":
                    delay_ms, jitter_ms = float(parts[1]), float(parts[2])
                    print("shaper set delay=%s jitter=%s" % (delay_ms, jitter_ms), flush=True)
                continue
            target = out[r.fileno()]
            while True:
                try:
                    frame, addr = r.recvfrom(MAX_FRAME_BYTES)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue  # our own sends, seen again on this side
                d = delay_ms + rng.uniform(-jitter_ms, jitter_ms)
                heapq.heappush(pending, (time.monotonic() + max(0.0, d) / 1000.0, seq, target, frame))
                seq += 1
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, _, target, frame = heapq.heappop(pending)
            try:
                target.send(frame)
                frames += 1
            except OSError:
                pass  # the other side is down (an outage): the frame is lost, as on a wire


def main(argv):
    if len(argv) >= 2 and argv[0] == "csum-off":
        for ifname in argv[1:]:
            csum_off(ifname)
        return 0
    if len(argv) == 6 and argv[0] == "forward":
        forward(argv[1], argv[2], float(argv[3]), float(argv[4]), int(argv[5]))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(0)
