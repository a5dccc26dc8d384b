//! Just enough JSON output for the echo app: objects of strings, numbers
//! and booleans.

use crate::escape::write_json_str;

/// A JSON value the echo app emits.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Str(String),
    Bool(bool),
    Num(u64),
}

/// An object with the entries in order, on one line.
pub(crate) fn object(entries: &[(String, Value)]) -> String {
    let mut out = String::from("{");
    for (i, (key, value)) in entries.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_json_str(&mut out, key);
        out.push_str(": ");
        match value {
            Value::Str(s) => write_json_str(&mut out, s),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Num(n) => out.push_str(&n.to_string()),
        }
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        let obj = object(&[
            ("a\"b".into(), Value::Str("line\nnext\u{1}\\".into())),
            ("ok".into(), Value::Bool(true)),
            ("n".into(), Value::Num(3)),
        ]);
        assert_eq!(obj, r#"{"a\"b": "line\nnext\u0001\\", "ok": true, "n": 3}"#);
    }
}
