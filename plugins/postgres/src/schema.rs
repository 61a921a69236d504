//! Tables, views and their columns for the query editor's schema browser.
//!
//! Read from pg_catalog rather than information_schema: information_schema hides
//! relations the user holds no privilege on and knows nothing of materialized views.
//! The system schemas (pg_catalog, information_schema, TOAST and temporary schemas) are
//! left out.

use crate::session::Session;
use crate::transport::Socket;
use lathe_plugin_sdk::{Error, Schema, Table, TableColumn, Value};

const QUERY: &str = "\
select n.nspname::text, c.relname::text, c.relkind::text, a.attname::text,
       pg_catalog.format_type(a.atttypid, a.atttypmod), not a.attnotnull
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
left join pg_catalog.pg_attribute a
       on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
where c.relkind in ('r', 'p', 'v', 'm', 'f')
  and n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname not like 'pg\\_toast%'
  and n.nspname not like 'pg\\_temp\\_%'
order by n.nspname, c.relname, a.attnum";

pub fn load<S: Socket>(session: &mut Session<S>) -> Result<Schema, Error> {
    let mut tables: Vec<Table> = Vec::new();
    for row in session.query_all(QUERY)? {
        add_row(&mut tables, row)?;
    }
    Ok(Schema { tables })
}

fn add_row(tables: &mut Vec<Table>, row: Vec<Value>) -> Result<(), Error> {
    let [schema, name, kind, column, source_type, nullable] = <[Value; 6]>::try_from(row)
        .map_err(|_| Error::Connection("the schema query returned an odd row".into()))?;
    let (schema, name, kind) = (text(schema), text(name), text(kind));

    let same_table = tables
        .last()
        .is_some_and(|t| t.schema == schema && t.name == name);
    if !same_table {
        tables.push(Table {
            schema,
            name,
            kind: kind_name(&kind).to_string(),
            columns: Vec::new(),
        });
    }
    // A relation without columns comes back once, with NULLs from the outer join.
    if let Value::Text(column) = column {
        let table = tables.last_mut().expect("pushed above");
        table.columns.push(TableColumn {
            name: column,
            source_type: text(source_type),
            nullable: matches!(nullable, Value::Boolean(true)),
        });
    }
    Ok(())
}

fn text(value: Value) -> String {
    match value {
        Value::Text(s) => s,
        _ => String::new(),
    }
}

fn kind_name(relkind: &str) -> &'static str {
    match relkind {
        "v" => "view",
        "m" => "materialized view",
        "f" => "foreign table",
        "p" => "partitioned table",
        _ => "table",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(schema: &str, table: &str, column: Option<&str>) -> Vec<Value> {
        vec![
            schema.into(),
            table.into(),
            "m".into(),
            column.map(Value::from).unwrap_or(Value::Null),
            "integer".into(),
            Value::Boolean(false),
        ]
    }

    #[test]
    fn rows_group_into_tables_in_order() {
        let mut tables = Vec::new();
        add_row(&mut tables, row("s", "a", Some("x"))).unwrap();
        add_row(&mut tables, row("s", "a", Some("y"))).unwrap();
        add_row(&mut tables, row("s", "b", None)).unwrap();
        assert_eq!(tables.len(), 2);
        assert_eq!(tables[0].kind, "materialized view");
        assert_eq!(tables[0].columns.len(), 2);
        assert!(!tables[0].columns[1].nullable);
        assert!(tables[1].columns.is_empty());
    }
}
