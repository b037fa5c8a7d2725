"""Write the booking-platform dataset as CSV files.

    python data/generate.py --users 1000 --out /tmp/nexus-data

The generator lives in nexus/datasets.py; notebooks call it directly. None of this data is
committed: it is rebuilt, byte for byte, from the seed. The only data committed under data/
is the packet capture in data/captures/ (a pcap and the client's JSON record of the same
run), which a program cannot rebuild byte for byte: data/capture.py records it afresh with
tcpdump (root or CAP_NET_RAW) for the network-analysis chapter.
"""

import argparse
from pathlib import Path

from nexus import datasets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=1_000, help="number of users (>= 10); other tables scale")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, required=True, help="output folder (created if missing)")
    args = parser.parse_args()
    for name, path in datasets.write_csvs(args.out, args.users, args.seed).items():
        print(f"{name:<11} {sum(1 for _ in path.open()) - 1:>9} rows  {path}")
    path = datasets.write_users_csv(args.out / "user_data.csv", args.users, args.seed)
    print(f"{'user_data':<11} {args.users:>9} rows  {path}")


if __name__ == "__main__":
    main()
