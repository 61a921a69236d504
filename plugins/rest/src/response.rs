//! An HTTP response as rows: a JSON array of objects becomes one row per object, with a
//! column per key; any other JSON is one `json` cell; other bodies are one text (or bytes)
//! cell. Status and headers travel as metadata.

use lathe_plugin_sdk::{Column, ColumnType, Value, http};
use serde_json::Value as Json;

pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
    pub metadata: Json,
}

pub fn to_table(response: &http::Response) -> Table {
    let headers: serde_json::Map<String, Json> = response
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), Json::String(v.clone())))
        .collect();
    let metadata = serde_json::json!({"status": response.status, "headers": headers});
    let (columns, rows) = body_rows(response);
    Table {
        columns,
        rows,
        metadata,
    }
}

fn body_rows(response: &http::Response) -> (Vec<Column>, Vec<Vec<Value>>) {
    if response.body.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let json_type = response
        .header("content-type")
        .is_some_and(|t| t.to_ascii_lowercase().contains("json"));
    match serde_json::from_slice::<Json>(&response.body) {
        Ok(doc) => json_rows(&doc),
        Err(_) if json_type => {
            one_cell(Value::Text(String::from_utf8_lossy(&response.body).into()))
        }
        Err(_) => match std::str::from_utf8(&response.body) {
            Ok(text) => one_cell(Value::Text(text.to_string())),
            Err(_) => one_cell(Value::Bytes(response.body.clone())),
        },
    }
}

fn one_cell(value: Value) -> (Vec<Column>, Vec<Vec<Value>>) {
    let kind = match value {
        Value::Json(_) => ColumnType::Json,
        Value::Bytes(_) => ColumnType::Bytes,
        _ => ColumnType::Text,
    };
    (vec![Column::new("data", kind, "body")], vec![vec![value]])
}

fn json_rows(doc: &Json) -> (Vec<Column>, Vec<Vec<Value>>) {
    let Some(items) = doc
        .as_array()
        .filter(|a| !a.is_empty() && a.iter().all(Json::is_object))
    else {
        return one_cell(Value::Json(doc.to_string()));
    };
    let mut names: Vec<String> = Vec::new();
    for object in items.iter().filter_map(Json::as_object) {
        for key in object.keys() {
            if !names.contains(key) {
                names.push(key.clone());
            }
        }
    }
    let columns = names
        .iter()
        .map(|name| {
            let first = items
                .iter()
                .find_map(|i| i.get(name).filter(|v| !v.is_null()));
            let (kind, source) = match first {
                Some(Json::Bool(_)) => (ColumnType::Boolean, "boolean"),
                Some(Json::Number(n)) if n.is_i64() || n.is_u64() => (ColumnType::Int, "integer"),
                Some(Json::Number(_)) => (ColumnType::Float, "number"),
                Some(Json::String(_)) => (ColumnType::Text, "string"),
                Some(_) => (ColumnType::Json, "json"),
                None => (ColumnType::Null, "null"),
            };
            Column::new(name.clone(), kind, source)
        })
        .collect();
    let rows = items
        .iter()
        .map(|item| {
            names
                .iter()
                .map(|n| Value::from_json(item.get(n).unwrap_or(&Json::Null)))
                .collect()
        })
        .collect();
    (columns, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(content_type: &str, body: &str) -> http::Response {
        http::Response {
            status: 200,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn array_of_objects_becomes_typed_columns() {
        let t = to_table(&response(
            "application/json",
            r#"[{"id":1,"name":"a","tags":["x"]},{"id":2,"ok":true}]"#,
        ));
        let names: Vec<_> = t.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "name", "tags", "ok"]);
        assert_eq!(t.columns[0].type_, ColumnType::Int);
        assert_eq!(t.columns[2].type_, ColumnType::Json);
        assert_eq!(t.rows[1][1], Value::Null);
        assert_eq!(t.metadata["status"], 200);
        assert_eq!(t.metadata["headers"]["content-type"], "application/json");
    }

    #[test]
    fn other_json_and_text_are_one_cell() {
        let t = to_table(&response("application/json", r#"{"total":3}"#));
        assert_eq!(t.rows, vec![vec![Value::Json(r#"{"total":3}"#.into())]]);
        let t = to_table(&response("text/plain", "hello"));
        assert_eq!(t.rows, vec![vec![Value::Text("hello".into())]]);
    }
}
