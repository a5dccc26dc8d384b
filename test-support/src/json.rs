//! Just enough JSON to read what werk prints: [`Json`] for any document
//! (`werk doctor --json`), and [`EchoEnviron`] for the echo app's answer,
//! one flat object of strings, booleans and numbers.

use std::collections::BTreeMap;

/// A JSON value. Indexing an object by a key it lacks, or anything else
/// by a key, gives `Null`.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    /// The members in document order.
    Obj(Vec<(String, Json)>),
}

static NULL: Json = Json::Null;

impl std::ops::Index<&str> for Json {
    type Output = Json;
    fn index(&self, key: &str) -> &Json {
        match self {
            Json::Obj(members) => members
                .iter()
                .find(|(k, _)| k == key)
                .map_or(&NULL, |(_, v)| v),
            _ => &NULL,
        }
    }
}

impl Json {
    /// One JSON document; whitespace may surround it, nothing else.
    pub fn parse(text: &str) -> Result<Json, String> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let value = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("trailing data at {}", p.i));
        }
        Ok(value)
    }

    /// The text of a string; `""` for anything else.
    pub fn str(&self) -> &str {
        match self {
            Json::Str(s) => s,
            _ => "",
        }
    }

    pub fn num(&self) -> Option<f64> {
        match self {
            Json::Num(n) => Some(*n),
            _ => None,
        }
    }

    /// The items of an array; none for anything else.
    pub fn items(&self) -> &[Json] {
        match self {
            Json::Arr(items) => items,
            _ => &[],
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected {:?} at {}", c as char, self.i))
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        match self.peek() {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => self.string().map(Json::Str),
            Some(b't') => self.word("true", Json::Bool(true)),
            Some(b'f') => self.word("false", Json::Bool(false)),
            Some(b'n') => self.word("null", Json::Null),
            Some(_) => self.number(),
            None => Err("unexpected end".into()),
        }
    }

    fn object(&mut self) -> Result<Json, String> {
        self.eat(b'{')?;
        let mut members = Vec::new();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Json::Obj(members));
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(format!("expected a key at {}", self.i));
            }
            let key = self.string()?;
            self.eat(b':')?;
            members.push((key, self.value()?));
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Json::Obj(members));
                }
                _ => return Err(format!("expected , or }} at {}", self.i)),
            }
        }
    }

    fn array(&mut self) -> Result<Json, String> {
        self.eat(b'[')?;
        let mut items = Vec::new();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(Json::Arr(items));
        }
        loop {
            items.push(self.value()?);
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Json::Arr(items));
                }
                _ => return Err(format!("expected , or ] at {}", self.i)),
            }
        }
    }

    fn word(&mut self, word: &str, value: Json) -> Result<Json, String> {
        if !self.s[self.i..].starts_with(word.as_bytes()) {
            return Err(format!("expected {word} at {}", self.i));
        }
        self.i += word.len();
        Ok(value)
    }

    fn number(&mut self) -> Result<Json, String> {
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|c| matches!(c, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
        {
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i])
            .ok()
            .and_then(|n| n.parse().ok())
            .map(Json::Num)
            .ok_or_else(|| format!("bad value at {start}"))
    }

    fn string(&mut self) -> Result<String, String> {
        self.eat(b'"')?;
        let mut out = String::new();
        loop {
            let rest = std::str::from_utf8(&self.s[self.i..]).map_err(|e| e.to_string())?;
            let c = rest.chars().next().ok_or("unterminated string")?;
            self.i += c.len_utf8();
            match c {
                '"' => return Ok(out),
                '\\' => out.push(self.escape()?),
                c => out.push(c),
            }
        }
    }

    /// The character an escape after its backslash stands for.
    fn escape(&mut self) -> Result<char, String> {
        let e = *self.s.get(self.i).ok_or("unterminated escape")?;
        self.i += 1;
        Ok(match e {
            b'"' | b'\\' | b'/' => e as char,
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'u' => {
                let hex = self.s.get(self.i..self.i + 4).ok_or("short \\u escape")?;
                self.i += 4;
                let hex = std::str::from_utf8(hex).map_err(|e| e.to_string())?;
                let code = u32::from_str_radix(hex, 16).map_err(|e| e.to_string())?;
                char::from_u32(code).unwrap_or('\u{fffd}')
            }
            other => return Err(format!("bad escape \\{}", other as char)),
        })
    }
}

/// The environ as the echo app reports it: one flat JSON object of
/// strings, booleans and whole numbers.
#[derive(Debug, Clone)]
pub struct EchoEnviron(pub BTreeMap<String, Json>);

impl EchoEnviron {
    /// The echo app's answer; panics if it is not one flat object.
    pub fn parse(text: &str) -> EchoEnviron {
        let members = match Json::parse(text) {
            Ok(Json::Obj(members)) => members,
            Ok(other) => panic!("the echo JSON is not an object ({other:?}): {text}"),
            Err(e) => panic!("bad echo JSON ({e}): {text}"),
        };
        for (key, value) in &members {
            let flat = match value {
                Json::Str(_) | Json::Bool(_) => true,
                Json::Num(n) => n.fract() == 0.0 && *n >= 0.0,
                _ => false,
            };
            assert!(flat, "{key} is not a string, boolean or count: {text}");
        }
        EchoEnviron(members.into_iter().collect())
    }

    /// A string variable, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        match self.0.get(key) {
            Some(Json::Str(s)) => Some(s),
            Some(other) => panic!("{key} is not a string: {other:?}"),
            None => None,
        }
    }

    /// A string variable that must be present.
    pub fn str(&self, key: &str) -> &str {
        self.get(key)
            .unwrap_or_else(|| panic!("{key} missing from the environ: {:?}", self.0))
    }

    pub fn bool(&self, key: &str) -> bool {
        match self.0.get(key) {
            Some(Json::Bool(b)) => *b,
            other => panic!("{key} is not a boolean: {other:?}"),
        }
    }

    pub fn num(&self, key: &str) -> u64 {
        match self.0.get(key) {
            Some(Json::Num(n)) => *n as u64,
            other => panic!("{key} is not a number: {other:?}"),
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }
}
