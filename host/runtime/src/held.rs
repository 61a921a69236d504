//! What a kept result costs the host, in bytes: the measure behind [`crate::Limits::max_bytes`].
//!
//! The byte limit bounds the host's memory, not the connector's idea of its data, so a value
//! is charged for everything the host holds because it was kept:
//!
//! - its slot in the row (`size_of::<serde_json::Value>()`, whatever the value is: a `null`
//!   costs as much as an integer);
//! - every heap allocation under it (string capacity, array and object storage, nested
//!   values), plus [`ALLOC_OVERHEAD`] for each allocation;
//! - its text in the serialised answer (escapes included), which the API and the CLI build
//!   while the values are still alive.
//!
//! A row adds its own vector, with room for the growth of the vector of rows. The sum is an
//! upper bound of what the host holds for the result, so a result cut at `max_bytes` never
//! holds much more than `max_bytes` of the host's memory (the connector's batch, as it
//! crosses the boundary, is bounded by the connector's memory cap instead).
//!
//! A JSON cell is checked before it is parsed: [`json_bound`] bounds, from one scan of the
//! text, what parsing it can allocate, so that a small text that parses into many values
//! (`[0,0,0,…]`) is refused before it expands.

use serde_json::Value as J;
use std::mem::size_of;

/// What the allocator spends around each allocation, at the least (header and rounding).
pub const ALLOC_OVERHEAD: usize = 16;
/// A value's slot in its row or array.
pub const SLOT: usize = size_of::<J>();
/// A kept row: its vector's header in the vector of rows (twice, for that vector's growth)
/// and its allocation; the cells are charged one by one.
pub const ROW: usize = 2 * size_of::<Vec<J>>() + ALLOC_OVERHEAD + 2;
/// An object member besides its key's and value's own allocations: the ordered map's entry
/// (hash, key header, value) and its index slot, with room for both to have doubled.
const MEMBER: usize = 2 * (SLOT + size_of::<String>() + 3 * size_of::<usize>());

/// The bytes held for `value` kept as one cell: slot, heap and serialised text.
pub fn cell(value: &J) -> usize {
    SLOT + heap(value) + text(value) + 1
}

/// Heap bytes owned by `value`, not counting its own slot.
fn heap(value: &J) -> usize {
    match value {
        J::Null | J::Bool(_) | J::Number(_) => 0,
        J::String(s) => allocation(s.capacity()),
        J::Array(items) => {
            allocation(items.capacity() * SLOT) + items.iter().map(heap).sum::<usize>()
        }
        J::Object(map) => {
            allocation(map.len() * MEMBER)
                + ALLOC_OVERHEAD
                + map
                    .iter()
                    .map(|(key, value)| allocation(key.capacity()) + heap(value))
                    .sum::<usize>()
        }
    }
}

fn allocation(bytes: usize) -> usize {
    if bytes == 0 {
        0
    } else {
        bytes + ALLOC_OVERHEAD
    }
}

/// The length of `value` serialised as JSON, or an upper bound of it.
pub fn text(value: &J) -> usize {
    match value {
        J::Null | J::Bool(true) => 4,
        J::Bool(false) => 5,
        // The longest number serde_json writes: `-1.7976931348623157e+308` and the like.
        J::Number(_) => 24,
        J::String(s) => quoted(s),
        J::Array(items) => 2 + items.iter().map(|v| text(v) + 1).sum::<usize>(),
        J::Object(map) => {
            2 + map
                .iter()
                .map(|(key, value)| quoted(key) + 1 + text(value) + 1)
                .sum::<usize>()
        }
    }
}

/// The length of `s` as a JSON string: quotes and escapes.
pub fn quoted(s: &str) -> usize {
    2 + s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..0x20 => 6,
            _ => 1,
        })
        .sum::<usize>()
}

/// An upper bound of what parsing the JSON text `text` into a kept cell costs, from one
/// scan: every value in a document follows its start, a `[`, a `,` or a `:` outside strings,
/// so their number is bounded by those; every string's bytes are bounded by the text.
/// Each value may be a slot in an array with room to double, or an object member.
pub fn json_bound(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut values = 1;
    let mut strings = 0;
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'"' => {
                strings += 1;
                at += 1;
                while at < bytes.len() && bytes[at] != b'"' {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
            }
            b'[' | b',' | b':' => values += 1,
            _ => {}
        }
        at += 1;
    }
    // Values: a member of an object (which costs more than a slot in an array that may have
    // doubled), and the allocations of the container each may open; every string's. Text: the string bytes kept, escaped up to six times over when
    // written out again, and every number written at its longest.
    values * (MEMBER + ALLOC_OVERHEAD + 24 + 2)
        + strings * (ALLOC_OVERHEAD + 2)
        + bytes.len() * (1 + 6)
        + SLOT
        + ALLOC_OVERHEAD
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_cell_costs_at_least_its_slot_and_its_text() {
        assert!(cell(&J::Null) >= SLOT + 4);
        assert!(cell(&json!(1)) > SLOT);
        let s = "x".repeat(1000);
        assert!(cell(&json!(s)) >= SLOT + 2 * 1000);
    }

    #[test]
    fn serialised_text_is_never_longer_than_its_measure() {
        let docs = [
            json!(null),
            json!(-1.7976931348623157e308),
            json!("\u{0}\"\\\n é"),
            json!({"a": [1, 2, {"b": null}], "\u{1}": "x"}),
        ];
        for doc in docs {
            assert!(
                serde_json::to_string(&doc).unwrap().len() <= text(&doc),
                "{doc}"
            );
        }
    }

    #[test]
    fn the_bound_of_a_json_text_covers_what_parsing_it_costs() {
        let texts = [
            "[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]",
            "[[],[],[],[],[[[[]]]],[]]",
            r#"{"a":1,"b":{"c":[1,2,"x"]},"d":"\u0000\u0000"}"#,
            r#""just a string, with a \" quote""#,
            "12345678901234567890123456789",
        ];
        for t in texts {
            let parsed = lathe_plugin_sdk::exact_json::parse(t).unwrap();
            assert!(cell(&parsed) <= json_bound(t), "{t}");
        }
    }

    #[test]
    fn tiny_values_cost_far_more_than_their_text() {
        // The attack the byte limit once missed: a short text of many values.
        let t = format!("[{}0]", "0,".repeat(10_000));
        let parsed = lathe_plugin_sdk::exact_json::parse(&t).unwrap();
        assert!(cell(&parsed) > 10_000 * SLOT);
        assert!(json_bound(&t) >= cell(&parsed));
    }
}
