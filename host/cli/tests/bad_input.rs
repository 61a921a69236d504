//! Bad input: every malformed, oversized, mistyped or hostile request gets a 4xx problem
//! document, never a 5xx, and changes nothing.

mod common;

use common::{Client, Server};
use serde_json::json;

const SQLISH: &str = "x'); DROP TABLE users; --";

/// method, path, body, headers, expected status, expected problem type slug.
type Case<'a> = (
    &'a str,
    String,
    Vec<u8>,
    &'a [(&'a str, &'a str)],
    u16,
    &'a str,
);

fn snapshot(admin: &Client) -> String {
    let users = admin.get("/api/v1/users").body;
    let workspaces = admin.get("/api/v1/workspaces").body;
    let tokens = admin.get("/api/v1/tokens").body;
    format!("{users}\n{workspaces}\n{tokens}")
}

#[test]
fn malformed_mistyped_and_oversized_bodies_are_4xx_problems_that_change_nothing() {
    let server = Server::with_admin();
    let admin = server.admin();
    let ws = common::create_workspace(&admin, "Ops");
    let before = snapshot(&admin);
    let json_ct = [("content-type", "application/json")];

    // Nesting deeper than serde_json's recursion limit, inside a field and at the top.
    let nested_field = format!(
        "{{\"name\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/api/v1/workspaces".into(),
            b"{\"name\":".to_vec(),
            &json_ct,
            400,
            "bad-request",
        ),
        (
            "POST",
            "/api/v1/workspaces".into(),
            b"not json".to_vec(),
            &json_ct,
            400,
            "bad-request",
        ),
        (
            "POST",
            "/api/v1/workspaces".into(),
            nested_field.into_bytes(),
            &json_ct,
            422,
            "validation",
        ),
        (
            "POST",
            "/api/v1/workspaces".into(),
            deep.into_bytes(),
            &json_ct,
            422,
            "validation",
        ),
        // An array of a body's fields in order is not the body (serde would take it).
        (
            "POST",
            "/api/v1/workspaces".into(),
            b" [\"Sneaky\"]".to_vec(),
            &json_ct,
            422,
            "validation",
        ),
        (
            "POST",
            "/api/v1/workspaces".into(),
            b"{\"name\":\"a\"}".to_vec(),
            &[("content-type", "text/plain")],
            415,
            "unsupported-media-type",
        ),
        (
            "POST",
            "/api/v1/workspaces".into(),
            b"{\"name\":\"a\"}".to_vec(),
            &[],
            415,
            "unsupported-media-type",
        ),
        (
            "POST",
            "/api/v1/workspaces".into(),
            b"{\"name\":\"a\",\"owner\":\"me\"}".to_vec(),
            &json_ct,
            422,
            "validation",
        ),
        (
            "POST",
            "/api/v1/workspaces".into(),
            b"{\"name\":42}".to_vec(),
            &json_ct,
            422,
            "validation",
        ),
        (
            "POST",
            "/api/v1/workspaces".into(),
            b"[]".to_vec(),
            &json_ct,
            422,
            "validation",
        ),
        (
            "POST",
            "/api/v1/workspaces".into(),
            b"null".to_vec(),
            &json_ct,
            422,
            "validation",
        ),
        (
            "POST",
            "/api/v1/tokens".into(),
            format!("{{\"name\":\"t\",\"workspace_id\":\"{ws}\",\"expires_in_days\":-1}}")
                .into_bytes(),
            &json_ct,
            422,
            "validation",
        ),
        (
            "POST",
            "/api/v1/tokens".into(),
            format!("{{\"name\":\"t\",\"workspace_id\":\"{ws}\",\"expires_in_days\":\"7\"}}")
                .into_bytes(),
            &json_ct,
            422,
            "validation",
        ),
        (
            "POST",
            "/api/v1/tokens".into(),
            format!("{{\"name\":\"t\",\"workspace_id\":\"{ws}\",\"expires_in_days\":99999999999}}")
                .into_bytes(),
            &json_ct,
            422,
            "validation",
        ),
        (
            "POST",
            "/api/v1/users".into(),
            b"{\"email\":\"a@b.c\",\"password\":\"long enough\",\"instance_admin\":\"yes\"}"
                .to_vec(),
            &json_ct,
            422,
            "validation",
        ),
        (
            "POST",
            "/api/v1/users".into(),
            b"{\"email\":\"not an email\",\"password\":\"long enough\"}".to_vec(),
            &json_ct,
            422,
            "validation",
        ),
        (
            "PATCH",
            format!("/api/v1/workspaces/{ws}"),
            b"{\"name\":\"\\u0000\"}".to_vec(),
            &json_ct,
            422,
            "validation",
        ),
        (
            "POST",
            "/api/v1/auth/login".into(),
            b"{\"email\":\"admin@example.com\"}".to_vec(),
            &json_ct,
            422,
            "validation",
        ),
        // NUL names nothing, in a path or in a stored value, on either store.
        (
            "GET",
            format!("/api/v1/workspaces/{ws}/datasources/abc%00def"),
            Vec::new(),
            &json_ct,
            404,
            "not-found",
        ),
        (
            "DELETE",
            "/api/v1/tokens/abc%00".into(),
            Vec::new(),
            &json_ct,
            404,
            "not-found",
        ),
        (
            "POST",
            format!("/api/v1/workspaces/{ws}/constants"),
            b"{\"name\":\"nul\",\"value\":\"a\\u0000b\",\"secret\":false}".to_vec(),
            &json_ct,
            422,
            "validation",
        ),
    ];
    for (method, path, body, headers, status, slug) in cases {
        let r = admin.raw(method, &path, headers, Some(body));
        assert_eq!(
            r.status,
            status,
            "{method} {path}: {}",
            r.body.chars().take(300).collect::<String>()
        );
        r.expect_problem(status, slug);
        // Refused before any handler or not, every API answer carries the same headers.
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(r.header("cache-control"), Some("no-store"), "{path}");
    }
    let (status, body) = oversized_post(&server, &admin, 2 * 1024 * 1024);
    assert_eq!(status, 413, "{body}");
    assert!(
        body.contains("urn:lathe:problem:payload-too-large"),
        "{body}"
    );

    assert_eq!(snapshot(&admin), before);
}

