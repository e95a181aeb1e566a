//! The observer's HTTP/1.1 server: a plain hyper service on its own listener, at most
//! [`MAX_CONNECTIONS`] connections at once.

use super::view::{self, SortKey, TableQuery};
use super::{Source, metrics};
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use warren_abi::query::percent_decode;

/// Most connections served at once (a browser opens a handful; scripts a few more).
pub(crate) const MAX_CONNECTIONS: usize = 64;
/// Most event streams (`/api/events`) open at once; one more is answered 503, so streams
/// cannot hold every connection.
pub(crate) const MAX_EVENT_STREAMS: usize = 16;

/// The header a kill (or upgrade) request must carry, with the action as its value (see the
/// module docs).
pub(crate) const KILL_HEADER: &str = "x-warren-observer";
/// The largest module `POST /api/upgrade` takes (as a cluster's module store does).
pub(crate) const MAX_MODULE_BYTES: usize = 512 << 20;

type Body = BoxBody<Bytes, Infallible>;

const PAGE: &str = include_str!("page.html");

pub(crate) async fn serve(listener: tokio::net::TcpListener, source: Source) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: wait, do not spin.
                tracing::debug!("observer: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!("observer: refusing {peer}: {MAX_CONNECTIONS} connections open");
            continue; // dropped: closed
        };
        let source = source.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let source = source.clone();
                async move { Ok::<_, Infallible>(route(&source, request).await) }
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .keep_alive(true);
            if let Err(e) = builder
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!("observer connection from {peer}: {e}");
            }
            drop(slot);
        });
    }
}

/// Walk the table for a request, one walk at a time, on a blocking thread: a walk of a
/// million processes takes half a second, which must not stall a runtime worker, and
/// requests arriving meanwhile wait their turn instead of walking side by side.
async fn walk<T: Send + 'static>(
    source: &Source,
    f: impl FnOnce(&crate::actor::ProcessTable) -> T + Send + 'static,
) -> Option<T> {
    let _turn = source.walks.clone().acquire_owned().await.ok()?;
    let table = source.table.upgrade()?;
    tokio::task::spawn_blocking(move || f(&table)).await.ok()
}

async fn route(source: &Source, request: Request<Incoming>) -> Response<Body> {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !source.guard.host_ok(host) {
        return error(
            StatusCode::MISDIRECTED_REQUEST,
            &format!(
                "the observer answers requests for {} only, not {host:?} (another name for \
                 it: --observe-host NAME)",
                source.guard.expected()
            ),
        );
    }
    let path = request.uri().path().to_string();
    let query = parse_query(request.uri().query().unwrap_or(""));
    let method = request.method().clone();
    if path == "/" && method == Method::GET {
        return respond(StatusCode::OK, "text/html; charset=utf-8", PAGE.into());
    }
    let Some(table) = source.table.upgrade() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the runtime has stopped");
    };
    let get = method == Method::GET || method == Method::HEAD;
    match path.as_str() {
        "/metrics" if get => {
            let s = source.clone();
            match walk(source, move |t| metrics::render(&s, t)).await {
                Some(text) => respond(
                    StatusCode::OK,
                    "text/plain; version=0.0.4; charset=utf-8",
                    text.into(),
                ),
                None => error(StatusCode::SERVICE_UNAVAILABLE, "the runtime has stopped"),
            }
        }
        "/api/summary" if get => json(view::summary(source, &table)),
        "/api/history" if get => json(view::history(&source.history.all())),
        "/api/exits" if get => match number(&query, "limit", 100) {
            Ok(limit) => json(view::exits(&table, limit)),
            Err(e) => error(StatusCode::BAD_REQUEST, &e),
        },
        "/api/processes" if get => match table_query(&query) {
            Ok(q) => match walk(source, move |t| view::processes(t, &q)).await {
                Some(v) => json(v),
                None => error(StatusCode::SERVICE_UNAVAILABLE, "the runtime has stopped"),
            },
            Err(e) => error(StatusCode::BAD_REQUEST, &e),
        },
        "/api/upgrade" => {
            drop(table);
            if method == Method::POST {
                upgrade(source, request).await
            } else {
                error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "POST a module to /api/upgrade to load it as a new version",
                )
            }
        }
        "/api/events" if get => match source.streams.clone().try_acquire_owned() {
            Ok(permit) => events(source.clone(), permit),
            Err(_) => error(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("{MAX_EVENT_STREAMS} event streams are open already"),
            ),
        },
        _ => {
            let Some(rest) = path.strip_prefix("/api/processes/") else {
                return error(StatusCode::NOT_FOUND, &format!("no such page: {path}"));
            };
            let (pid, action) = rest.split_once('/').unwrap_or((rest, ""));
            let Ok(pid) = pid.parse::<u64>() else {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("{pid:?} is not a pid (a decimal number)"),
                );
            };
            match (action, &method) {
                ("", m) if m == Method::GET || m == Method::HEAD => {
                    match view::process(&table, pid) {
                        Some(v) => json(v),
                        None => error(
                            StatusCode::NOT_FOUND,
                            &format!("process {pid} is not alive"),
                        ),
                    }
                }
                ("kill", &Method::POST) => kill(source, &table, pid, &request),
                _ => error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    &format!("{method} {path}: use GET /api/processes/PID or POST …/PID/kill"),
                ),
            }
        }
    }
}

