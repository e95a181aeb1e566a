//! RESP2, the Redis protocol: parsing requests and encoding replies.

/// Largest request buffered before the connection is refused.
pub const MAX_REQUEST: usize = 64 << 20;
/// Most arguments in one command.
const MAX_ARGS: usize = 1 << 20;

/// What the start of a buffer holds.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    /// A command's arguments and how many bytes it took.
    Command(Vec<Vec<u8>>, usize),
    /// Not a whole command yet.
    Incomplete,
    /// Not RESP.
    Invalid(String),
}

/// Find `\r\n` from `from`; the index of `\r`.
fn line_end(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|i| from + i)
}

fn number(buf: &[u8]) -> Option<i64> {
    std::str::from_utf8(buf).ok()?.parse().ok()
}

/// Parse one request: an array of bulk strings (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`), or an
/// inline command (`PING\r\n`) as typed into telnet.
pub fn parse(buf: &[u8]) -> Parsed {
    let Some(&first) = buf.first() else {
        return Parsed::Incomplete;
    };
    if first != b'*' {
        let Some(end) = line_end(buf, 0) else {
            return if buf.len() > 64 * 1024 {
                Parsed::Invalid("too big inline request".into())
            } else {
                Parsed::Incomplete
            };
        };
        let args = buf[..end]
            .split(|b| b.is_ascii_whitespace())
            .filter(|a| !a.is_empty())
            .map(<[u8]>::to_vec)
            .collect::<Vec<_>>();
        // An empty line is an empty command, which the server skips.
        return Parsed::Command(args, end + 2);
    }
    let Some(end) = line_end(buf, 1) else {
        return Parsed::Incomplete;
    };
    let count = match number(&buf[1..end]) {
        Some(n) if (0..=MAX_ARGS as i64).contains(&n) => n as usize,
        _ => return Parsed::Invalid("invalid multibulk length".into()),
    };
    let mut pos = end + 2;
    let mut args = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        if pos >= buf.len() {
            return Parsed::Incomplete;
        }
        if buf[pos] != b'$' {
            return Parsed::Invalid(format!("expected '$', got '{}'", buf[pos] as char));
        }
        let Some(end) = line_end(buf, pos + 1) else {
            return Parsed::Incomplete;
        };
        let len = match number(&buf[pos + 1..end]) {
            Some(n) if (0..=MAX_REQUEST as i64).contains(&n) => n as usize,
            _ => return Parsed::Invalid("invalid bulk length".into()),
        };
        let start = end + 2;
        if buf.len() < start + len + 2 {
            return Parsed::Incomplete;
        }
        if &buf[start + len..start + len + 2] != b"\r\n" {
            return Parsed::Invalid("bulk string not followed by CRLF".into());
        }
        args.push(buf[start..start + len].to_vec());
        pos = start + len + 2;
    }
    Parsed::Command(args, pos)
}

/// A reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

impl Reply {
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Reply::Simple(s) => {
                out.push(b'+');
                out.extend_from_slice(s.as_bytes());
            }
            Reply::Error(s) => {
                out.push(b'-');
                out.extend(
                    s.bytes()
                        .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
                );
            }
            Reply::Integer(n) => out.extend_from_slice(format!(":{n}").as_bytes()),
            Reply::Bulk(None) => out.extend_from_slice(b"$-1"),
            Reply::Bulk(Some(b)) => {
                out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
                out.extend_from_slice(b);
            }
            Reply::Array(items) => {
                out.extend_from_slice(format!("*{}\r\n", items.len()).as_bytes());
                for i in items {
                    i.encode(out);
                }
                return;
            }
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// Redis-style glob: `*` any run, `?` any byte, `\x` a literal x, `[abc]` a set.
pub fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    star = Some((p, t));
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                b'[' => {
                    if let Some(close) = pattern[p + 1..].iter().position(|&b| b == b']') {
                        let set = &pattern[p + 1..p + 1 + close];
                        if set.contains(&text[t]) {
                            p += close + 2;
                            t += 1;
                            continue;
                        }
                    } else if text[t] == b'[' {
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
                b'\\' if p + 1 < pattern.len() && pattern[p + 1] == text[t] => {
                    p += 2;
                    t += 1;
                    continue;
                }
                c if c == text[t] => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                p = sp + 1;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}
