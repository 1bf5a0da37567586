//! TLS end to end (src/server/tls.rs, the reactor's TLS path): certificates made with the
//! `openssl` CLI into a temp dir; `redis-cli --tls` against Rustis and against a
//! redis-server with the same certificates (differential); tls-auth-clients yes and
//! optional; a plaintext client on the TLS port; MessagePack over TLS with rustls's
//! client; a 1 MB value and a 1,000-command pipeline; tls-protocols TLSv1.3 refusing a
//! TLS 1.2 client, and a TLS 1.2 client served by default; stalled handshakes blocking
//! nobody; a missing certificate refusing the start.

mod common;

use common::{free_port, reply_len, start_redis, start_rustis, RawConn, Server};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use rustls_pki_types::pem::PemObject;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

// ---------------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------------

/// A test CA, a server certificate for 127.0.0.1 and localhost, and a client certificate,
/// all PEM files in one temp dir (made once per test binary).
struct Certs {
    ca: String,
    server_crt: String,
    server_key: String,
    client_crt: String,
    client_key: String,
}

fn openssl(dir: &PathBuf, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl {args:?}: {e}"));
    assert!(out.status.success(), "openssl {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
}

fn certs() -> &'static Certs {
    static CERTS: OnceLock<Certs> = OnceLock::new();
    CERTS.get_or_init(|| {
        let dir = common::temp_dir("tls-certs");
        openssl(
            &dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "2",
                "-subj",
                "/CN=Rustis Test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        let exts = [
            ("server", "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"),
            ("client", "extendedKeyUsage=clientAuth\n"),
        ];
        for (name, ext) in exts {
            let ext_file = format!("{name}.ext");
            std::fs::write(
                dir.join(&ext_file),
                format!("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n{ext}"),
            )
            .expect("write extensions file");
            let (key, csr, crt) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.crt"));
            let cn = format!("/CN={}", if name == "server" { "127.0.0.1" } else { "rustis-test-client" });
            openssl(
                &dir,
                &["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj", &cn],
            );
            openssl(
                &dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    "ca.crt",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-days",
                    "2",
                    "-extfile",
                    &ext_file,
                    "-out",
                    &crt,
                ],
            );
        }
        let p = |f: &str| dir.join(f).display().to_string();
        Certs {
            ca: p("ca.crt"),
            server_crt: p("server.crt"),
            server_key: p("server.key"),
            client_crt: p("client.crt"),
            client_key: p("client.key"),
        }
    })
}