/// The checks an act (`kill`, `upgrade`) passes before it is done: the header naming it, an
/// `Origin` (if any) that names the observer, and the token when one is needed.
fn may_act(source: &Source, request: &Request<Incoming>, act: &str) -> Result<(), Response<Body>> {
    if request.headers().get(KILL_HEADER).is_none_or(|v| v != act) {
        return Err(error(
            StatusCode::FORBIDDEN,
            &format!("{act} requests must carry the header `{KILL_HEADER}: {act}`"),
        ));
    }
    if let Some(origin) = request.headers().get(header::ORIGIN)
        && !origin.to_str().is_ok_and(|o| source.guard.origin_ok(o))
    {
        return Err(error(
            StatusCode::FORBIDDEN,
            &format!("{act} requests from a page of another origin are refused"),
        ));
    }
    let token = request
        .headers()
        .get(super::guard::TOKEN_HEADER)
        .and_then(|t| t.to_str().ok());
    if !source.guard.token_ok(token) {
        return Err(error(
            StatusCode::FORBIDDEN,
            &format!(
                "{}: this {act} must carry the token printed at start in `{}` (the page takes \
                 it from the #token= of its URL)",
                if act == "kill" {
                    "the observer listens beyond loopback"
                } else {
                    "loading a version runs new code"
                },
                super::guard::TOKEN_HEADER
            ),
        ));
    }
    Ok(())
}

/// `POST /api/upgrade`: load the body as a new version of the program.
async fn upgrade(source: &Source, request: Request<Incoming>) -> Response<Body> {
    if !source.allow_upgrade {
        return error(
            StatusCode::FORBIDDEN,
            "loading a version from the observer is off: start warren with \
             --observe-allow-upgrade",
        );
    }
    if let Err(refused) = may_act(source, &request, "upgrade") {
        return refused;
    }
    let Some(load) = source.upgrader.get().cloned() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the runtime is starting");
    };
    let body = http_body_util::Limited::new(request.into_body(), MAX_MODULE_BYTES);
    let bytes = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("a module is at most {} MiB", MAX_MODULE_BYTES >> 20),
            );
        }
        Err(e) => {
            return error(StatusCode::BAD_REQUEST, &format!("reading the module: {e}"));
        }
    };
    let size = bytes.len();
    match load(bytes.to_vec()).await {
        Ok(loaded) => {
            let text = loaded["text"].as_str().unwrap_or_default();
            tracing::info!(target: "warren::upgrade", "observer: {text}");
            json(loaded)
        }
        Err(e) => {
            tracing::warn!(
                target: "warren::upgrade",
                "observer: a module of {size} bytes was not loaded: {e}"
            );
            error(StatusCode::UNPROCESSABLE_ENTITY, &e)
        }
    }
}

