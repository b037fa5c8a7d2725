"""Loopback traffic for the network-analysis chapter: two servers, one client exchange, a capture.

The chapter (Part 04, *Network traffic analysis*) and ``data/capture.py`` run the same code, so
the committed capture and a fresh live one have the same shape: the same connections in the same
order (ports, sequence numbers and timings differ). What is *in* the packets is analysed in the
notebook itself; this module only makes traffic and records it.

    servers = start_servers(folder)          # HTTP/1.1 and TLS 1.3 (self-signed, SNI nexus.test)
    with tcpdump(pcap, ports=servers.ports):  # live capture on lo (root or CAP_NET_RAW)
        log = run_exchange(servers, n_requests=10)
    servers.close()

The exchange, in this order:
1. one GET /slow on a fresh connection, timed by the client (connect, first byte, transfer);
2. ``n_requests`` GET /close/<i>, each on its own connection (no keep-alive);
3. ``n_requests`` GET /keepalive/<i> on one reused connection (HTTP/1.1 keep-alive);
4. one GET /tls/<marker> over TLS to the SNI name nexus.test.
"""

from __future__ import annotations

import datetime as _dt
import http.client
import http.server
import json
import signal
import socket
import ssl
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

SNI = "nexus.test"
TLS_MARKER = "quarterly-report-7f3a"  # the request path over TLS; must not appear in the encrypted bytes

# The simulated server work on /slow (labelled as simulated wherever it is shown).
DEFAULTS = {"think_ms": 30.0, "chunks": 3, "chunk_bytes": 1000, "chunk_ms": 10.0}


# -- a self-signed certificate, made at run time ------------------------------------------
def make_certificate(folder: Path | str, hostname: str = SNI) -> tuple[Path, Path]:
    """Write a throwaway self-signed certificate for ``hostname`` (P-256 key, valid one day).

    Returns (certfile, keyfile). The key is development-only and never leaves ``folder``.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = Path(folder)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = _dt.datetime.now(_dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(now + _dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = folder / "server-cert.pem", folder / "server-key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    keyfile.chmod(0o600)
    return certfile, keyfile


# -- the servers ------------------------------------------------------------------------
class Handler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive. /slow simulates work: a pause, then the body in timed chunks."""

    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # Each write becomes its own segment, so the chunks of /slow are visible in the capture.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.requests_here = 0
        self.server.accepted.append(self.client_address[1])

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.finished.append(self.client_address[1])

    def do_GET(self):  # noqa: N802 (the stdlib's naming)
        self.requests_here += 1
        self.server.requests.append(self.path)
        limit = self.server.max_requests
        closing = limit is not None and self.requests_here >= limit
        if self.path == "/slow":
            cfg = self.server.config
            time.sleep(cfg["think_ms"] / 1000)  # simulated server work before the first byte
            body_size = cfg["chunks"] * cfg["chunk_bytes"]
            self._head(body_size, closing)
            for i in range(cfg["chunks"]):
                if i:
                    time.sleep(cfg["chunk_ms"] / 1000)  # simulated: the body is produced piecemeal
                self.wfile.write(bytes([ord("a") + i]) * cfg["chunk_bytes"])
        else:
            body = f"ok {self.path}\n".encode()
            self._head(len(body), closing)
            self.wfile.write(body)
        if closing:
            self.close_connection = True

    def _head(self, length: int, closing: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(length))
        if closing:
            self.send_header("Connection", "close")
        self.end_headers()  # the status line and headers go out in one write

    def version_string(self):
        return "nexus-demo/1.0"  # a fixed Server header, so the stored outputs stay stable

    def log_message(self, *args):  # keep the kernel's output clean
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = True  # server_close() waits for open connections to finish

    def __init__(self, config: dict, max_requests: int | None, tls: ssl.SSLContext | None = None):
        super().__init__(("127.0.0.1", 0), Handler)
        self.config, self.max_requests, self.tls = config, max_requests, tls
        self.accepted: list[int] = []  # the client port of every accepted connection
        self.requests: list[str] = []
        self.finished: list[int] = []  # connections whose handler is done (socket closed next)

    def get_request(self):
        sock, addr = super().get_request()
        if self.tls is not None:  # handshake in the handler's thread, not in the accept loop
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def finish_request(self, request, client_address):
        if isinstance(request, ssl.SSLSocket):
            request.do_handshake()
        super().finish_request(request, client_address)

    def shutdown_request(self, request):
        if isinstance(request, ssl.SSLSocket):  # answer the client's close_notify with ours
            try:
                request = request.unwrap()
            except (ssl.SSLError, OSError):
                pass
        super().shutdown_request(request)


