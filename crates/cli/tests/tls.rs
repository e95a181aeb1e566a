//! HTTPS and HTTP/2 (README, "HTTPS and HTTP/2"): `warren run --tls-cert FILE --tls-key FILE`
//! and a guest server started with `Server::tls` (`test_guest http_server tls`,
//! tests/guest/src/http.rs). Real clients: curl over HTTP/2 and HTTP/1.1, a WebSocket over
//! rustls, HTTP/2 frames written by hand for the attacks (a stream flood, a header flood,
//! rapid reset). Certificates are made here with rcgen: a CA, two server certificates for
//! 127.0.0.1, one for another name and one expired.

mod common;
use common::{Server, guest, run_guest};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

/// A CA and certificates it signed, written as PEM files into a temp dir.
struct Certs {
    dir: tempfile::TempDir,
}

impl Certs {
    fn make() -> Certs {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "warren test CA");
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("a CA key"))
            .expect("the CA");
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).expect("ca.pem");
        let leaf = |name: &str, sans: &[&str], expired: bool| {
            let mut p =
                CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                    .expect("params");
            p.distinguished_name.push(DnType::CommonName, name);
            if expired {
                p.not_before = rcgen::date_time_ymd(2020, 1, 1);
                p.not_after = rcgen::date_time_ymd(2021, 1, 1);
            }
            let key = KeyPair::generate().expect("a key");
            let cert = p.signed_by(&key, &ca).expect("signed");
            std::fs::write(dir.path().join(format!("{name}.pem")), cert.pem()).expect("cert");
            std::fs::write(dir.path().join(format!("{name}.key")), key.serialize_pem())
                .expect("key");
        };
        leaf("server-a", &["127.0.0.1", "localhost"], false);
        leaf("server-b", &["127.0.0.1", "localhost"], false);
        leaf("other", &["other.example"], false);
        leaf("expired", &["127.0.0.1"], true);
        Certs { dir }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// `--tls-cert NAME.pem --tls-key NAME.key`.
    fn flags(&self, name: &str) -> Vec<String> {
        vec![
            "--tls-cert".into(),
            self.path(&format!("{name}.pem")).display().to_string(),
            "--tls-key".into(),
            self.path(&format!("{name}.key")).display().to_string(),
        ]
    }

    /// A rustls client trusting the CA, offering `alpn`.
    fn client(&self, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        let pem = std::fs::read(self.path("ca.pem")).expect("ca.pem");
        use rustls::pki_types::pem::PemObject;
        for c in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
            roots.add(c.expect("the CA")).expect("a root");
        }
        #[allow(deprecated)] // ring, as the server uses
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }

    /// A TLS connection to `addr` (as 127.0.0.1), handshaken.
    fn connect(
        &self,
        addr: &str,
        alpn: &[&[u8]],
    ) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("a name");
        let conn = rustls::ClientConnection::new(self.client(alpn), name).expect("a client");
        let tcp = TcpStream::connect(addr).expect("connecting");
        tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut s = rustls::StreamOwned::new(conn, tcp);
        while s.conn.is_handshaking() {
            s.conn.complete_io(&mut s.sock).expect("the TLS handshake");
        }
        s
    }
}

fn tls_server(certs: &Certs, name: &str, arg: &str, extra: &[&str]) -> Server {
    let mut flags = certs.flags(name);
    flags.extend(extra.iter().map(|s| s.to_string()));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    Server::launch_with(&flags, &guest("test_guest"), &["http_server", arg]).0
}