fn kill(
    source: &Source,
    table: &crate::actor::ProcessTable,
    pid: u64,
    request: &Request<Incoming>,
) -> Response<Body> {
    if !source.allow_kill {
        return error(
            StatusCode::FORBIDDEN,
            "killing from the observer is off: start warren with --observe-allow-kill",
        );
    }
    if let Err(refused) = may_act(source, request, "kill") {
        return refused;
    }
    if !table.is_local(pid) {
        return error(
            StatusCode::NOT_FOUND,
            &format!("process {pid} is on another node"),
        );
    }
    if table.kill(pid) {
        tracing::info!(pid, "killed from the observer");
        json(serde_json::json!({"killed": pid}))
    } else {
        error(
            StatusCode::NOT_FOUND,
            &format!("process {pid} is not alive"),
        )
    }
}

/// `summary` events, one per sampling interval, until the client goes or the runtime ends;
/// the stream holds one of the [`MAX_EVENT_STREAMS`] permits while it lives.
fn events(source: Source, permit: tokio::sync::OwnedSemaphorePermit) -> Response<Body> {
    let start = (source, true, permit);
    let stream = futures_util::stream::unfold(start, |(source, first, permit)| async move {
        if !first {
            tokio::time::sleep(super::history::INTERVAL).await;
        }
        let table = source.table.upgrade()?;
        let data = view::summary(&source, &table);
        drop(table);
        let frame = Frame::data(Bytes::from(format!("event: summary\ndata: {data}\n\n")));
        Some((Ok::<_, Infallible>(frame), (source, false, permit)))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .unwrap_or_else(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "bad response"))
}

/// The table query of a request; what is wrong with it otherwise.
fn table_query(query: &[(String, String)]) -> Result<TableQuery, String> {
    let sort = match param(query, "sort") {
        None => SortKey::Pid,
        Some(s) => SortKey::parse(s).ok_or_else(|| {
            format!(
                "sort={s:?}: expected pid, name, state, mailbox, mailbox_bytes, memory, cpu, \
                 spawned or parent"
            )
        })?,
    };
    let descending = match param(query, "order") {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(o) => return Err(format!("order={o:?}: expected asc or desc")),
    };
    let state = match param(query, "state") {
        None | Some("") => None,
        Some(s) => Some(view::parse_state(s).ok_or_else(|| {
            format!("state={s:?}: expected running, runnable, waiting, hibernated or host")
        })?),
    };
    let limit = number(query, "limit", 50)?;
    if limit > view::MAX_PAGE {
        return Err(format!(
            "limit={limit}: at most {} rows a page",
            view::MAX_PAGE
        ));
    }
    Ok(TableQuery {
        offset: number(query, "offset", 0)?,
        limit,
        sort,
        descending,
        text: param(query, "q")
            .filter(|t| !t.is_empty())
            .map(str::to_string),
        state,
    })
}

fn param<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn number(query: &[(String, String)], key: &str, default: usize) -> Result<usize, String> {
    match param(query, key) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| format!("{key}={v:?}: expected a number")),
    }
}

/// `a=1&b=x%20y` as pairs, percent- and `+`-decoded.
fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn json(v: serde_json::Value) -> Response<Body> {
    respond(StatusCode::OK, "application/json", v.to_string().into())
}

fn error(status: StatusCode, message: &str) -> Response<Body> {
    respond(
        status,
        "application/json",
        serde_json::json!({ "error": message }).to_string().into(),
    )
}

fn respond(status: StatusCode, content_type: &str, body: Bytes) -> Response<Body> {
    let mut r = Response::new(BodyExt::boxed(Full::new(body)));
    *r.status_mut() = status;
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_decoded() {
        assert_eq!(
            parse_query("q=a%20b+c&sort=pid&x&bad=%zz&end=%4"),
            vec![
                ("q".into(), "a b c".into()),
                ("sort".into(), "pid".into()),
                ("x".into(), "".into()),
                ("bad".into(), "%zz".into()),
                ("end".into(), "%4".into()),
            ]
        );
    }
}
