//! A query and its parameters turned into an HTTP request on the base URL's origin.
//! Path values are percent-encoded segments, query values are encoded components, JSON
//! bodies carry typed values, and a header value can't smuggle a line break.

use crate::config::{Auth, Config};
use base64::Engine as _;
use lathe_plugin_sdk::{Error, Param, json, url as url_params};
use serde_json::Value as Json;

/// The request to send, before redirects.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub method: String,
    pub url: url::Url,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

pub fn build(config: &Config, query: &Json, params: &[Param]) -> Result<Outgoing, Error> {
    let field = |key: &str| query.get(key).and_then(Json::as_str);
    let method = field("method").unwrap_or("GET").to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(Error::InvalidQuery(format!(
            "`{method}` is not a supported method"
        )));
    }

    let mut url = target(config, field("path").unwrap_or("/"), params)?;
    let mut pairs = Vec::new();
    if let Some(map) = query.get("query").and_then(Json::as_object) {
        for (name, value) in map {
            let value = value.as_str().ok_or_else(|| {
                Error::InvalidQuery(format!("query parameter `{name}` must be a string"))
            })?;
            pairs.push(format!(
                "{}={}",
                url_params::render_component(name, params)?,
                url_params::render_component(value, params)?
            ));
        }
    }
    if let Auth::ApiKey {
        name,
        key,
        in_query: true,
    } = &config.auth
    {
        pairs.push(format!(
            "{}={}",
            url_params::encode_component(name),
            url_params::encode_component(key)
        ));
    }
    if !pairs.is_empty() {
        url.set_query(Some(&pairs.join("&")));
    }

    let mut headers = config.headers.clone();
    if let Some(map) = query.get("headers").and_then(Json::as_object) {
        for (name, value) in map {
            let value = value
                .as_str()
                .ok_or_else(|| Error::InvalidQuery(format!("header `{name}` must be a string")))?;
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            headers.push((name.clone(), json::render_text(value, params)?));
        }
    }
    for (name, value) in &headers {
        if value.contains(['\r', '\n']) || name.contains(['\r', '\n', ':']) {
            return Err(Error::InvalidQuery(format!(
                "header `{}` contains a line break or colon",
                name.trim()
            )));
        }
    }
    match &config.auth {
        Auth::None | Auth::ApiKey { in_query: true, .. } => {}
        Auth::Basic { username, password } => {
            let pair =
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
            set_header(&mut headers, "authorization", format!("Basic {pair}"));
        }
        Auth::Bearer { token } => {
            set_header(&mut headers, "authorization", format!("Bearer {token}"));
        }
        Auth::ApiKey { name, key, .. } => set_header(&mut headers, name, key.clone()),
    }

    let body = body(query, params, &mut headers)?;
    Ok(Outgoing {
        method,
        url,
        headers,
        body,
    })
}

/// The base URL joined with the rendered path. The path is relative to the base URL's path
/// (`/users` under `https://x.io/v1` is `https://x.io/v1/users`) and stays under it: `.` and
/// `..` segments (also percent-encoded, or after a backslash, which URLs read as `/`) are
/// refused rather than resolved, since a query could otherwise reach `/admin` beside `/v1`.
fn target(config: &Config, path: &str, params: &[Param]) -> Result<url::Url, Error> {
    if path.contains("://") || path.starts_with("//") || path.contains(['?', '#']) {
        return Err(Error::InvalidQuery(
            "`path` is relative to the base URL: no scheme, host, query or fragment (use \
             `query` for parameters)"
                .into(),
        ));
    }
    let rendered = url_params::render_path(path, params)?;
    if rendered.split(['/', '\\']).any(dot_segment) {
        return Err(Error::InvalidQuery(format!(
            "`path` {path:?} has a `.` or `..` segment; paths stay under the base URL's path, \
             so write the path from there"
        )));
    }
    let base_path = config.base.path().trim_end_matches('/');
    let joined = format!("{base_path}/{}", rendered.trim_start_matches('/'));
    let mut url = config.base.clone();
    url.set_path(&joined);
    let under_base = url.path() == base_path || url.path().starts_with(&format!("{base_path}/"));
    if url.origin() != config.origin() || !under_base {
        return Err(Error::Denied(format!(
            "the path {path:?} leads out of the base URL {}",
            config.base
        )));
    }
    Ok(url)
}

/// `.` or `..`, as written or percent-encoded (`%2e`, `.%2E`, …).
fn dot_segment(segment: &str) -> bool {
    let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
    decoded == "." || decoded == ".."
}

