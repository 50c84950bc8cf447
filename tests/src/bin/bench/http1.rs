//! The load phases' HTTP/1.1 client: one kept-alive TCP connection per worker, each request
//! written as bytes prepared before the phase, each answer read to its last byte by its
//! `Content-Length`. What `wrk` does, and for the same reason: the generator shares the 2 cores
//! with the server, so every microsecond it spends per request (URL parsing, header maps, a
//! connection pool, as reqwest does) is taken from the server it measures.

use std::net::SocketAddr;

use anyhow::{Context, bail};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Requests prepared as bytes, sent in turn (request `n` is `n % len`).
pub(crate) struct Requests {
    /// Where they go.
    pub(crate) addr: SocketAddr,
    all: Vec<Vec<u8>>,
}

impl Requests {
    /// Requests to the server at `base` (`http://127.0.0.1:PORT`).
    pub(crate) fn new(base: &str) -> anyhow::Result<Self> {
        let addr = base
            .strip_prefix("http://")
            .and_then(|a| a.parse().ok())
            .with_context(|| format!("the load generator needs http://IP:PORT, not {base}"))?;
        Ok(Self {
            addr,
            all: Vec::new(),
        })
    }

    /// Adds `GET path` with the bearer `token` if any.
    pub(crate) fn get(mut self, path: &str, token: Option<&str>) -> Self {
        let request = head("GET", path, self.addr, token, 0);
        self.all.push(request.into_bytes());
        self
    }

    /// Adds `POST path` with a JSON `body` and the bearer `token`.
    pub(crate) fn post_json(mut self, path: &str, token: &str, body: &[u8]) -> Self {
        let mut request = head("POST", path, self.addr, Some(token), body.len()).into_bytes();
        request.extend_from_slice(body);
        self.all.push(request);
        self
    }

    /// Request `n`.
    pub(crate) fn nth(&self, n: usize) -> &[u8] {
        &self.all[n % self.all.len()]
    }
}

fn head(method: &str, path: &str, addr: SocketAddr, token: Option<&str>, body: usize) -> String {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if method == "POST" {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {body}\r\n"
        ));
    }
    head.push_str("\r\n");
    head
}

/// One kept-alive connection.
pub(crate) struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    /// Connects to `addr`.
    pub(crate) async fn open(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(16 * 1024),
        })
    }

    /// Sends `request` and reads the whole answer; returns its status code.
    pub(crate) async fn send(&mut self, request: &[u8]) -> anyhow::Result<u16> {
        self.stream.write_all(request).await?;
        self.buf.clear();
        let (head_len, status, body_len) = loop {
            if let Some(parsed) = parse_head(&self.buf)? {
                break parsed;
            }
            self.fill().await?;
        };
        while self.buf.len() < head_len + body_len {
            self.fill().await?;
        }
        if self.buf.len() > head_len + body_len {
            bail!("the server sent more than one answer for one request");
        }
        Ok(status)
    }

    async fn fill(&mut self) -> anyhow::Result<()> {
        if self.buf.capacity() - self.buf.len() < 4096 {
            self.buf.reserve(16 * 1024);
        }
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            bail!("the server closed the connection");
        }
        Ok(())
    }
}

/// The header's length, the status and the body's length, once the whole header is in `buf`.
fn parse_head(buf: &[u8]) -> anyhow::Result<Option<(usize, u16, usize)>> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..end]).context("a header that is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .context("no status line")?;
    let mut body = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("content-length") {
            body = value.trim().parse().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            bail!("a chunked answer; the load generator reads Content-Length only");
        }
    }
    let body = body.context("an answer without Content-Length")?;
    Ok(Some((end + 4, status, body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_is_parsed_once_it_is_complete() {
        let answer =
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n{}";
        assert_eq!(parse_head(&answer[..20]).unwrap(), None);
        assert_eq!(
            parse_head(answer).unwrap(),
            Some((answer.len() - 2, 200, 2))
        );
        assert!(parse_head(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").is_err());
    }
}
