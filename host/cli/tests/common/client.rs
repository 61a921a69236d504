//! A small HTTP client for the tests: keeps the session cookie by hand (so tests can see and
//! tamper with it), sends the base URL as Origin like a browser would, or a bearer token.

use std::time::Duration;

use serde_json::Value;

pub struct Resp {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    #[track_caller]
    pub fn expect_status(&self, status: u16) -> &Resp {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem document with the given status and type slug.
    #[track_caller]
    pub fn expect_problem(&self, status: u16, slug: &str) -> Value {
        self.expect_status(status);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "body: {}",
            self.body
        );
        let doc = self.json();
        assert_eq!(
            doc["type"],
            format!("urn:lathe:problem:{slug}"),
            "body: {}",
            self.body
        );
        assert_eq!(doc["status"], status);
        doc
    }
}

#[derive(Clone)]
pub struct Client {
    pub base: String,
    agent: ureq::Agent,
    pub cookie: Option<String>,
    pub origin: Option<String>,
    pub bearer: Option<String>,
}

impl Client {
    pub fn new(base: &str) -> Client {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            // A fresh connection per request: a pooled one the server has just closed would
            // fail the next request for reasons that have nothing to do with the test.
            .max_idle_connections(0)
            .timeout_global(Some(Duration::from_secs(60)))
            .build();
        Client {
            base: base.to_string(),
            agent: ureq::Agent::new_with_config(config),
            cookie: None,
            origin: Some(base.to_string()),
            bearer: None,
        }
    }

    pub fn with_bearer(&self, token: &str) -> Client {
        let mut c = Client::new(&self.base);
        c.bearer = Some(token.to_string());
        c.origin = None;
        c
    }

    /// Sends a request with a raw body and extra headers; panics on a transport error.
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Resp {
        self.try_raw(method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// Sends a JSON request; `Err` on a transport error (e.g. the server was killed).
    pub fn try_send(&self, method: &str, path: &str, body: &Value) -> Result<Resp, ureq::Error> {
        let headers = [("content-type", "application/json")];
        self.try_raw(method, path, &headers, Some(body.to_string().into_bytes()))
    }

    fn try_raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<Resp, ureq::Error> {
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            req = req.header("cookie", format!("lathe_session={cookie}"));
        }
        if let Some(origin) = &self.origin {
            req = req.header("origin", origin);
        }
        if let Some(token) = &self.bearer {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = match body {
            Some(b) => self.agent.run(req.body(b).unwrap()),
            None => self.agent.run(req.body(()).unwrap()),
        }?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        Ok(Resp {
            status,
            headers,
            body,
        })
    }

    pub fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Resp {
        match body {
            Some(v) => self.raw(
                method,
                path,
                &[("content-type", "application/json")],
                Some(v.to_string().into_bytes()),
            ),
            None => self.raw(method, path, &[], None),
        }
    }

    pub fn get(&self, path: &str) -> Resp {
        self.send("GET", path, None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Resp {
        self.send("POST", path, Some(body))
    }

    pub fn patch(&self, path: &str, body: &Value) -> Resp {
        self.send("PATCH", path, Some(body))
    }

    pub fn delete(&self, path: &str) -> Resp {
        self.send("DELETE", path, None)
    }

    /// Logs in; on success keeps the new session cookie.
    pub fn login(&mut self, email: &str, password: &str) -> Resp {
        let resp = self.post(
            "/api/v1/auth/login",
            &serde_json::json!({ "email": email, "password": password }),
        );
        if let Some(value) = session_from_set_cookie(&resp) {
            self.cookie = Some(value);
        }
        resp
    }
}

/// The session id a response's Set-Cookie carries, if it sets a non-empty one.
pub fn session_from_set_cookie(resp: &Resp) -> Option<String> {
    let set = resp.header("set-cookie")?;
    let value = set.split(';').next()?.strip_prefix("lathe_session=")?;
    (!value.is_empty()).then(|| value.to_string())
}
