//! Types a database defines at run time: enums, domains, extension types (citext,
//! hstore, …) and arrays of them.
//!
//! Their OIDs differ per database, so the session reads them from pg_type once it has
//! connected (one query). An array converts like an array of its element, a domain like
//! the type it is based on (the server already describes a domain column by its base
//! type; arrays of domains are what need it), anything else is text under its own name. Table row types
//! are left out, as there may be thousands and they rarely appear as columns. A type
//! created after the session started shows as `oid N` until the connection is reopened.

use crate::types::{Decoder, Scalar, Type, builtin};
use lathe_plugin_sdk::{Error, Row, Value};
use std::collections::HashMap;

/// Types created by users and extensions (OIDs from 16384 on), except table row types and
/// arrays of them.
pub const QUERY: &str = "\
select t.oid::int8, pg_catalog.format_type(t.oid, null), t.typtype::text,
       t.typcategory::text, t.typelem::int8, t.typbasetype::int8
from pg_catalog.pg_type t
left join pg_catalog.pg_type e on e.oid = t.typelem
where t.oid >= 16384 and t.typrelid = 0 and coalesce(e.typrelid, 0) = 0";

/// One row of [`QUERY`].
#[derive(Debug, Clone, PartialEq)]
pub struct Defined {
    pub oid: u32,
    pub name: String,
    /// `typtype`: `e` enum, `d` domain, `b` base, …
    pub kind: String,
    /// `typcategory`: `A` for arrays.
    pub category: String,
    pub element: u32,
    pub base: u32,
}

/// Built-in types plus what the database defined.
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    defined: HashMap<u32, Type>,
}

impl Catalog {
    pub fn describe(&self, oid: u32) -> Type {
        builtin(oid)
            .or_else(|| self.defined.get(&oid).cloned())
            .unwrap_or_else(|| Type::unknown(oid))
    }

    pub fn learn(defined: &[Defined]) -> Catalog {
        let by_oid: HashMap<u32, &Defined> = defined.iter().map(|d| (d.oid, d)).collect();
        let defined = defined
            .iter()
            .map(|d| {
                // A domain over an array has category A too; it converts by its base.
                let decoder = if d.kind != "d" && d.category == "A" {
                    Decoder {
                        scalar: converted_as(d.element, &by_oid).scalar,
                        array: true,
                    }
                } else {
                    converted_as(d.oid, &by_oid)
                };
                (d.oid, Type::new(decoder, d.name.clone()))
            })
            .collect();
        Catalog { defined }
    }

    /// Reads a row of [`QUERY`].
    pub fn parse_row(row: Row) -> Result<Defined, Error> {
        let odd = || Error::Connection("the type catalog query returned an odd row".into());
        let [oid, name, kind, category, element, base] =
            <[Value; 6]>::try_from(row).map_err(|_| odd())?;
        let number = |v: Value| match v {
            Value::Int(n) => u32::try_from(n).map_err(|_| odd()),
            _ => Err(odd()),
        };
        let text = |v: Value| match v {
            Value::Text(s) => Ok(s),
            _ => Err(odd()),
        };
        Ok(Defined {
            oid: number(oid)?,
            name: text(name)?,
            kind: text(kind)?,
            category: text(category)?,
            element: number(element)?,
            base: number(base)?,
        })
    }
}

/// How values of `oid` convert: built-ins by the table, domains by their base (domains
/// over domains included), everything else as text.
fn converted_as(oid: u32, defined: &HashMap<u32, &Defined>) -> Decoder {
    let mut oid = oid;
    // Domains nest only as deep as someone bothered to; the bound keeps a cycle harmless.
    for _ in 0..8 {
        if let Some(known) = builtin(oid) {
            return known.decoder;
        }
        match defined.get(&oid) {
            Some(d) if d.kind == "d" => oid = d.base,
            _ => break,
        }
    }
    Decoder {
        scalar: Scalar::Text,
        array: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lathe_plugin_sdk::ColumnType;

    fn defined(
        oid: u32,
        name: &str,
        kind: &str,
        category: &str,
        element: u32,
        base: u32,
    ) -> Defined {
        Defined {
            oid,
            name: name.into(),
            kind: kind.into(),
            category: category.into(),
            element,
            base,
        }
    }

    #[test]
    fn domains_enums_and_their_arrays_convert_by_what_they_are() {
        let catalog = Catalog::learn(&[
            defined(20000, "mood", "e", "E", 0, 0),
            defined(20001, "mood[]", "b", "A", 20000, 0),
            defined(20002, "positive", "d", "N", 0, 23),
            defined(20003, "very_positive", "d", "N", 0, 20002),
            defined(20004, "positive[]", "b", "A", 20002, 0),
            defined(20005, "citext", "b", "S", 0, 0),
            defined(20006, "int_list", "d", "A", 23, 1007),
        ]);

        let mood = catalog.describe(20000);
        assert_eq!(
            (mood.column, mood.name.as_str()),
            (ColumnType::Text, "mood")
        );
        let moods = catalog.describe(20001);
        assert_eq!(moods.column, ColumnType::Json);
        assert_eq!(moods.decoder.scalar, Scalar::Text);
        assert_eq!(catalog.describe(20002).column, ColumnType::Int);
        assert_eq!(catalog.describe(20003).column, ColumnType::Int);
        let positives = catalog.describe(20004);
        assert_eq!(
            positives.decoder.decode(Some(b"{1,2}".as_slice())),
            Value::Json("[1,2]".into())
        );
        assert_eq!(catalog.describe(20005).name, "citext");
        assert_eq!(
            catalog.describe(20006).decoder,
            builtin(1007).unwrap().decoder
        );
        assert_eq!(catalog.describe(23).name, "int4");
        assert_eq!(catalog.describe(99999).name, "oid 99999");
    }

    #[test]
    fn a_cycle_of_domains_is_harmless() {
        let catalog = Catalog::learn(&[
            defined(30000, "a", "d", "N", 0, 30001),
            defined(30001, "b", "d", "N", 0, 30000),
        ]);
        assert_eq!(catalog.describe(30000).column, ColumnType::Text);
    }
}