@dataclass
class Servers:
    """The running HTTP and TLS servers; ``close()`` stops both and waits for their threads."""

    http: _Server
    tls: _Server
    cafile: Path
    config: dict
    _threads: list = field(default_factory=list)

    @property
    def http_port(self) -> int:
        return self.http.server_address[1]

    @property
    def tls_port(self) -> int:
        return self.tls.server_address[1]

    @property
    def ports(self) -> tuple[int, int]:
        return self.http_port, self.tls_port

    def client_context(self, alpn=("http/1.1",)) -> ssl.SSLContext:
        """A client context that trusts exactly this run's self-signed certificate."""
        ctx = ssl.create_default_context(cafile=str(self.cafile))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        if alpn:
            ctx.set_alpn_protocols(list(alpn))
        return ctx

    def close(self) -> None:
        for server in (self.http, self.tls):
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)


def start_servers(folder: Path | str, *, max_requests: int | None = None, **config) -> Servers:
    """Start the HTTP/1.1 server and the TLS 1.3 server on 127.0.0.1 (free ports), in threads.

    ``max_requests`` makes the server close a connection after that many requests (as nginx's
    ``keepalive_requests`` does). ``config`` overrides DEFAULTS for /slow.
    """
    cfg = {**DEFAULTS, **config}
    certfile, keyfile = make_certificate(folder)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.minimum_version = ssl.TLSVersion.TLSv1_3
    tls.load_cert_chain(certfile, keyfile)
    tls.set_alpn_protocols(["http/1.1"])
    servers = Servers(_Server(cfg, max_requests), _Server(cfg, max_requests, tls), certfile, cfg)
    for server in (servers.http, servers.tls):
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        servers._threads.append(thread)
    return servers


# -- the client ---------------------------------------------------------------------------
def timed_get(port: int, path: str, *, tls: ssl.SSLContext | None = None,
              server_hostname: str | None = None) -> dict:
    """One GET on a fresh connection, by hand, with the client's own clock at each step.

    Returns perf_counter marks: ``start`` (before connect), ``connected`` (connect returned),
    ``secured`` (TLS handshake done; = connected without TLS), ``sent`` (request written),
    ``first_byte`` (first recv returned), ``done`` (last body byte), plus the status line,
    the response body length and the client's port. Like curl's ``-w`` timings.
    """
    marks = {"start": time.perf_counter()}
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    marks["connected"] = time.perf_counter()
    local_port = sock.getsockname()[1]
    if tls is not None:
        sock = tls.wrap_socket(sock, server_hostname=server_hostname)
    marks["secured"] = time.perf_counter()
    host = server_hostname or f"127.0.0.1:{port}"
    # No `Connection: close`: the server keeps the connection open, so the client closes first
    # and the teardown always has the same order.
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: nexus-client\r\n\r\n".encode())
    marks["sent"] = time.perf_counter()
    data = b""
    while True:
        chunk = sock.recv(65536)
        if "first_byte" not in marks:
            marks["first_byte"] = time.perf_counter()
        if not chunk:
            break
        data += chunk
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))
            if len(body) >= length:
                break
    marks["done"] = time.perf_counter()
    if tls is not None:
        # close_notify both ways before closing; without it the server's own closing record
        # reached a closed socket and the kernel answered with a reset (RST).
        try:
            sock = sock.unwrap()
        except (ssl.SSLError, OSError):
            pass
    sock.close()
    start = marks["start"]
    return {"marks_s": {k: v - start for k, v in marks.items()}, "status": data.split(b"\r\n")[0].decode(),
            "body_bytes": len(data.partition(b"\r\n\r\n")[2]), "client_port": local_port}