/// The server-side options, for Rustis and redis-server alike.
fn server_tls_args(tls_port: u16) -> Vec<String> {
    let c = certs();
    [
        "--tls-port",
        &tls_port.to_string(),
        "--tls-cert-file",
        &c.server_crt,
        "--tls-key-file",
        &c.server_key,
        "--tls-ca-cert-file",
        &c.ca,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Starts Rustis (or redis-server) with a TLS port plus `extra`; returns it and the port.
fn start_tls(redis: bool, extra: &[&str]) -> Option<(Server, u16)> {
    let port = free_port();
    let mut args = server_tls_args(port);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let server = if redis { start_redis(&args)? } else { start_rustis(&args) };
    Some((server, port))
}

// ---------------------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------------------

/// `redis-cli --tls` (bounded by `timeout 20`), with or without the client certificate.
fn cli(port: u16, client_cert: bool, args: &[&str], stdin: &str) -> Output {
    let c = certs();
    let mut cmd = Command::new("timeout");
    cmd.args(["20", "redis-cli", "--tls", "--cacert", &c.ca, "-p", &port.to_string()]);
    if client_cert {
        cmd.args(["--cert", &c.client_crt, "--key", &c.client_key]);
    }
    cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn redis-cli");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).expect("write redis-cli stdin");
    drop(input);
    child.wait_with_output().expect("redis-cli output")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn client_config(with_cert: bool) -> Arc<ClientConfig> {
    let c = certs();
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&c.ca).expect("read the CA file") {
        roots.add(cert.expect("a CA certificate")).expect("add the CA");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let b = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots);
    let cfg = if with_cert {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&c.client_crt)
            .expect("read the client certificate")
            .collect::<Result<_, _>>()
            .expect("client certificate PEM");
        let key = PrivateKeyDer::from_pem_file(&c.client_key).expect("client key PEM");
        b.with_client_auth_cert(chain, key).expect("client auth")
    } else {
        b.with_no_client_auth()
    };
    Arc::new(cfg)
}

type Tls = StreamOwned<ClientConnection, TcpStream>;

fn tls_connect(port: u16) -> Tls {
    let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect to the TLS port");
    tcp.set_read_timeout(Some(Duration::from_secs(20))).expect("read timeout");
    let name = ServerName::try_from("127.0.0.1").expect("server name").to_owned();
    let conn = ClientConnection::new(client_config(true), name).expect("client connection");
    StreamOwned::new(conn, tcp)
}

/// Reads exactly one RESP reply from a TLS stream (`buf` keeps what follows it).
fn read_reply(s: &mut Tls, buf: &mut Vec<u8>) -> Vec<u8> {
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        if let Some(n) = reply_len(buf).expect("a well-formed RESP reply") {
            return buf.drain(..n).collect();
        }
        let n = s.read(&mut chunk).expect("read a reply over TLS");
        assert!(n > 0, "server closed the TLS connection (have {} bytes)", buf.len());
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn info_field(server: &Server, field: &str) -> u64 {
    let reply = server.conn().cmd_str(&["INFO", "stats"]);
    let text = String::from_utf8_lossy(&reply).to_string();
    let line = text.lines().find(|l| l.starts_with(&format!("{field}:"))).unwrap_or_else(|| panic!("{field} in INFO"));
    line[field.len() + 1..].trim().parse().expect("a number")
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

/// (a) redis-cli --tls runs PING, SET, GET and a stdin pipeline; Rustis prints exactly
/// what redis-server prints.
#[test]
fn redis_cli_over_tls_matches_redis() {
    let (rustis, rport) = start_tls(false, &[]).expect("rustis");
    let Some((_redis, dport)) = start_tls(true, &[]) else { return };
    let script = "SET k v\nGET k\nINCR n\nINCRBY n 41\nGET n\nINCR k\nRPUSH l a b c\nLRANGE l 0 -1\n\
                  HSET h f1 v1 f2 v2\nHGETALL h\nMGET k n nosuch\nDEL k n l h\nEXISTS k\nECHO \"hello world\"\nGET nosuch\n";
    let cases: [(&[&str], &str); 4] =
        [(&["PING"], ""), (&["SET", "greeting", "hi"], ""), (&["GET", "greeting"], ""), (&[], script)];
    for (args, input) in cases {
        let ours = cli(rport, true, args, input);
        let theirs = cli(dport, true, args, input);
        assert!(ours.status.success(), "redis-cli {args:?} against Rustis: {}\n{}", text(&ours), rustis.log_tail(20));
        assert!(theirs.status.success(), "redis-cli {args:?} against redis-server: {}", text(&theirs));
        assert_eq!(text(&ours), text(&theirs), "redis-cli {args:?} with input {input:?}");
    }
    assert_eq!(text(&cli(rport, true, &["PING"], "")), "PONG\n");
}

/// (b) tls-auth-clients yes (the default) turns away a client without a certificate, on
/// both servers; optional lets it in.
#[test]
fn tls_auth_clients_yes_and_optional() {
    let (rustis, rport) = start_tls(false, &[]).expect("rustis");
    let refused = cli(rport, false, &["PING"], "");
    assert!(
        !refused.status.success() && !text(&refused).contains("PONG"),
        "Rustis let in a client without a certificate: {}",
        text(&refused)
    );
    assert!(rustis.log_tail(20).contains("closing TLS connection"), "{}", rustis.log_tail(20));
    if let Some((_redis, dport)) = start_tls(true, &[]) {
        let r = cli(dport, false, &["PING"], "");
        assert!(!r.status.success() && !text(&r).contains("PONG"), "redis-server: {}", text(&r));
    }
    let (_rustis, rport) = start_tls(false, &["--tls-auth-clients", "optional"]).expect("rustis optional");
    assert_eq!(text(&cli(rport, false, &["PING"], "")), "PONG\n");
    assert_eq!(text(&cli(rport, true, &["PING"], "")), "PONG\n");
    if let Some((_redis, dport)) = start_tls(true, &["--tls-auth-clients", "optional"]) {
        assert_eq!(text(&cli(dport, false, &["PING"], "")), "PONG\n");
    }
    // no: no CA file is needed at all.
    let port = free_port();
    let c = certs();
    let p = port.to_string();
    let s = start_rustis(&[
        "--tls-port",
        &p,
        "--tls-cert-file",
        &c.server_crt,
        "--tls-key-file",
        &c.server_key,
        "--tls-auth-clients",
        "no",
    ]);
    assert_eq!(text(&cli(port, false, &["PING"], "")), "PONG\n", "{}", s.log_tail(20));
}

/// (c) Plaintext RESP to the TLS port: closed without a reply (as redis-server does); the
/// server keeps serving, and says why in its log.
#[test]
fn plaintext_on_the_tls_port_is_closed() {
    let servers = [start_tls(false, &[]), start_tls(true, &[])];
    for (server, port) in servers.iter().flatten() {
        let mut c = RawConn::connect(*port).expect("connect to the TLS port");
        c.send(b"*1\r\n$4\r\nPING\r\n");
        if let Err(e) = c.expect_closed(Duration::from_secs(5)) {
            panic!("{}: plaintext PING on the TLS port: {e}", server.name);
        }
        assert_eq!(server.conn().cmd_str(&["PING"]), b"+PONG\r\n", "{}", server.name);
        assert_eq!(text(&cli(*port, true, &["PING"], "")), "PONG\n", "{}", server.name);
    }
    let (rustis, _) = servers[0].as_ref().expect("rustis");
    assert!(rustis.log_tail(20).contains("not a TLS client"), "{}", rustis.log_tail(20));
}

/// (d) MessagePack over TLS on a `listen ... msgpack tls` line.
#[test]
fn msgpack_over_tls() {
    use rmpv::Value as Mp;
    let port = free_port();
    let c = certs();
    let listen = port.to_string();
    let server = start_rustis(&[
        "--tls-cert-file",
        &c.server_crt,
        "--tls-key-file",
        &c.server_key,
        "--tls-ca-cert-file",
        &c.ca,
        "--listen",
        "127.0.0.1",
        &listen,
        "msgpack",
        "tls",
    ]);
    let mut s = tls_connect(port);
    let frame = |v: Mp| {
        let mut body = Vec::new();
        rmpv::encode::write_value(&mut body, &v).expect("encode");
        let mut f = (body.len() as u32).to_be_bytes().to_vec();
        f.extend_from_slice(&body);
        f
    };
    let read_frame = |s: &mut Tls| -> Mp {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).expect("frame length over TLS");
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        s.read_exact(&mut body).expect("frame body over TLS");
        rmpv::decode::read_value(&mut &body[..]).expect("a MessagePack value")
    };
    s.write_all(&frame(Mp::Array(vec![Mp::from("rustis"), Mp::from(1)]))).expect("send the handshake");
    let hello = read_frame(&mut s);
    assert_eq!(hello[0], Mp::Nil, "handshake reply {hello}");
    assert_eq!(hello[1], Mp::from(7), "handshake reply {hello}");
    s.write_all(&frame(Mp::Array(vec![Mp::from(1), Mp::from("PING")]))).expect("send PING");
    assert_eq!(read_frame(&mut s), Mp::Array(vec![Mp::from(1), Mp::from(0), Mp::from("PONG")]));
    s.write_all(&frame(Mp::Array(vec![Mp::from(2), Mp::from("SET"), Mp::from("k"), Mp::Binary(vec![0, 1, 2])])))
        .expect("send SET");
    s.write_all(&frame(Mp::Array(vec![Mp::from(3), Mp::from("GET"), Mp::from("k")]))).expect("send GET");
    assert_eq!(read_frame(&mut s), Mp::Array(vec![Mp::from(2), Mp::from(0), Mp::from("OK")]));
    assert_eq!(read_frame(&mut s), Mp::Array(vec![Mp::from(3), Mp::from(4), Mp::Binary(vec![0, 1, 2])]));
    // The plain RESP port is unaffected.
    assert_eq!(server.conn().cmd_str(&["GET", "k"]), b"$3\r\n\x00\x01\x02\r\n");
}

/// (e) A 1 MB value and a 1,000-command pipeline round-trip exactly through TLS; the byte
/// counters count what the socket moved (records included).
#[test]
fn large_values_and_pipelines_over_tls() {
    let (server, port) = start_tls(false, &[]).expect("rustis");
    let mut s = tls_connect(port);
    let mut buf = Vec::new();
    let value: Vec<u8> = (0..1 << 20).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let before = info_field(&server, "total_net_input_bytes");
    s.write_all(&common::encode_command(&[b"SET", b"big", &value])).expect("send SET");
    assert_eq!(read_reply(&mut s, &mut buf), b"+OK\r\n");
    let grew = info_field(&server, "total_net_input_bytes") - before;
    assert!(grew > 1 << 20, "total_net_input_bytes grew by {grew} for a 1 MB SET over TLS");
    s.write_all(&common::encode_command(&[b"GET", b"big"])).expect("send GET");
    let mut expected = format!("${}\r\n", value.len()).into_bytes();
    expected.extend_from_slice(&value);
    expected.extend_from_slice(b"\r\n");
    assert!(read_reply(&mut s, &mut buf) == expected, "GET big over TLS differs");
    let mut pipeline = Vec::new();
    for i in 0..1000 {
        let (k, v) = (format!("key:{i}"), format!("value-{i}-{}", "x".repeat(i % 50)));
        pipeline.extend(common::encode_command(&[b"SET", k.as_bytes(), v.as_bytes()]));
        pipeline.extend(common::encode_command(&[b"GET", k.as_bytes()]));
    }
    s.write_all(&pipeline).expect("send the pipeline");
    for i in 0..1000 {
        let v = format!("value-{i}-{}", "x".repeat(i % 50));
        assert_eq!(read_reply(&mut s, &mut buf), b"+OK\r\n", "SET #{i}");
        assert_eq!(read_reply(&mut s, &mut buf), format!("${}\r\n{v}\r\n", v.len()).into_bytes(), "GET #{i}");
    }
    assert!(buf.is_empty(), "extra bytes after the pipeline");
    assert_eq!(server.conn().cmd_str(&["DBSIZE"]), b":1001\r\n");
}

/// (f) tls-protocols TLSv1.3 refuses a TLS 1.2-only client and accepts a TLS 1.3 one.
#[test]
fn tls_protocols_restricts_versions() {
    let (server, port) = start_tls(false, &["--tls-protocols", "TLSv1.3"]).expect("rustis");
    let c = certs();
    let s_client = |version: &str| {
        let addr = format!("127.0.0.1:{port}");
        Command::new("timeout")
            .args(["20", "openssl", "s_client", version, "-connect", &addr, "-CAfile", &c.ca])
            .args(["-cert", &c.client_crt, "-key", &c.client_key])
            .stdin(Stdio::null())
            .output()
            .expect("run openssl s_client")
    };
    let old = s_client("-tls1_2");
    let out = text(&old);
    assert!(
        !old.status.success() || out.contains("handshake failure") || out.contains("alert"),
        "a TLS 1.2 client got in:\n{out}"
    );
    assert!(!out.contains("New, TLSv1.2"), "{out}");
    let new = s_client("-tls1_3");
    assert!(
        new.status.success() && text(&new).contains("TLSv1.3"),
        "TLS 1.3 client:\n{}\n{}",
        text(&new),
        server.log_tail(20)
    );
    assert_eq!(text(&cli(port, true, &["PING"], "")), "PONG\n");
}

/// With the default tls-protocols a TLS 1.2 client runs commands; QUIT answers over TLS
/// before the server closes.
#[test]
fn tls12_client_runs_commands() {
    let (server, port) = start_tls(false, &[]).expect("rustis");
    let c = certs();
    let addr = format!("127.0.0.1:{port}");
    let mut child = Command::new("timeout")
        .args(["20", "openssl", "s_client", "-tls1_2", "-ign_eof", "-quiet", "-connect", &addr, "-CAfile", &c.ca])
        .args(["-cert", &c.client_crt, "-key", &c.client_key])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run openssl s_client");
    child.stdin.take().expect("stdin").write_all(b"PING\r\nSET a b\r\nGET a\r\nQUIT\r\n").expect("write stdin");
    let out = child.wait_with_output().expect("s_client output");
    assert!(out.status.success(), "s_client -tls1_2: {}\n{}", text(&out), server.log_tail(20));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "+PONG\r\n+OK\r\n$1\r\nb\r\n+OK\r\n");
}

/// A client stuck mid-handshake (half a record header, then silence) holds up nobody:
/// the handshake never blocks the reactor.
#[test]
fn stalled_handshake_does_not_block_others() {
    let (server, port) = start_tls(false, &[]).expect("rustis");
    let mut stalled: Vec<RawConn> = (0..5).map(|_| RawConn::connect(port).expect("connect to the TLS port")).collect();
    for c in &mut stalled {
        c.send(b"\x16\x03\x01");
    }
    assert_eq!(text(&cli(port, true, &["PING"], "")), "PONG\n");
    let mut s = tls_connect(port);
    let mut buf = Vec::new();
    s.write_all(&common::encode_command(&[b"PING"])).expect("send PING");
    assert_eq!(read_reply(&mut s, &mut buf), b"+PONG\r\n");
    assert_eq!(server.conn().cmd_str(&["PING"]), b"+PONG\r\n");
    let list = server.conn().cmd_str(&["CLIENT", "LIST"]);
    let clients = String::from_utf8_lossy(&list).lines().filter(|l| l.contains("id=")).count();
    assert!(clients >= 7, "5 stalled + 1 TLS + this client should be listed, got {clients}");
}

/// A TLS listener whose certificate cannot be loaded stops the start with a clear message.
#[test]
fn missing_certificate_refuses_to_start() {
    let c = certs();
    let out = Command::new("timeout")
        .args(["20", env!("CARGO_BIN_EXE_rustis-server"), "--port", "0", "--msgpack-port", "0", "--metrics-port", "0"])
        .args(["--tls-port", &free_port().to_string(), "--tls-cert-file", "/nonexistent/rustis.crt"])
        .args(["--tls-key-file", &c.server_key, "--tls-ca-cert-file", &c.ca])
        .stdin(Stdio::null())
        .output()
        .expect("run rustis-server");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("Failed to load certificate: /nonexistent/rustis.crt"), "{}", text(&out));
}
