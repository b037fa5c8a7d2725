"""Make the loopback capture that the network-analysis chapter analyses.

    sudo .venv/bin/python data/capture.py --out data/captures/loopback_http_tls.pcap

Runs the chapter's own exchange (nexus/traffic.py: an HTTP/1.1 server and a TLS 1.3 server with
a self-signed certificate for nexus.test, on 127.0.0.1) while tcpdump captures it on `lo`, and
writes two files: the pcap, and next to it a JSON file with the client's own record of the same
run (its timings, ports and settings), so the chapter can compare the client's clock with the
packets' clock for one and the same request. Needs root or CAP_NET_RAW, and tcpdump.
"""

import argparse
import sys
import tempfile
from pathlib import Path

from nexus import services, traffic


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="the pcap to write (its folder is created)")
    parser.add_argument("--requests", type=int, default=10, help="requests per keep-alive phase (default 10)")
    args = parser.parse_args()
    ok, why = services.can_capture()
    if not ok or "tcpdump" not in services.capture_tools():
        print(f"cannot capture here: {why}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nexus-capture-") as folder:
        log = traffic.capture_exchange(args.out, folder, args.requests)
    sidecar = args.out.with_suffix(".json")
    traffic.write_log(log, sidecar)
    counts = log["tcpdump"]
    print(f"{args.out}: {counts['captured']} packets, {args.out.stat().st_size:,} bytes "
          f"({counts['dropped']} dropped by the kernel)")
    print(f"{sidecar}: the client's record of the same run")
    return 0 if counts["captured"] and not counts["dropped"] else 1


if __name__ == "__main__":
    sys.exit(main())
