//! A small JSON codec for the wire types, for the task pane: serde_json is most of a wasm
//! module's size, and the pane needs only objects, arrays, strings, integers and booleans.
//! Reading is lenient the way the pane wants it: an absent or `null` field takes its default.
//! Numbers are kept as their text and read as integers only (the API sends no fractions).
//! The server uses serde; tests in `codec` check that both write and read the same JSON.

/// Why a text could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error(pub &'static str);

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Error {}

/// A parsed JSON value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Value {
    /// `null` (also what an absent field reads as).
    #[default]
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, as written.
    Number(String),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object, in the order written.
    Object(Vec<(String, Value)>),
}

static NULL: Value = Value::Null;

impl Value {
    /// The field `name` of an object; `null` when absent or not an object.
    pub fn get(&self, name: &str) -> &Value {
        match self {
            Value::Object(fields) => fields
                .iter()
                .find(|(k, _)| k == name)
                .map_or(&NULL, |(_, v)| v),
            _ => &NULL,
        }
    }

    /// The text of a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Errs unless this is an object (the start of reading a struct).
    pub fn expect_object(&self) -> Result<&Self, Error> {
        match self {
            Value::Object(_) => Ok(self),
            _ => Err(Error("expected an object")),
        }
    }

    /// The field `name` read as `T` (absent or `null`: see `T`'s [`FromJson`]).
    pub fn field<T: FromJson>(&self, name: &str) -> Result<T, Error> {
        T::from_json(self.get(name))
    }
}

/// Reads `text` as one JSON value.
pub fn parse(text: &str) -> Result<Value, Error> {
    let mut p = Parser {
        bytes: text.as_bytes(),
        pos: 0,
        depth: 0,
    };
    let value = p.value()?;
    p.skip_space();
    if p.pos != p.bytes.len() {
        return Err(Error("trailing characters after the JSON value"));
    }
    Ok(value)
}

/// Reads `text` as a `T`.
pub fn from_str<T: FromJson>(text: &str) -> Result<T, Error> {
    T::from_json(&parse(text)?)
}

/// Writes `value` as JSON.
pub fn to_string<T: ToJson + ?Sized>(value: &T) -> String {
    let mut out = String::new();
    value.write_json(&mut out);
    out
}

/// Nesting deeper than this is refused rather than risking the stack.
const MAX_DEPTH: u32 = 64;

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
    depth: u32,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.bytes.get(self.pos).copied()
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, Error> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(Error("unknown literal"))
        }
    }

    fn value(&mut self) -> Result<Value, Error> {
        match self.peek().ok_or(Error("unexpected end"))? {
            b'n' => self.literal("null", Value::Null),
            b't' => self.literal("true", Value::Bool(true)),
            b'f' => self.literal("false", Value::Bool(false)),
            b'"' => self.string().map(Value::String),
            b'[' => self.nested(|p| {
                let mut items = Vec::new();
                if p.peek() == Some(b']') {
                    p.pos += 1;
                    return Ok(Value::Array(items));
                }
                loop {
                    items.push(p.value()?);
                    match p.next_of(b",]")? {
                        b',' => continue,
                        _ => return Ok(Value::Array(items)),
                    }
                }
            }),
            b'{' => self.nested(|p| {
                let mut fields = Vec::new();
                if p.peek() == Some(b'}') {
                    p.pos += 1;
                    return Ok(Value::Object(fields));
                }
                loop {
                    if p.peek() != Some(b'"') {
                        return Err(Error("expected a field name"));
                    }
                    let name = p.string()?;
                    p.next_of(b":")?;
                    fields.push((name, p.value()?));
                    match p.next_of(b",}")? {
                        b',' => continue,
                        _ => return Ok(Value::Object(fields)),
                    }
                }
            }),
            b'-' | b'0'..=b'9' => Ok(self.number()),
            _ => Err(Error("unexpected character")),
        }
    }

    /// Parses an array or object body after its opening bracket, counting the depth.
    fn nested(
        &mut self,
        body: impl FnOnce(&mut Self) -> Result<Value, Error>,
    ) -> Result<Value, Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Error("nested too deeply"));
        }
        self.pos += 1;
        let value = body(self);
        self.depth -= 1;
        value
    }

    fn next_of(&mut self, expected: &[u8]) -> Result<u8, Error> {
        match self.peek() {
            Some(b) if expected.contains(&b) => {
                self.pos += 1;
                Ok(b)
            }
            _ => Err(Error("unexpected character")),
        }
    }

    fn number(&mut self) -> Value {
        let start = self.pos;
        while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
        Value::Number(String::from_utf8_lossy(&self.bytes[start..self.pos]).into_owned())
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .ok_or(Error("short \\u escape"))?;
        self.pos += 4;
        digits.iter().try_fold(0u32, |acc, b| {
            let d = (*b as char).to_digit(16).ok_or(Error("bad \\u escape"))?;
            Ok(acc * 16 + d)
        })
    }

    fn string(&mut self) -> Result<String, Error> {
        self.pos += 1; // the opening quote
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(&b) = self.bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // The input is a &str and the run stops only at ASCII bytes: always whole characters.
            out.push_str(
                core::str::from_utf8(&self.bytes[start..self.pos])
                    .map_err(|_| Error("bad UTF-8"))?,
            );
            match self.bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let escape = *self
                        .bytes
                        .get(self.pos + 1)
                        .ok_or(Error("unexpected end"))?;
                    self.pos += 2;
                    let c = match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let first = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&first) {
                                if !self.bytes[self.pos..].starts_with(b"\\u") {
                                    return Err(Error("lone surrogate"));
                                }
                                self.pos += 2;
                                let second = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&second) {
                                    return Err(Error("lone surrogate"));
                                }
                                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                            } else {
                                first
                            };
                            char::from_u32(code).ok_or(Error("lone surrogate"))?
                        }
                        _ => return Err(Error("bad escape")),
                    };
                    out.push(c);
                }
                Some(_) => return Err(Error("control character in a string")),
                None => return Err(Error("unterminated string")),
            }
        }
    }
}