/// curl over TLS, trusting the test CA: (exit status, stdout, stderr).
fn curl(certs: &Certs, args: &[&str]) -> (i32, String, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "30", "--cacert"])
        .arg(certs.path("ca.pem"))
        .args(args)
        .output()
        .expect("running curl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn curl_gets_answers_over_http2_and_http1_with_bodies_both_ways() {
    let certs = Certs::make();
    let s = tls_server(&certs, "server-a", "tls", &[]);
    let url = |path: &str| format!("https://{}{path}", s.addr);
    for (flag, version) in [("--http2", "2"), ("--http1.1", "1.1")] {
        let (code, out, err) = curl(
            &certs,
            &[flag, "-w", "\nversion=%{http_version}", &url("/info?q=tls")],
        );
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("method=GET path=/info q=tls"), "{out}");
        assert!(out.ends_with(&format!("version={version}")), "{out}");
    }
    // A 3 MB upload over HTTP/2: flow control passes every byte to the process.
    let body = certs.path("upload.bin");
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&body, &data).expect("the body");
    let (code, out, err) = curl(
        &certs,
        &[
            "--http2",
            "--data-binary",
            &format!("@{}", body.display()),
            &url("/upload"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("len=3000000 "), "{out}");
    // A 2 MB download over HTTP/2, written by the process.
    let (code, out, err) = curl(
        &certs,
        &[
            "--http2",
            "-o",
            "/dev/null",
            "-w",
            "%{size_download}",
            &url("/download?n=2000000"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "2000000");
    // Several requests on one HTTP/2 connection, each its own process.
    let (code, out, err) = curl(
        &certs,
        &["--http2", &url("/info"), &url("/info"), &url("/info")],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches("served=1 ").count(), 3, "{out}");
}

#[test]
fn per_connection_serves_an_http2_connections_requests_in_one_process() {
    let certs = Certs::make();
    let s = tls_server(&certs, "server-a", "tls_per_connection", &[]);
    let url = format!("https://{}/info", s.addr);
    let (code, out, err) = curl(&certs, &["--http2", &url, &url, &url]);
    assert_eq!(code, 0, "{err}");
    let pids: Vec<&str> = out.lines().filter_map(|l| l.split("pid=").nth(1)).collect();
    assert_eq!(pids.len(), 3, "{out}");
    assert!(pids.iter().all(|p| *p == pids[0]), "one process: {out}");
    for n in 1..=3 {
        assert!(out.contains(&format!("served={n} ")), "{out}");
    }
}

#[test]
fn clients_refuse_a_certificate_for_another_name_or_an_expired_one() {
    let certs = Certs::make();
    for (name, says) in [("other", "127.0.0.1"), ("expired", "expired")] {
        let s = tls_server(&certs, name, "tls", &[]);
        let (code, _, err) = curl(&certs, &["--http2", &format!("https://{}/hello", s.addr)]);
        assert_eq!(code, 60, "curl accepted the {name} certificate: {err}");
        assert!(err.contains(says), "{name}: {err}");
    }
}

#[test]
fn a_websocket_works_over_tls() {
    use tungstenite::Message;
    let certs = Certs::make();
    let s = tls_server(&certs, "server-a", "tls", &[]);
    let stream = certs.connect(&s.addr, &[b"http/1.1"]);
    let (mut ws, response) =
        tungstenite::client(format!("wss://{}/ws", s.addr), stream).expect("the handshake");
    assert_eq!(response.status(), 101);
    match ws.read().expect("tick") {
        Message::Text(t) => assert_eq!(t.as_str(), "tick"),
        other => panic!("expected the tick, got {other:?}"),
    }
    ws.send(Message::text("over tls")).unwrap();
    match ws.read().unwrap() {
        Message::Text(t) => assert_eq!(t.as_str(), "echo: over tls"),
        other => panic!("got {other:?}"),
    }
    ws.close(None).unwrap();
}

/// The certificate a new connection to `addr` is served, as PEM-less DER.
fn served_certificate(certs: &Certs, addr: &str) -> Vec<u8> {
    let s = certs.connect(addr, &[b"http/1.1"]);
    s.conn
        .peer_certificates()
        .and_then(|c| c.first())
        .expect("a certificate")
        .to_vec()
}

fn der_of(path: &Path) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_file(path)
        .expect("a PEM certificate")
        .to_vec()
}

#[test]
fn sighup_reloads_the_certificate_for_new_connections_and_open_ones_go_on() {
    let certs = Certs::make();
    let (cert, key) = (certs.path("live.pem"), certs.path("live.key"));
    std::fs::copy(certs.path("server-a.pem"), &cert).unwrap();
    std::fs::copy(certs.path("server-a.key"), &key).unwrap();
    let flags = [
        "--tls-cert",
        &cert.display().to_string(),
        "--tls-key",
        &key.display().to_string(),
    ]
    .map(String::from);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let s = Server::launch_with(&flags, &guest("test_guest"), &["http_server", "tls"]).0;
    assert_eq!(
        served_certificate(&certs, &s.addr),
        der_of(&certs.path("server-a.pem"))
    );
    // A keep-alive connection made before the reload.
    let mut open = certs.connect(&s.addr, &[b"http/1.1"]);
    let ask = |c: &mut rustls::StreamOwned<rustls::ClientConnection, TcpStream>| {
        c.write_all(b"GET /hello HTTP/1.1\r\nhost: x\r\n\r\n")
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while !got.ends_with(b"hello\n") {
            let n = c.read(&mut buf).expect("the answer");
            assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&got).into_owned()
    };
    assert!(ask(&mut open).starts_with("HTTP/1.1 200"));
    std::fs::copy(certs.path("server-b.pem"), &cert).unwrap();
    std::fs::copy(certs.path("server-b.key"), &key).unwrap();
    s.signal("HUP");
    let b = der_of(&certs.path("server-b.pem"));
    let mut reloaded = false;
    for _ in 0..500 {
        if served_certificate(&certs, &s.addr) == b {
            reloaded = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        reloaded,
        "new connections still get the old certificate after SIGHUP"
    );
    assert!(
        ask(&mut open).starts_with("HTTP/1.1 200"),
        "the open connection goes on"
    );
    // Files that do not load: the certificate in use stays.
    std::fs::write(&cert, "not a certificate").unwrap();
    s.signal("HUP");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(served_certificate(&certs, &s.addr), b);
}

#[test]
fn tls_needs_a_certificate_and_bad_files_are_refused_clearly() {
    // A guest asking for TLS from a runtime without a certificate cannot start its server.
    let run = run_guest(&[], "test_guest", &["http_server", "tls"]);
    assert_ne!(run.code, Some(0), "{run:#?}");
    assert!(run.stderr.contains("--tls-cert"), "{run:#?}");
    // Files that are not a certificate and a key: refused before anything runs.
    let certs = Certs::make();
    std::fs::write(certs.path("junk.pem"), "junk").unwrap();
    let junk = certs.path("junk.pem").display().to_string();
    let key = certs.path("server-a.key").display().to_string();
    let pem = certs.path("server-b.pem").display().to_string();
    run_guest(
        &["--tls-cert", &junk, "--tls-key", &key],
        "test_guest",
        &["http_server", "tls"],
    )
    .assert_code(2)
    .assert_stderr_has("holds no certificate");
    run_guest(
        &["--tls-cert", &pem, "--tls-key", &key],
        "test_guest",
        &["http_server", "tls"],
    )
    .assert_code(2)
    .assert_stderr_has("does not serve the certificate");
    run_guest(&["--tls-cert", &pem], "test_guest", &["http_server", "tls"]).assert_code(2);
}

/// HTTP/2 spoken by hand over TLS: frames, and just enough HPACK (static-table entries
/// and literals without Huffman) to ask for a path.
struct H2 {
    s: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
}

const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PING: u8 = 6;
const GOAWAY: u8 = 7;
const CONTINUATION: u8 = 9;
const END_STREAM: u8 = 1;
const END_HEADERS: u8 = 4;

impl H2 {
    fn open(certs: &Certs, addr: &str) -> H2 {
        let mut s = certs.connect(addr, &[b"h2"]);
        assert_eq!(s.conn.alpn_protocol(), Some(&b"h2"[..]), "ALPN chose h2");
        s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").unwrap();
        let mut h = H2 { s };
        h.frame(SETTINGS, 0, 0, &[]);
        h
    }

    fn frame(&mut self, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
        self.try_frame(kind, flags, stream, payload)
            .expect("writing a frame");
    }

    /// Write a frame; an error once the server has closed the connection.
    fn try_frame(
        &mut self,
        kind: u8,
        flags: u8,
        stream: u32,
        payload: &[u8],
    ) -> std::io::Result<()> {
        let len = payload.len() as u32;
        let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(payload);
        self.s.write_all(&f)
    }

    /// A request head block: GET https://127.0.0.1 `path`, plus `extra` literal headers.
    fn head(path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
        let mut b = vec![0x82, 0x87]; // :method GET, :scheme https
        let lit = |b: &mut Vec<u8>, index: u8, value: &str| {
            b.push(index); // literal without indexing, name from the static table
            b.extend_from_slice(&hpack_len(value.len()));
            b.extend_from_slice(value.as_bytes());
        };
        lit(&mut b, 0x04, path); // :path
        lit(&mut b, 0x01, "127.0.0.1"); // :authority
        for (name, value) in extra {
            b.push(0x00); // literal without indexing, new name
            b.extend_from_slice(&hpack_len(name.len()));
            b.extend_from_slice(name.as_bytes());
            b.extend_from_slice(&hpack_len(value.len()));
            b.extend_from_slice(value.as_bytes());
        }
        b
    }

    /// The next frame: (kind, flags, stream, payload); `None` at the end of the connection.
    fn read(&mut self) -> Option<(u8, u8, u32, Vec<u8>)> {
        let mut h = [0u8; 9];
        self.s.read_exact(&mut h).ok()?;
        let len = (h[0] as usize) << 16 | (h[1] as usize) << 8 | h[2] as usize;
        let stream = u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff;
        let mut p = vec![0u8; len];
        self.s.read_exact(&mut p).ok()?;
        if h[3] == PING && h[4] & 1 == 0 {
            let _ = self.try_frame(PING, 1, 0, &p);
        }
        if h[3] == SETTINGS && h[4] & 1 == 0 {
            let _ = self.try_frame(SETTINGS, 1, 0, &[]);
        }
        Some((h[3], h[4], stream, p))
    }
}

/// An HPACK string length (7-bit prefix, no Huffman).
fn hpack_len(n: usize) -> Vec<u8> {
    if n < 127 {
        return vec![n as u8];
    }
    let mut out = vec![127u8];
    let mut rest = n - 127;
    while rest >= 128 {
        out.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    out.push(rest as u8);
    out
}

/// The server's advertised SETTINGS_MAX_CONCURRENT_STREAMS (setting 3), from its first
/// SETTINGS frame.
fn max_streams(settings: &[u8]) -> Option<u32> {
    settings
        .chunks(6)
        .find(|c| c.len() == 6 && u16::from_be_bytes([c[0], c[1]]) == 3)
        .map(|c| u32::from_be_bytes([c[2], c[3], c[4], c[5]]))
}

#[test]
fn http2_limits_hold_against_a_stream_flood_a_header_flood_and_rapid_reset() {
    let certs = Certs::make();
    let s = tls_server(
        &certs,
        "server-a",
        "tls",
        &[
            "--http2-max-streams",
            "10",
            "--http-max-header-bytes",
            "16k",
        ],
    );

    // A stream flood: 30 slow requests at once on one connection. The server says 10 in
    // its settings, serves 10 and refuses the 20 beyond (REFUSED_STREAM).
    let mut h = H2::open(&certs, &s.addr);
    let mut advertised = None;
    for i in 0..30u32 {
        let head = H2::head("/linger?ms=500", &[]);
        h.frame(HEADERS, END_HEADERS | END_STREAM, 1 + 2 * i, &head);
    }
    let (mut answered, mut refused) = (0, 0);
    while answered + refused < 30 {
        let Some((kind, flags, stream, p)) = h.read() else {
            break;
        };
        match kind {
            SETTINGS if flags & 1 == 0 => advertised = advertised.or(max_streams(&p)),
            HEADERS if stream > 0 => answered += 1,
            RST_STREAM => {
                assert_eq!(
                    u32::from_be_bytes([p[0], p[1], p[2], p[3]]),
                    7,
                    "REFUSED_STREAM"
                );
                refused += 1;
            }
            GOAWAY => break,
            _ => {}
        }
    }
    eprintln!("stream flood: {answered} answered, {refused} refused");
    assert_eq!(advertised, Some(10));
    assert_eq!(
        (answered, refused),
        (10, 20),
        "streams answered and refused"
    );

    // A header flood: a 100 KB header list in CONTINUATION frames, over the 16 KiB limit:
    // that stream (or the connection) is refused, and the server goes on serving.
    let mut h = H2::open(&certs, &s.addr);
    let big = "x".repeat(4000);
    let extra: Vec<(String, String)> = (0..25)
        .map(|i| (format!("x-flood-{i}"), big.clone()))
        .collect();
    let extra: Vec<(&str, &str)> = extra
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let head = H2::head("/hello", &extra);
    let mut chunks = head.chunks(16_000).peekable();
    let first = chunks.next().unwrap_or_default();
    h.frame(HEADERS, END_STREAM, 1, first);
    while let Some(c) = chunks.next() {
        let last = chunks.peek().is_none();
        h.frame(CONTINUATION, if last { END_HEADERS } else { 0 }, 1, c);
    }
    let mut outcome = None;
    while outcome.is_none() {
        match h.read() {
            None => outcome = Some("closed".to_string()),
            Some((HEADERS, _, 1, p)) => {
                // :status 431 is a literal (not in the static table): look for its digits.
                outcome = Some(if p.windows(3).any(|w| w == b"431") {
                    "431".into()
                } else {
                    format!("headers {p:?}")
                });
            }
            Some((RST_STREAM, _, 1, _)) => outcome = Some("reset".into()),
            Some((GOAWAY, ..)) => outcome = Some("goaway".into()),
            Some(_) => {}
        }
    }
    let outcome = outcome.unwrap_or_default();
    eprintln!("header flood: {outcome}");
    assert!(
        ["431", "reset", "goaway", "closed"].contains(&outcome.as_str()),
        "the header flood got {outcome}"
    );

    // Rapid reset: 2,000 requests each cancelled at once. Past 20 streams reset before the
    // server took them, the connection is closed with GOAWAY (ENHANCE_YOUR_CALM): the
    // writes then fail, or the GOAWAY is read. Then the server still answers.
    let mut h = H2::open(&certs, &s.addr);
    let head = H2::head("/hello", &[]);
    let mut cut = false;
    for i in 0..2000u32 {
        let id = 1 + 2 * i;
        if h.try_frame(HEADERS, END_HEADERS | END_STREAM, id, &head)
            .is_err()
            || h.try_frame(RST_STREAM, 0, id, &8u32.to_be_bytes()).is_err()
        {
            cut = true; // the server closed the connection
            break;
        }
    }
    while let Some((kind, _, _, p)) = h.read() {
        if kind == GOAWAY {
            assert_eq!(
                u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
                11,
                "ENHANCE_YOUR_CALM"
            );
            cut = true;
            break;
        }
    }
    assert!(cut, "2,000 rapid resets did not close the connection");
    let (code, out, err) = curl(&certs, &["--http2", &format!("https://{}/hello", s.addr)]);
    assert_eq!((code, out.as_str()), (0, "hello\n"), "{err}");
}

#[test]
fn a_client_that_never_finishes_its_handshake_is_let_go_at_the_header_timeout() {
    let certs = Certs::make();
    let s = tls_server(&certs, "server-a", "tls", &["--http-header-timeout", "1s"]);
    let mut idle = TcpStream::connect(&s.addr).expect("connecting");
    idle.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    // Half a ClientHello's record header, then nothing.
    idle.write_all(&[0x16, 0x03]).unwrap();
    let mut buf = [0u8; 64];
    let n = idle.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "the server answered a handshake that never came");
    // The server goes on.
    let (code, out, err) = curl(&certs, &["--http2", &format!("https://{}/hello", s.addr)]);
    assert_eq!((code, out.as_str()), (0, "hello\n"), "{err}");
}
