//! Just enough JSON output for the echo app: objects of strings, numbers
//! and booleans (RFC 8259 string escaping).

/// A JSON value the echo app emits.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Str(String),
    Bool(bool),
    Num(u64),
}

/// Appends `s` as a JSON string literal.
pub(crate) fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// An object with the entries in order, on one line.
pub(crate) fn object(entries: &[(String, Value)]) -> String {
    let mut out = String::from("{");
    for (i, (key, value)) in entries.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_str(&mut out, key);
        out.push_str(": ");
        match value {
            Value::Str(s) => write_str(&mut out, s),
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