/// A value that can be read from JSON.
pub trait FromJson: Sized {
    /// Reads it from `value`.
    fn from_json(value: &Value) -> Result<Self, Error>;
}

/// A value that can be written as JSON.
pub trait ToJson {
    /// Appends it to `out`.
    fn write_json(&self, out: &mut String);
}

impl FromJson for String {
    fn from_json(value: &Value) -> Result<Self, Error> {
        match value {
            Value::String(s) => Ok(s.clone()),
            Value::Null => Ok(String::new()),
            _ => Err(Error("expected a string")),
        }
    }
}

impl FromJson for bool {
    fn from_json(value: &Value) -> Result<Self, Error> {
        match value {
            Value::Bool(b) => Ok(*b),
            Value::Null => Ok(false),
            _ => Err(Error("expected true or false")),
        }
    }
}

impl FromJson for i64 {
    fn from_json(value: &Value) -> Result<Self, Error> {
        match value {
            Value::Number(n) => n.parse().map_err(|_| Error("expected an integer")),
            _ => Err(Error("expected an integer")),
        }
    }
}

impl FromJson for u64 {
    fn from_json(value: &Value) -> Result<Self, Error> {
        match value {
            Value::Number(n) => n.parse().map_err(|_| Error("expected an integer")),
            Value::Null => Ok(0),
            _ => Err(Error("expected an integer")),
        }
    }
}

impl<T: FromJson> FromJson for Option<T> {
    fn from_json(value: &Value) -> Result<Self, Error> {
        match value {
            Value::Null => Ok(None),
            other => T::from_json(other).map(Some),
        }
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    fn from_json(value: &Value) -> Result<Self, Error> {
        match value {
            Value::Array(items) => items.iter().map(T::from_json).collect(),
            Value::Null => Ok(Vec::new()),
            _ => Err(Error("expected an array")),
        }
    }
}

impl FromJson for Value {
    fn from_json(value: &Value) -> Result<Self, Error> {
        Ok(value.clone())
    }
}

impl ToJson for str {
    fn write_json(&self, out: &mut String) {
        out.push('"');
        for c in self.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    out.push_str("\\u00");
                    out.push(HEX[(c as usize) >> 4] as char);
                    out.push(HEX[(c as usize) & 15] as char);
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }
}

impl ToJson for String {
    fn write_json(&self, out: &mut String) {
        self.as_str().write_json(out);
    }
}

impl ToJson for bool {
    fn write_json(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
}

/// Appends the decimal digits of `n` (no formatting machinery: this runs in the pane).
fn write_u64(mut n: u64, out: &mut String) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for d in &digits[i..] {
        out.push(*d as char);
    }
}

impl ToJson for u64 {
    fn write_json(&self, out: &mut String) {
        write_u64(*self, out);
    }
}

impl ToJson for i64 {
    fn write_json(&self, out: &mut String) {
        if *self < 0 {
            out.push('-');
        }
        write_u64(self.unsigned_abs(), out);
    }
}

impl<T: ToJson> ToJson for Option<T> {
    fn write_json(&self, out: &mut String) {
        match self {
            Some(v) => v.write_json(out),
            None => out.push_str("null"),
        }
    }
}

impl<T: ToJson> ToJson for [T] {
    fn write_json(&self, out: &mut String) {
        out.push('[');
        for (i, item) in self.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            item.write_json(out);
        }
        out.push(']');
    }
}

