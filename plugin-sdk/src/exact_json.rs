//! Reading JSON text without losing digits (shared with the host).
//!
//! `serde_json` (built without `arbitrary_precision`, which would change how every crate
//! in the process sees numbers) reads an integer outside the 64-bit ranges, or a decimal
//! with more digits than an `f64` holds, as the nearest `f64`: a jsonb document holding
//! `12345678901234567890123` or `0.1000000000000000000001` would come out of Lathe as a
//! different number. [`parse`] keeps such a number as a JSON string of its exact text
//! instead, the way `numeric` columns already travel; every number that survives as a
//! `serde_json` number stays a number.

use serde_json::Value;

/// Parses a JSON document; numbers that `serde_json` can't carry exactly become strings
/// holding their text.
pub fn parse(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_str(&exact_text(text))
}

/// The JSON text with every number that `serde_json` can't carry exactly put in quotes, for
/// deserializing into any type; borrowed unchanged when there is none.
pub fn exact_text(text: &str) -> std::borrow::Cow<'_, str> {
    match quote_inexact_numbers(text) {
        None => std::borrow::Cow::Borrowed(text),
        Some(rewritten) => std::borrow::Cow::Owned(rewritten),
    }
}

/// The text with every inexact number put in quotes, or `None` when there is none (the
/// usual case, which then costs one scan and no allocation).
fn quote_inexact_numbers(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'"' => at = after_string(bytes, at),
            b'-' | b'0'..=b'9' => {
                let start = at;
                while at < bytes.len()
                    && matches!(bytes[at], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                {
                    at += 1;
                }
                let token = &text[start..at];
                if !survives(token) {
                    let out = out.get_or_insert_with(|| String::with_capacity(text.len() + 16));
                    out.push_str(&text[copied..start]);
                    out.push('"');
                    out.push_str(token);
                    out.push('"');
                    copied = at;
                }
            }
            _ => at += 1,
        }
    }
    out.map(|mut out| {
        out.push_str(&text[copied..]);
        out
    })
}

/// The index just past the string that starts at `start` (its opening quote).
fn after_string(bytes: &[u8], start: usize) -> usize {
    let mut at = start + 1;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'"' => return at + 1,
            _ => at += 1,
        }
    }
    bytes.len()
}

/// Whether `serde_json` reads `token` as a number of the same value it was written with.
/// Something that is not a JSON number is left for the parser to refuse.
fn survives(token: &str) -> bool {
    let Some(written) = Decimal::parse(token) else {
        return true;
    };
    if !token.contains(['.', 'e', 'E']) {
        return token.parse::<i64>().is_ok() || token.parse::<u64>().is_ok();
    }
    match token.parse::<f64>() {
        // `{:e}` prints the shortest digits that read back as the same f64, as
        // serde_json's own output does.
        Ok(float) if float.is_finite() => Decimal::parse(&format!("{float:e}")) == Some(written),
        _ => false,
    }
}

/// A decimal number as `digits × 10^exponent`, with neither leading nor trailing zeros in
/// `digits` (empty for zero, which has no sign).
#[derive(Debug, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    digits: String,
    exponent: i64,
}

impl Decimal {
    /// Reads a number in JSON's grammar (`-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`),
    /// or Rust's `{:e}` output, which fits it.
    fn parse(text: &str) -> Option<Decimal> {
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(e) => (&rest[..e], Some(&rest[e + 1..])),
            None => (rest, None),
        };
        let (whole, fraction) = match mantissa.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (mantissa, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) || (whole.len() > 1 && whole.starts_with('0')) {
            return None;
        }
        if fraction.is_some_and(|f| !all_digits(f)) {
            return None;
        }
        let exponent = match exponent {
            None => 0,
            Some(e) => {
                let unsigned = e.strip_prefix(['+', '-']).unwrap_or(e);
                if !all_digits(unsigned) {
                    return None;
                }
                // Beyond any f64 either way; saturating keeps the comparison honest.
                let magnitude = unsigned.parse::<i64>().unwrap_or(i64::MAX / 4).min(1 << 40);
                if e.starts_with('-') {
                    -magnitude
                } else {
                    magnitude
                }
            }
        };
        let fraction = fraction.unwrap_or("");
        let mut digits: String = whole.chars().chain(fraction.chars()).collect();
        let mut exponent = exponent - fraction.len() as i64;
        while digits.ends_with('0') {
            digits.pop();
            exponent += 1;
        }
        let digits = digits.trim_start_matches('0').to_string();
        if digits.is_empty() {
            return Some(Decimal {
                negative: false,
                digits,
                exponent: 0,
            });
        }
        Some(Decimal {
            negative,
            digits,
            exponent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_that_fit_stay_numbers() {
        let doc = parse(
            r#"{"a": 9223372036854775807, "b": -9223372036854775808,
            "c": 18446744073709551615, "d": 0.1, "e": 1e2, "f": -0.0, "g": 2.5E-3}"#,
        )
        .unwrap();
        assert_eq!(doc["a"], json!(i64::MAX));
        assert_eq!(doc["b"], json!(i64::MIN));
        assert_eq!(doc["c"], json!(u64::MAX));
        assert_eq!(doc["d"], json!(0.1));
        assert_eq!(doc["e"], json!(100.0));
        assert!(doc["f"].is_number());
        assert_eq!(doc["g"], json!(0.0025));
    }

    #[test]
    fn numbers_that_would_change_keep_their_text() {
        let doc = parse(
            r#"[18446744073709551616, -9223372036854775809, 123456789012345678901234567890,
                0.1000000000000000000001, 9007199254740993.0, 1e400, 1e-400]"#,
        )
        .unwrap();
        assert_eq!(
            doc,
            json!([
                "18446744073709551616",
                "-9223372036854775809",
                "123456789012345678901234567890",
                "0.1000000000000000000001",
                "9007199254740993.0",
                "1e400",
                "1e-400"
            ])
        );
    }

    #[test]
    fn strings_and_keys_are_left_alone() {
        let text = r#"{"12345678901234567890123": "99999999999999999999 \" 1e999", "n": 1}"#;
        let doc = parse(text).unwrap();
        assert_eq!(
            doc["12345678901234567890123"],
            json!("99999999999999999999 \" 1e999")
        );
        assert_eq!(doc["n"], json!(1));
    }

    #[test]
    fn malformed_documents_are_still_refused() {
        assert!(parse("[1.2.3]").is_err());
        assert!(parse("[01]").is_err());
        assert!(parse("[-]").is_err());
        assert!(parse("{\"a\": 99999999999999999999999").is_err());
    }

    #[test]
    fn decimals_compare_by_value_not_by_spelling() {
        assert_eq!(Decimal::parse("1.50e2"), Decimal::parse("150"));
        assert_eq!(Decimal::parse("-0.0"), Decimal::parse("0"));
        assert_ne!(Decimal::parse("0.1"), Decimal::parse("0.10000000000000001"));
        assert_eq!(Decimal::parse("1."), None);
        assert_eq!(Decimal::parse(".5"), None);
    }
}
