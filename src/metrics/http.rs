//! The metrics HTTP endpoint: `GET /metrics` (Prometheus text format), `GET /healthz`
//! (`ok`), anything else 404. A hyper HTTP/1 server on a single-threaded tokio runtime,
//! on its own thread: the only async code in Rustis.
//!
//! Must hold: a scrape never touches the command path beyond reading counters (the
//! `render` callback); the thread stops within ~200 ms of `stop` becoming true.

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::CONTENT_TYPE;
use hyper::{Method, Request, Response, StatusCode};
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Produces the `/metrics` body.
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

fn respond(status: StatusCode, ctype: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, hyper::header::HeaderValue::from_static(ctype));
    r
}

async fn handle(req: Request<Incoming>, render: Render) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => respond(StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", render()),
        (&Method::GET, "/healthz") => respond(StatusCode::OK, "text/plain; charset=utf-8", "ok\n".into()),
        _ => respond(StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "not found\n".into()),
    })
}

/// Binds `addr` and serves on a new thread until `stop` is set. Returns the bound
/// address (port 0 picks a free one) and the thread.
pub fn spawn(
    addr: SocketAddr,
    render: Render,
    stop: Arc<AtomicBool>,
) -> io::Result<(SocketAddr, std::thread::JoinHandle<()>)> {
    let std_listener = std::net::TcpListener::bind(addr)?;
    std_listener.set_nonblocking(true)?;
    let local = std_listener.local_addr()?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build()?;
    let thread = std::thread::Builder::new().name("rustis-metrics".into()).spawn(move || {
        rt.block_on(async move {
            let listener = match tokio::net::TcpListener::from_std(std_listener) {
                Ok(l) => l,
                Err(e) => {
                    log::error!("metrics endpoint: {e}");
                    return;
                }
            };
            while !stop.load(Ordering::Acquire) {
                let Ok(accepted) = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await else {
                    continue;
                };
                let Ok((stream, _)) = accepted else { continue };
                let render = render.clone();
                tokio::spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let svc = hyper::service::service_fn(move |req| handle(req, render.clone()));
                    let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, svc);
                    // Bound a connection's life so a stuck scraper cannot pile up tasks.
                    let _ = tokio::time::timeout(Duration::from_secs(30), conn).await;
                });
            }
        });
    })?;
    Ok((local, thread))
}