impl<T: ToJson> ToJson for Vec<T> {
    fn write_json(&self, out: &mut String) {
        self.as_slice().write_json(out);
    }
}

impl<T: ToJson + ?Sized> ToJson for &T {
    fn write_json(&self, out: &mut String) {
        (**self).write_json(out);
    }
}

/// Writes a JSON object field by field: `Object::new(out).field("a", &1).end()`.
pub struct Object<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Object<'a> {
    /// Opens the object.
    pub fn new(out: &'a mut String) -> Self {
        out.push('{');
        Self { out, first: true }
    }

    /// Writes one field.
    pub fn field<T: ToJson + ?Sized>(mut self, name: &str, value: &T) -> Self {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        name.write_json(self.out);
        self.out.push(':');
        value.write_json(self.out);
        self
    }

    /// Closes the object.
    pub fn end(self) {
        self.out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_values_with_escapes_and_whitespace_parse() {
        let v =
            parse(" {\"a\" : [1, -2, true, null, \"x\\\"\\u00e9\\ud83d\\ude00\\n\"], \"b\":{}} ")
                .unwrap();
        let Value::Array(items) = v.get("a") else {
            panic!("{v:?}")
        };
        assert_eq!(items[0], Value::Number("1".into()));
        assert_eq!(i64::from_json(&items[1]), Ok(-2));
        assert_eq!(items[2], Value::Bool(true));
        assert_eq!(items[4].as_str(), Some("x\"é😀\n"));
        assert_eq!(v.get("b"), &Value::Object(vec![]));
        assert_eq!(v.get("missing"), &Value::Null);
    }

    #[test]
    fn broken_texts_are_refused_not_guessed() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\" 1}",
            "{a:1}",
            "\"open",
            "nul",
            "[1] x",
            "\"\\ud800\"",
            "\"\\q\"",
            "\"tab\there\"",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert_eq!(parse(&deep), Err(Error("nested too deeply")));
    }

    #[test]
    fn absent_and_null_fields_read_as_defaults_but_wrong_types_fail() {
        let v = parse(r#"{"s":null,"n":7,"list":null}"#).unwrap();
        assert_eq!(v.field::<String>("s"), Ok(String::new()));
        assert_eq!(v.field::<Option<i64>>("n"), Ok(Some(7)));
        assert_eq!(v.field::<Option<i64>>("absent"), Ok(None));
        assert_eq!(v.field::<Vec<String>>("list"), Ok(vec![]));
        assert!(v.field::<String>("n").is_err());
        assert!(v.field::<i64>("absent").is_err());
        assert!(from_str::<i64>("1.5").is_err());
    }

    #[test]
    fn written_strings_and_numbers_read_back_unchanged() {
        let text = "quote \" backslash \\ newline \n bell \u{7} Příliš žluťoučký 😀";
        let written = to_string(text);
        assert!(!written.contains('\n') && !written.contains('\u{7}'));
        assert_eq!(from_str::<String>(&written), Ok(text.to_owned()));
        for n in [0, 1, -1, 42, i64::MAX, i64::MIN] {
            assert_eq!(from_str::<i64>(&to_string(&n)), Ok(n));
        }
        assert_eq!(to_string(&u64::MAX), u64::MAX.to_string());
        let mut out = String::new();
        Object::new(&mut out)
            .field("a", &Some(1i64))
            .field("b", &vec!["x"])
            .field("c", &None::<bool>)
            .end();
        assert_eq!(out, r#"{"a":1,"b":["x"],"c":null}"#);
    }
}