fn body(
    query: &Json,
    params: &[Param],
    headers: &mut Vec<(String, String)>,
) -> Result<Option<Vec<u8>>, Error> {
    let kind = query
        .get("body_type")
        .and_then(Json::as_str)
        .unwrap_or("none");
    let value = query.get("body");
    let content_type = match kind {
        "none" => return Ok(None),
        "json" => "application/json",
        "form" => "application/x-www-form-urlencoded",
        "raw" => "text/plain; charset=utf-8",
        other => {
            return Err(Error::InvalidQuery(format!(
                "`body_type` `{other}` is not one of none, json, form, raw"
            )));
        }
    };
    let bytes = match (kind, value) {
        ("json", Some(doc)) => json::render(doc, params)?.to_string().into_bytes(),
        ("json", None) => b"null".to_vec(),
        ("form", Some(Json::Object(fields))) => {
            let mut pairs = Vec::new();
            for (name, value) in fields {
                let value = value.as_str().ok_or_else(|| {
                    Error::InvalidQuery(format!("form field `{name}` must be a string"))
                })?;
                pairs.push(format!(
                    "{}={}",
                    url_params::render_component(name, params)?,
                    url_params::render_component(value, params)?
                ));
            }
            pairs.join("&").into_bytes()
        }
        ("raw", Some(Json::String(text))) => json::render_text(text, params)?.into_bytes(),
        (kind, _) => {
            return Err(Error::InvalidQuery(format!(
                "`body` does not fit body_type `{kind}`: form takes an object of strings, raw a \
                 string"
            )));
        }
    };
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("content-type".into(), content_type.into()));
    }
    Ok(Some(bytes))
}

fn set_header(headers: &mut Vec<(String, String)>, name: &str, value: String) {
    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    headers.push((name.to_string(), value));
}

#[cfg(test)]
mod tests {
    use super::*;
    use lathe_plugin_sdk::Value;
    use serde_json::json;

    fn config(extra: Json) -> Config {
        let mut c = json!({"base_url": "https://api.example.com/v1/"});
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        Config::parse(&c).unwrap()
    }

    fn params() -> Vec<Param> {
        vec![
            Param {
                name: "inputs.id".into(),
                value: Value::Text("7/../../admin".into()),
            },
            Param {
                name: "inputs.q".into(),
                value: Value::Text("a&b=c".into()),
            },
            Param {
                name: "inputs.n".into(),
                value: Value::Int(3),
            },
        ]
    }

    #[test]
    fn values_stay_inside_their_path_segment_and_query_value() {
        let q = json!({"path": "/users/{{ inputs.id }}", "query": {"q": "{{ inputs.q }}"}});
        let out = build(&config(json!({})), &q, &params()).unwrap();
        assert_eq!(
            out.url.as_str(),
            "https://api.example.com/v1/users/7%2F..%2F..%2Fadmin?q=a%26b%3Dc"
        );
    }

    #[test]
    fn json_bodies_keep_types() {
        let q = json!({"method": "post", "body_type": "json", "body": {"n": "{{ inputs.n }}"}});
        let out = build(&config(json!({})), &q, &params()).unwrap();
        assert_eq!(out.method, "POST");
        assert_eq!(out.body.unwrap(), br#"{"n":3}"#);
        assert!(
            out.headers
                .contains(&("content-type".into(), "application/json".into()))
        );
    }

    #[test]
    fn paths_cannot_name_another_origin() {
        for path in ["https://evil.example/x", "//evil.example/x", "/x?y=1"] {
            let err = build(&config(json!({})), &json!({"path": path}), &params());
            assert!(err.is_err(), "{path}");
        }
    }

    #[test]
    fn paths_stay_under_the_base_path() {
        for path in [
            "/../admin",
            "/x/../../admin",
            "/%2e%2e/admin",
            "/.%2E/admin",
            "/..\\admin",
            "/./x",
            "..",
        ] {
            let err = build(&config(json!({})), &json!({"path": path}), &params()).unwrap_err();
            assert!(matches!(err, Error::InvalidQuery(_)), "{path}: {err:?}");
        }
        for path in ["/users/..x", "/a.b/c", "/", ""] {
            let out = build(&config(json!({})), &json!({"path": path}), &params()).unwrap();
            assert!(
                out.url.as_str().starts_with("https://api.example.com/v1/"),
                "{path}: {}",
                out.url
            );
        }
    }

    #[test]
    fn header_values_cannot_break_lines() {
        let p = vec![Param {
            name: "inputs.h".into(),
            value: Value::Text("x\r\nX-Admin: 1".into()),
        }];
        let q = json!({"headers": {"X-Trace": "{{ inputs.h }}"}});
        assert!(build(&config(json!({})), &q, &p).is_err());
    }

    #[test]
    fn auth_is_applied() {
        let c = config(json!({"auth_type": "basic", "username": "u", "password": "p"}));
        let out = build(&c, &json!({}), &[]).unwrap();
        assert!(
            out.headers
                .contains(&("authorization".into(), "Basic dTpw".into()))
        );
        let c = config(
            json!({"auth_type": "api_key", "api_key_name": "key", "api_key": "s e",
            "api_key_location": "query"}),
        );
        let out = build(&c, &json!({"query": {"a": "1"}}), &[]).unwrap();
        assert_eq!(out.url.query(), Some("a=1&key=s%20e"));
    }
}
