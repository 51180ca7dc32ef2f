//! HTTP/1.1 over a plain socket, for tests that need what a client library
//! hides: several requests on one connection, bodies that never come,
//! headers written byte for byte.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A connection with a buffered reader over the same socket.
pub struct Conn {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Conn {
    pub fn open(addr: &str) -> Conn {
        let stream = TcpStream::connect(addr).expect("connecting");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Conn { stream, reader }
    }

    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Sends `head` (the request line and header lines, each ending in
    /// CRLF), the blank line and `body`, then reads the answer.
    pub fn request(&mut self, head: &str, body: &[u8]) -> std::io::Result<RawResponse> {
        let mut bytes = format!("{head}\r\n").into_bytes();
        bytes.extend_from_slice(body);
        self.send(&bytes)?;
        self.response()
    }

    /// Reads one response (Content-Length or chunked body).
    pub fn response(&mut self) -> std::io::Result<RawResponse> {
        let eof = || std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed");
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(eof());
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(eof());
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let mut body = Vec::new();
        if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            loop {
                line.clear();
                self.reader.read_line(&mut line)?;
                let size = usize::from_str_radix(line.trim(), 16)
                    .map_err(|_| std::io::Error::other("bad chunk size"))?;
                let mut chunk = vec![0; size + 2];
                self.reader.read_exact(&mut chunk)?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else if let Some(n) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
            body.resize(n, 0);
            self.reader.read_exact(&mut body)?;
        }
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }

    /// Whether the server has closed the connection (EOF or a reset within
    /// `wait`), after any answer it sent.
    pub fn closed_within(&mut self, wait: Duration) -> bool {
        closed_within(self.reader.get_mut(), wait)
    }
}

/// Whether the peer closes `stream` (EOF or a reset) within `wait`,
/// skipping whatever it sends first.
pub fn closed_within(mut stream: &TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 16 * 1024];
    let deadline = std::time::Instant::now() + wait;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) if std::time::Instant::now() < deadline => continue,
            Ok(_) => return false,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

/// Headers of a SigV4-signed request (`host`, `x-amz-date`,
/// `authorization` and `extra`), signed over `body` for `service` in
/// us-east-1 with (`id`, `secret`).
pub fn signed_headers(
    host: &str,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: &[u8],
    (id, secret): (&str, &str),
    service: &str,
) -> Vec<(String, String)> {
    use sha2::Digest as _;
    let mut headers = http::HeaderMap::new();
    headers.insert("host", host.parse().unwrap());
    for (k, v) in extra {
        headers.insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let signed = berth_iam::sigv4::sign_headers(
        method,
        path,
        None,
        &headers,
        &hex::encode(sha2::Sha256::digest(body)),
        &berth_iam::sigv4::SigningKey {
            access_key_id: id,
            secret_access_key: secret,
            region: "us-east-1",
            service,
        },
        now,
    );
    let mut out: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
        .collect();
    out.push(("x-amz-date".into(), signed.amz_date));
    out.push(("authorization".into(), signed.authorization));
    out
}

/// `name: value` lines for a request head.
pub fn lines(headers: &[(String, String)]) -> String {
    headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect()
}
