//! A small HTTP/1.1 server on 127.0.0.1 for tests: each test scripts its answers with a
//! closure and reads back what requests arrived. Real sockets, real HTTP; one response per
//! connection (`Connection: close`), which is all a feed poller needs.
//!
//! [`TestServer`] answers with a whole body and `Content-Length`. [`RawServer`] hands the
//! socket itself to the test after reading the request head, for answers a well-behaved server
//! never gives: streamed without end, trickled, never sent, or not HTTP at all.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    /// Header names lowercased.
    pub headers: HashMap<String, String>,
}

/// What to answer.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status: 200,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
        }
    }

    pub fn status(status: u16) -> Response {
        Response {
            status,
            headers: vec![],
            body: format!("status {status}").into_bytes(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }
}

type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// A running test server. Dropping it does not stop the accept loop; [`TestServer::stop`] does.
pub struct TestServer {
    pub addr: SocketAddr,
    handler: Arc<Mutex<Handler>>,
    requests: Arc<Mutex<Vec<Request>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub async fn start(
        handler: impl Fn(&Request) -> Response + Send + Sync + 'static,
    ) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let handler: Arc<Mutex<Handler>> = Arc::new(Mutex::new(Arc::new(handler)));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (h, r) = (handler.clone(), requests.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (h, r) = (h.clone(), r.clone());
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut socket).await else {
                        return;
                    };
                    r.lock().unwrap().push(request.clone());
                    let handler = h.lock().unwrap().clone();
                    let response = handler(&request);
                    let mut head = format!(
                        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                        response.status,
                        response.body.len()
                    );
                    for (name, value) in &response.headers {
                        head.push_str(&format!("{name}: {value}\r\n"));
                    }
                    head.push_str("\r\n");
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(&response.body).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        TestServer {
            addr,
            handler,
            requests,
            accept,
        }
    }

    /// Stops listening: connections are refused from now on.
    pub fn stop(&self) {
        self.accept.abort();
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Replaces the answers from now on.
    pub fn respond(&self, handler: impl Fn(&Request) -> Response + Send + Sync + 'static) {
        *self.handler.lock().unwrap() = Arc::new(handler);
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&buf);
    let mut lines = text.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_owned();
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Some(Request { path, headers })
}

/// What a [`RawServer`] handler returns: the work of answering one connection.
pub type RawAnswer = Pin<Box<dyn Future<Output = ()> + Send>>;

type RawHandler = Arc<dyn Fn(Request, tokio::net::TcpStream) -> RawAnswer + Send + Sync>;

/// Longest a [`RawServer`] connection lives, whatever its handler does: a guard so that a
/// handler that stalls or streams forever cannot outlive the test that needs it.
pub const RAW_CONNECTION_LIMIT: Duration = Duration::from_secs(20);

/// A server whose handler gets the request and the socket, and writes what it likes.
pub struct RawServer {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl RawServer {
    pub async fn start(
        handler: impl Fn(Request, tokio::net::TcpStream) -> RawAnswer + Send + Sync + 'static,
    ) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let handler: RawHandler = Arc::new(handler);
        let requests = Arc::new(Mutex::new(Vec::new()));
        let r = requests.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (h, r) = (handler.clone(), r.clone());
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut socket).await else {
                        return;
                    };
                    r.lock().unwrap().push(request.clone());
                    let _ = tokio::time::timeout(RAW_CONNECTION_LIMIT, h(request, socket)).await;
                });
            }
        });
        RawServer { addr, requests }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}