/// POSTs a workspace whose JSON body has `size` bytes over a raw socket. The server may answer
/// 413 and close before the body is fully sent; writing happens on its own thread so that the
/// response is read whatever happens to the write.
fn oversized_post(server: &Server, admin: &Client, size: usize) -> (u16, String) {
    use std::io::{Read, Write};

    let addr = server.url.strip_prefix("http://").unwrap().to_string();
    let body = format!("{{\"name\":\"{}\"}}", "x".repeat(size));
    let head = format!(
        "POST /api/v1/workspaces HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nCookie: lathe_session={}\r\nOrigin: {}\r\nConnection: close\r\n\r\n",
        body.len(),
        admin.cookie.as_deref().unwrap(),
        server.url
    );
    let stream = std::net::TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let _ = writer
            .write_all(head.as_bytes())
            .and_then(|()| writer.write_all(body.as_bytes()));
    });
    let mut response = Vec::new();
    let _ = (&stream).read_to_end(&mut response);
    let _ = sender.join();

    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[test]
fn sql_looking_text_is_stored_and_returned_verbatim() {
    let server = Server::with_admin();
    let admin = server.admin();
    let r = admin.post("/api/v1/workspaces", &json!({ "name": SQLISH }));
    r.expect_status(201);
    let ws = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(
        admin.get(&format!("/api/v1/workspaces/{ws}")).json()["name"],
        SQLISH
    );

    let r = admin.post(
        "/api/v1/tokens",
        &json!({ "name": SQLISH, "workspace_id": ws, "expires_in_days": 1 }),
    );
    r.expect_status(201);
    assert_eq!(admin.get("/api/v1/tokens").json()[0]["name"], SQLISH);

    // SQL-looking text in ids, emails, filters and passwords: 4xx, never 5xx.
    let mut anon = server.client();
    anon.login(&format!("{SQLISH}@example.com"), SQLISH)
        .expect_problem(401, "invalid-credentials");
    anon.login("admin@example.com' OR '1'='1", "' OR '1'='1")
        .expect_problem(401, "invalid-credentials");
    admin
        .get(&format!("/api/v1/workspaces/{}", "1'%20OR%20'1'='1"))
        .expect_problem(404, "not-found");
    admin
        .delete("/api/v1/tokens/1'%20OR%201=1--")
        .expect_problem(404, "not-found");
    admin
        .post(
            &format!("/api/v1/workspaces/{ws}/members"),
            &json!({ "email": format!("a@b{SQLISH}"), "role": "viewer" }),
        )
        .expect_problem(422, "validation");
    let audit = admin.get(&format!(
        "/api/v1/workspaces/{ws}/audit?action={}&actor={}",
        "x'%20OR%201=1--", "%27%3B"
    ));
    audit.expect_status(200);
    assert_eq!(audit.json()["items"], json!([]));
    assert_eq!(
        admin.get("/api/v1/users").json().as_array().unwrap().len(),
        1
    );
    // An account whose email and password look like SQL works like any other.
    let email = "o'brien--;drop@example.com";
    admin
        .post(
            "/api/v1/users",
            &json!({ "email": email, "password": SQLISH }),
        )
        .expect_status(201);
    let mut obrien = server.client();
    obrien.login(email, SQLISH).expect_status(200);
    assert_eq!(obrien.get("/api/v1/auth/me").json()["user"]["email"], email);
    admin
        .post(
            &format!("/api/v1/workspaces/{ws}/members"),
            &json!({ "email": email, "role": "viewer" }),
        )
        .expect_status(201);
    assert_eq!(
        admin.get("/api/v1/users").json().as_array().unwrap().len(),
        2
    );
}

