//! The datasource configuration: where the API is and how to authenticate.

use lathe_plugin_sdk::Error;
use serde_json::Value as Json;

#[derive(Debug, Clone)]
pub enum Auth {
    None,
    Basic {
        username: String,
        password: String,
    },
    Bearer {
        token: String,
    },
    ApiKey {
        name: String,
        key: String,
        in_query: bool,
    },
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The base URL without a trailing `/`.
    pub base: url::Url,
    pub auth: Auth,
    pub headers: Vec<(String, String)>,
    pub timeout_ms: u64,
    pub max_response_bytes: usize,
}

fn text(config: &Json, key: &str) -> Option<String> {
    config.get(key).and_then(Json::as_str).map(str::to_string)
}

fn required(config: &Json, key: &str, why: &str) -> Result<String, Error> {
    text(config, key)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::InvalidConfig(format!("`{key}` is required {why}")))
}

impl Config {
    pub fn parse(config: &Json) -> Result<Config, Error> {
        let raw = required(config, "base_url", "")?;
        let base = url::Url::parse(&raw)
            .map_err(|e| Error::InvalidConfig(format!("`base_url` is not a URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(Error::InvalidConfig(
                "`base_url` must be an http or https URL with a host".into(),
            ));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(Error::InvalidConfig(
                "`base_url` must not carry credentials; use the authentication fields".into(),
            ));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(Error::InvalidConfig(
                "`base_url` must not have a query or fragment; put parameters in the query".into(),
            ));
        }

        let auth = match text(config, "auth_type").as_deref().unwrap_or("none") {
            "none" => Auth::None,
            "basic" => Auth::Basic {
                username: required(config, "username", "for basic authentication")?,
                password: text(config, "password").unwrap_or_default(),
            },
            "bearer" => Auth::Bearer {
                token: required(config, "token", "for bearer authentication")?,
            },
            "api_key" => Auth::ApiKey {
                name: required(config, "api_key_name", "for API key authentication")?,
                key: required(config, "api_key", "for API key authentication")?,
                in_query: text(config, "api_key_location").as_deref() == Some("query"),
            },
            other => {
                return Err(Error::InvalidConfig(format!(
                    "`auth_type` `{other}` is not one of none, basic, bearer, api_key"
                )));
            }
        };

        let mut headers = Vec::new();
        if let Some(map) = config.get("headers").and_then(Json::as_object) {
            for (name, value) in map {
                let value = value.as_str().ok_or_else(|| {
                    Error::InvalidConfig(format!("default header `{name}` must be a string"))
                })?;
                headers.push((name.clone(), value.to_string()));
            }
        }
        let number =
            |key: &str, default: u64| config.get(key).and_then(Json::as_u64).unwrap_or(default);
        Ok(Config {
            base,
            auth,
            headers,
            timeout_ms: number("timeout_ms", 30_000),
            max_response_bytes: number("max_response_bytes", 16 << 20) as usize,
        })
    }

    /// `scheme://host:port` of the base URL: the only origin requests may go to.
    pub fn origin(&self) -> url::Origin {
        self.base.origin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_each_auth_kind() {
        let c = Config::parse(&json!({"base_url": "https://api.example.com/v1"})).unwrap();
        assert!(matches!(c.auth, Auth::None));
        let c = Config::parse(&json!({
            "base_url": "https://x.io", "auth_type": "api_key", "api_key_name": "k",
            "api_key": "s", "api_key_location": "query"
        }))
        .unwrap();
        assert!(matches!(c.auth, Auth::ApiKey { in_query: true, .. }));
    }

    #[test]
    fn refuses_bad_base_urls_and_missing_secrets() {
        for config in [
            json!({"base_url": "ftp://x.io"}),
            json!({"base_url": "https://user:pw@x.io"}),
            json!({"base_url": "https://x.io/?a=1"}),
            json!({"base_url": "https://x.io", "auth_type": "bearer"}),
            json!({}),
        ] {
            assert!(
                matches!(Config::parse(&config), Err(Error::InvalidConfig(_))),
                "{config}"
            );
        }
    }
}