def requests_without_keepalive(port: int, n: int, prefix: str = "/close") -> list[int]:
    """``n`` GETs, each on a new connection that is closed afterwards. Returns the client ports."""
    ports = []
    for i in range(n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", f"{prefix}/{i}")
        ports.append(conn.sock.getsockname()[1])
        conn.getresponse().read()
        conn.close()
    return ports


def requests_with_keepalive(port: int, n: int, prefix: str = "/keepalive") -> list[int]:
    """``n`` GETs on one reused HTTP/1.1 connection (http.client reopens it only if the server
    closed it). Returns the client port each request used."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    ports = []
    for i in range(n):
        conn.request("GET", f"{prefix}/{i}")  # (re)connects if there is no open connection
        ports.append(conn.sock.getsockname()[1])
        conn.getresponse().read()  # after a `Connection: close` response, http.client drops the socket
    conn.close()
    return ports


def run_exchange(servers: Servers, n_requests: int = 10) -> dict:
    """The chapter's exchange (see the module docstring). Returns the client's own record of it."""
    slow = timed_get(servers.http_port, "/slow")
    close_ports = requests_without_keepalive(servers.http_port, n_requests)
    keep_ports = requests_with_keepalive(servers.http_port, n_requests)
    tls = timed_get(servers.tls_port, f"/tls/{TLS_MARKER}", tls=servers.client_context(), server_hostname=SNI)
    wait_until_closed(servers)
    return {"n_requests": n_requests, "config": dict(servers.config), "sni": SNI, "tls_marker": TLS_MARKER,
            "http_port": servers.http_port, "tls_port": servers.tls_port,
            "slow": slow, "close_ports": close_ports, "keepalive_ports": keep_ports, "tls": tls}


def wait_until_closed(servers: Servers, timeout: float = 5.0) -> None:
    """Wait until the servers have finished every connection, so every FIN is on the wire."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(len(s.finished) == len(s.accepted) for s in (servers.http, servers.tls)):
            time.sleep(0.02)  # finish() returned; the close (and its FIN) follows at once
            return
        time.sleep(0.01)


# -- live capture -----------------------------------------------------------------------------
@contextmanager
def tcpdump(pcap: Path | str, ports, *, interface: str = "lo", ready_timeout: float = 10.0):
    """Capture TCP traffic to/from ``ports`` on ``interface`` into ``pcap`` while the block runs.

    tcpdump starts first and the block runs only once it reports "listening"; at the end it
    gets SIGINT (it then flushes and prints its counters). Yields a dict that holds, after the
    block, tcpdump's own ``captured``/``dropped`` counts. Needs root or CAP_NET_RAW.
    """
    bpf = "tcp and (" + " or ".join(f"port {int(p)}" for p in ports) + ")"
    # --immediate-mode: hand each packet over at once. Without it (TPACKET_V3 buffers packets in
    # blocks), a SIGINT soon after the traffic discarded everything: "0 packets captured".
    # -U: write each packet to the file as it arrives. -Z root: keep the rights to write into a
    # private temp dir (Debian's tcpdump otherwise switches to the `tcpdump` user).
    args = ["tcpdump", "-i", interface, "--immediate-mode", "-U", "-n", "-Z", "root", "-w", str(pcap), bpf]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stats: dict = {"command": " ".join(args[:-1] + [repr(bpf)])}
    lines: list[str] = []
    try:
        deadline = time.monotonic() + ready_timeout
        while True:  # stderr line by line until tcpdump says it is listening
            line = proc.stderr.readline()
            lines.append(line)
            if "listening on" in line:
                break
            if not line and proc.poll() is not None:
                raise RuntimeError(f"tcpdump exited with {proc.returncode}: {''.join(lines).strip()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"tcpdump did not start listening within {ready_timeout:g} s")
        yield stats
        time.sleep(0.2)  # the last ACKs of the teardown
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            rest = proc.communicate(timeout=10)[1]
        except subprocess.TimeoutExpired:
            proc.kill()
            rest = proc.communicate()[1]
        for line in (rest or "").splitlines():
            words = line.split()
            if len(words) >= 3 and words[0].isdigit() and words[1] == "packets":
                stats[" ".join(words[2:])] = int(words[0])
    stats["captured"] = stats.get("captured", 0)
    stats["dropped"] = stats.get("dropped by kernel", 0)


def capture_exchange(pcap: Path | str, folder: Path | str, n_requests: int = 10) -> dict:
    """Start the servers, capture ``run_exchange`` with tcpdump into ``pcap``, stop the servers.

    Returns the client's record, with tcpdump's counters under ``"tcpdump"``; it is what
    ``data/capture.py`` writes next to the pcap as JSON.
    """
    servers = start_servers(folder)
    try:
        with tcpdump(pcap, servers.ports) as stats:
            log = run_exchange(servers, n_requests)
    finally:
        servers.close()
    log["tcpdump"] = {k: v for k, v in stats.items() if k != "command"}
    return log


def write_log(log: dict, path: Path | str) -> None:
    Path(path).write_text(json.dumps(log, indent=1, sort_keys=True) + "\n")