#[test]
fn error_bodies_never_carry_database_text() {
    let server = Server::with_admin();
    let admin = server.admin();
    admin
        .post(
            "/api/v1/users",
            &json!({ "email": "dup@example.com", "password": "long enough" }),
        )
        .expect_status(201);
    let r = admin.post(
        "/api/v1/users",
        &json!({ "email": "DUP@example.com", "password": "long enough" }),
    );
    let doc = r.expect_problem(409, "conflict");
    let text = r.body.to_lowercase();
    for leak in [
        "unique",
        "constraint",
        "sqlite",
        "postgres",
        "users.email",
        "duplicate key",
    ] {
        assert!(!text.contains(leak), "{leak} in {doc}");
    }
}

/// Sends `request` as raw bytes on a fresh connection and returns the status, the response
/// head and the body.
fn raw_exchange(server: &Server, request: &[u8]) -> (u16, String, String) {
    use std::io::{Read, Write};

    let addr = server.url.strip_prefix("http://").unwrap();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    // The server may answer and close before it has read everything.
    let _ = stream.write_all(request);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

/// A client that closes the connection halfway through a body has gone away; it did not send
/// a bad request. The request is counted and logged as abandoned (499), like one whose client
/// leaves while its query runs, and changes nothing.
#[test]
fn a_body_cut_short_by_the_client_leaving_is_logged_as_abandoned() {
    use std::io::Write;
    let server = Server::with_admin();
    let admin = server.admin();
    let before = snapshot(&admin);
    let request = format!(
        "POST /api/v1/workspaces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Cookie: lathe_session={}\r\nOrigin: {}\r\nX-Request-Id: left-mid-body\r\n\
         Content-Length: 1000\r\n\r\n{{\"name\": \"Hal",
        admin.cookie.as_deref().unwrap(),
        server.url
    );
    let addr = server.url.strip_prefix("http://").unwrap();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    drop(stream);

    let mut logged = None;
    for _ in 0..100 {
        let logs = server.logs();
        logged = logs
            .lines()
            .find(|l| l.contains("http.response") && l.contains("left-mid-body"))
            .map(str::to_string);
        if logged.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let logged = logged.unwrap_or_else(|| panic!("no log line:\n{}", server.logs()));
    assert!(logged.contains("status=499"), "{logged}");
    let metrics = admin.get("/metrics").body;
    let series: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("lathe_http_requests_total") && l.contains("workspaces\""))
        .collect();
    assert!(
        series.iter().any(|l| l.contains("status=\"499\"")),
        "{series:?}"
    );
    assert!(
        !series.iter().any(|l| l.contains("status=\"400\"")),
        "{series:?}"
    );
    // A client that only stopped sending (a half close) still reads the answer.
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = String::new();
    let _ = std::io::Read::read_to_string(&mut stream, &mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 499 Client Closed Request\r\n"),
        "{answer}"
    );
    assert!(
        answer.contains("urn:lathe:problem:client-closed"),
        "{answer}"
    );
    assert_eq!(snapshot(&admin), before);
}

/// A body declared larger than the limit is refused at once, before any of it is sent and
/// before authentication: nothing waits for a body that would be refused anyway.
#[test]
fn a_declared_body_over_the_limit_is_refused_at_once() {
    let server = Server::with_admin();
    let admin = server.admin();
    let request = format!(
        "POST /api/v1/workspaces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Cookie: lathe_session={}\r\nOrigin: {}\r\nContent-Length: 2000000\r\n\r\n",
        admin.cookie.as_deref().unwrap(),
        server.url
    );
    let started = std::time::Instant::now();
    let (status, head, body) = raw_exchange(&server, request.as_bytes());
    assert_eq!(status, 413, "{head}");
    assert!(body.contains("urn:lathe:problem:"), "{body}");
    assert!(head.to_lowercase().contains("connection: close"), "{head}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

/// A request refused before its body is read leaves the connection unusable for another
/// request, so the refusal says `connection: close` rather than let the client's next
/// request on it fail unanswered. A body that was read (a 422) keeps the connection.
#[test]
fn refusals_of_requests_with_a_body_close_the_connection() {
    let server = Server::with_admin();
    let body = "{\"name\": \"x\"}";
    let post = |path: &str, extra: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{extra}\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    for (request, status) in [
        (post("/api/v1/workspaces", ""), 401),
        (
            post(
                "/api/v1/workspaces/00000000-0000-0000-0000-000000000000/members",
                "",
            ),
            401,
        ),
    ] {
        let (got, head, _) = raw_exchange(&server, request.as_bytes());
        assert_eq!(got, status, "{head}");
        assert!(head.to_lowercase().contains("connection: close"), "{head}");
    }
    // Without a body, the connection stays open for the next request.
    let (head, second) = two_requests(
        &server,
        b"GET /api/v1/auth/me HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    assert!(!head.to_lowercase().contains("connection: close"), "{head}");
    assert!(second.starts_with("HTTP/1.1 200"), "{second}");
}

/// Sends `first`, reads its answer's head and body, then sends `second` on the same
/// connection and returns the first answer's head and all of the second answer.
fn two_requests(server: &Server, first: &[u8], second: &[u8]) -> (String, String) {
    use std::io::{BufRead, BufReader, Read, Write};

    let addr = server.url.strip_prefix("http://").unwrap();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    stream.write_all(first).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut head = String::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if let Some(value) = line.to_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap();
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    stream.write_all(second).unwrap();
    let mut rest = String::new();
    let _ = reader.read_to_string(&mut rest);
    (head, rest)
}

#[test]
fn requests_refused_before_routing_get_problem_documents_too() {
    let server = Server::start();
    let long_uri = format!("/api/v1/workspaces/{}", "a".repeat(70_000));
    let many_headers: String = (0..150).map(|i| format!("x-h{i}: {i}\r\n")).collect();
    let huge_header = format!("x-big: {}\r\n", "b".repeat(600_000));
    let cases: Vec<(String, u16, &str)> = vec![
        (
            format!("GET {long_uri} HTTP/1.1\r\nHost: x\r\n\r\n"),
            414,
            "uri-too-long",
        ),
        (
            format!("GET /livez HTTP/1.1\r\nHost: x\r\n{many_headers}\r\n"),
            431,
            "headers-too-large",
        ),
        (
            format!("GET /livez HTTP/1.1\r\nHost: x\r\n{huge_header}\r\n"),
            431,
            "headers-too-large",
        ),
        (
            "GET /livez HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n".into(),
            400,
            "bad-request",
        ),
        (
            "GET /livez HTTP/1.1\r\nHost: x\r\nContent-Length: nine\r\n\r\n".into(),
            400,
            "bad-request",
        ),
        (
            "PUT /api/v1/workspaces HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".into(),
            405,
            "method-not-allowed",
        ),
        (
            "BREW /api/v1/workspaces HTTP/1.1\r\nHost: x\r\n\r\n".into(),
            405,
            "method-not-allowed",
        ),
        (
            "DELETE /livez HTTP/1.1\r\nHost: x\r\n\r\n".into(),
            405,
            "method-not-allowed",
        ),
        (
            "GET /api/v2/nothing HTTP/1.1\r\nHost: x\r\n\r\n".into(),
            404,
            "not-found",
        ),
    ];
    for (request, status, slug) in cases {
        let request = request.replacen("\r\n", "\r\nConnection: close\r\n", 1);
        let (got, head, body) = raw_exchange(&server, request.as_bytes());
        let line = request.lines().next().unwrap_or_default();
        let line: String = line.chars().take(60).collect();
        assert_eq!(got, status, "{line}: {head}\n{body}");
        assert!(
            head.to_lowercase()
                .contains("content-type: application/problem+json"),
            "{line}: {head}"
        );
        let doc: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{line}: body is not JSON ({e}): {body:?}"));
        assert_eq!(doc["type"], format!("urn:lathe:problem:{slug}"), "{line}");
        assert_eq!(doc["status"], status, "{line}");
    }
    // The server is none the worse for it.
    server.client().get("/livez").expect_status(200);
}
