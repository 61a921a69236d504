//! An HTTP API on loopback for the REST connector's tests, with a canary server that
//! counts any connection it gets (it must get none).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode, body::Incoming, service::service_fn};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct TestApi {
    pub port: u16,
    canary: Arc<AtomicUsize>,
}

impl TestApi {
    pub async fn start() -> TestApi {
        let canary_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let canary_port = canary_listener.local_addr().unwrap().port();
        let canary = Arc::new(AtomicUsize::new(0));
        let hits = canary.clone();
        tokio::spawn(async move {
            while let Ok(_connection) = canary_listener.accept().await {
                hits.fetch_add(1, Ordering::SeqCst);
            }
        });

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let service = service_fn(move |request| respond(request, canary_port));
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
                );
            }
        });
        TestApi { port, canary }
    }

    /// Connections the canary (the off-origin redirect target) received.
    pub fn canary_hits(&self) -> usize {
        self.canary.load(Ordering::SeqCst)
    }
}

async fn respond(
    request: Request<Incoming>,
    canary_port: u16,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = request.into_body().collect().await?.to_bytes();

    let json = |status: StatusCode, value: serde_json::Value| {
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(value.to_string())))
            .unwrap()
    };
    let redirect = |location: String| {
        Response::builder()
            .status(StatusCode::FOUND)
            .header("location", location)
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    Ok(match path.as_str() {
        "/v1/items" => json(
            StatusCode::OK,
            serde_json::json!([{"id": 1, "name": "bolt"}, {"id": 2, "name": "nut"}]),
        ),
        "/v1/redirect-in" => redirect("/v1/items".into()),
        // An API that reflects the caller's credentials into its error body.
        "/v1/reflect-error" => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            serde_json::json!({"error": "boom", "you sent": authorization}),
        ),
        "/v1/redirect-out" => redirect(format!("http://127.0.0.1:{canary_port}/stolen")),
        p if p.starts_with("/v1/echo") => {
            let body: serde_json::Value =
                serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
            json(
                StatusCode::OK,
                serde_json::json!({
                    "method": method, "path": path, "query": query,
                    "authorization": authorization, "body": body
                }),
            )
        }
        _ => json(
            StatusCode::NOT_FOUND,
            serde_json::json!({"error": "no such thing"}),
        ),
    })
}
