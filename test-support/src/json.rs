//! The echo app's JSON: one flat object of strings, booleans and numbers.

use std::collections::BTreeMap;

/// A value in the echo app's JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Json {
    Str(String),
    Bool(bool),
    Num(u64),
}

/// The environ as the echo app reports it: one flat JSON object of
/// strings, booleans and numbers.
#[derive(Debug, Clone)]
pub struct EchoEnviron(pub BTreeMap<String, Json>);

impl EchoEnviron {
    pub fn parse(text: &str) -> EchoEnviron {
        let mut p = JsonParser {
            chars: text.chars().collect(),
            pos: 0,
        };
        EchoEnviron(
            p.object()
                .unwrap_or_else(|e| panic!("bad echo JSON ({e}): {text}")),
        )
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
            Some(Json::Num(n)) => *n,
            other => panic!("{key} is not a number: {other:?}"),
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }
}

struct JsonParser {
    chars: Vec<char>,
    pos: usize,
}

impl JsonParser {
    fn skip_ws(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        self.skip_ws();
        if self.chars.get(self.pos) == Some(&c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected {c:?} at {}", self.pos))
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.chars.get(self.pos).copied()
    }

    fn object(&mut self) -> Result<BTreeMap<String, Json>, String> {
        let mut map = BTreeMap::new();
        self.expect('{')?;
        if self.peek() == Some('}') {
            self.pos += 1;
            return Ok(map);
        }
        loop {
            let key = self.string()?;
            self.expect(':')?;
            let value = self.value()?;
            map.insert(key, value);
            match self.peek() {
                Some(',') => self.pos += 1,
                Some('}') => {
                    self.pos += 1;
                    return Ok(map);
                }
                other => return Err(format!("expected , or }} at {}: {other:?}", self.pos)),
            }
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        match self.peek() {
            Some('"') => self.string().map(Json::Str),
            Some('t') => self.word("true").map(|()| Json::Bool(true)),
            Some('f') => self.word("false").map(|()| Json::Bool(false)),
            Some(c) if c.is_ascii_digit() => {
                let start = self.pos;
                while self.chars.get(self.pos).is_some_and(char::is_ascii_digit) {
                    self.pos += 1;
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                text.parse().map(Json::Num).map_err(|e| e.to_string())
            }
            other => Err(format!("unexpected {other:?} at {}", self.pos)),
        }
    }

    fn word(&mut self, word: &str) -> Result<(), String> {
        for c in word.chars() {
            if self.chars.get(self.pos) != Some(&c) {
                return Err(format!("expected {word} at {}", self.pos));
            }
            self.pos += 1;
        }
        Ok(())
    }

    fn string(&mut self) -> Result<String, String> {
        self.expect('"')?;
        let mut out = String::new();
        loop {
            let c = *self.chars.get(self.pos).ok_or("unterminated string")?;
            self.pos += 1;
            match c {
                '"' => return Ok(out),
                '\\' => {
                    let e = *self.chars.get(self.pos).ok_or("unterminated escape")?;
                    self.pos += 1;
                    match e {
                        '"' | '\\' | '/' => out.push(e),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'u' => {
                            let hex: String = self
                                .chars
                                .get(self.pos..self.pos + 4)
                                .ok_or("short \\u escape")?
                                .iter()
                                .collect();
                            self.pos += 4;
                            let code = u32::from_str_radix(&hex, 16).map_err(|e| e.to_string())?;
                            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                        }
                        other => return Err(format!("bad escape \\{other}")),
                    }
                }
                c => out.push(c),
            }
        }
    }
}
