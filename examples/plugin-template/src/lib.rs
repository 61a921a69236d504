//! A Lathe connector that GETs JSON from an HTTP API and returns it as rows.
//!
//! Build: `cargo build --target wasm32-wasip2 --profile wasm`
//! Try:   `lathe plugin run . --config '{"base_url":"http://127.0.0.1:8000"}'
//!         --query '{"path":"/items/{{ inputs.id }}"}' --inputs '{"id":7}'`
//!
//! The manifest (`lathe-plugin.json`) declares what the connector may reach
//! (`http://{base_url}`: the origin of the configured URL, nothing else) and which
//! configuration fields are secret.

use lathe_plugin_sdk::{
    Column, ColumnType, Connector, Error, Request, ResultHead, Value, export_connector, http,
    results::Buffered, url,
};
use std::time::Duration;

struct Api {
    base_url: String,
    token: Option<String>,
    rows: Buffered,
}

impl Connector for Api {
    fn open(config: serde_json::Value) -> Result<Self, Error> {
        let base_url = config["base_url"]
            .as_str()
            .ok_or_else(|| Error::InvalidConfig("base_url is required".into()))?;
        Ok(Api {
            base_url: base_url.trim_end_matches('/').to_string(),
            token: config["token"].as_str().map(str::to_string),
            rows: Buffered::default(),
        })
    }

    fn run(&mut self, request: Request) -> Result<ResultHead, Error> {
        let path = request.query["path"]
            .as_str()
            .ok_or_else(|| Error::InvalidQuery("path is required".into()))?;
        // Values from `{{ }}` are percent-encoded into the path, never spliced as text.
        let url = format!("{}{}", self.base_url, url::render_path(path, &request.params)?);
        let mut headers = vec![("accept".to_string(), "application/json".to_string())];
        if let Some(token) = &self.token {
            headers.push(("authorization".into(), format!("Bearer {token}")));
        }
        let response = http::send(
            &http::Request {
                method: "GET".into(),
                url,
                headers,
                body: None,
                timeout: Duration::from_secs(30),
            },
            16 << 20,
        )?;
        if response.status >= 400 {
            return Err(Error::remote(
                response.status.to_string(),
                format!("the API answered {}", response.status),
            ));
        }
        let body: serde_json::Value = serde_json::from_slice(&response.body)
            .map_err(|e| Error::remote("invalid-json", format!("the answer is not JSON: {e}")))?;
        let (columns, rows) = to_rows(&body);
        let metadata = serde_json::json!({ "status": response.status });
        let (rest, head) = Buffered::start(columns, rows, &metadata, request.max_rows);
        self.rows = rest;
        Ok(head)
    }

    fn fetch(&mut self, max_rows: u32) -> Result<lathe_plugin_sdk::Batch, Error> {
        Ok(self.rows.next(max_rows))
    }
}

/// An array of objects becomes one row per object; anything else, one `json` cell.
fn to_rows(body: &serde_json::Value) -> (Vec<Column>, Vec<Vec<Value>>) {
    let Some(items) = body.as_array().filter(|a| a.iter().all(|i| i.is_object())) else {
        let column = Column::new("data", ColumnType::Json, "json");
        return (vec![column], vec![vec![Value::Json(body.to_string())]]);
    };
    let mut names: Vec<String> = Vec::new();
    for item in items.iter().filter_map(|i| i.as_object()) {
        for key in item.keys() {
            if !names.contains(key) {
                names.push(key.clone());
            }
        }
    }
    let columns = names
        .iter()
        .map(|n| Column::new(n.clone(), ColumnType::Json, "json"))
        .collect();
    let rows = items
        .iter()
        .map(|item| {
            names
                .iter()
                .map(|n| Value::from_json(item.get(n).unwrap_or(&serde_json::Value::Null)))
                .collect()
        })
        .collect();
    (columns, rows)
}

export_connector!(Api);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_of_objects_becomes_rows() {
        let body = serde_json::json!([{"id": 1, "name": "a"}, {"id": 2, "extra": true}]);
        let (columns, rows) = to_rows(&body);
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "name", "extra"]);
        assert_eq!(rows[1], vec![Value::Int(2), Value::Null, Value::Boolean(true)]);
    }

    #[test]
    fn anything_else_is_one_json_cell() {
        let (columns, rows) = to_rows(&serde_json::json!({"total": 3}));
        assert_eq!(columns.len(), 1);
        assert_eq!(rows[0], vec![Value::Json("{\"total\":3}".into())]);
    }
}
