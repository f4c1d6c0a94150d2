//! A small JSON reader and string writer: just what the page's frames need, with the
//! same rules as serde_json for them (strict grammar, escapes and surrogate pairs, no raw
//! control characters in strings, integers only where integers are expected, a
//! duplicate of a field read is an error). Malformed input is `None`, never a panic.

/// One JSON value. Numbers keep their text: a field that wants an integer checks it.
#[derive(Debug, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    /// The number's text as written, already checked against JSON's number grammar.
    Number(&'a str),
    String(String),
    Array(Vec<Value<'a>>),
    /// Members in the order written; duplicates kept, so a reader can refuse them.
    Object(Vec<(String, Value<'a>)>),
}

/// How deep arrays and objects may nest; deeper input is refused rather than risking the
/// stack (serde_json's limit is 128; no frame of the protocol nests more than 2).
const MAX_DEPTH: u32 = 32;

/// Parses a whole text as one JSON value; `None` if it is not exactly that.
pub fn parse(text: &str) -> Option<Value<'_>> {
    let mut reader = Reader { text, at: 0 };
    let value = reader.value(0)?;
    reader.skip_space();
    (reader.at == text.len()).then_some(value)
}

impl<'a> Value<'a> {
    /// The member `key` of an object: `Ok(None)` if absent, `Err` if this is not an
    /// object or the key is there twice.
    pub fn field(&self, key: &str) -> Result<Option<&Value<'a>>, ()> {
        let Value::Object(members) = self else {
            return Err(());
        };
        let mut found = members.iter().filter(|(k, _)| k == key).map(|(_, v)| v);
        let first = found.next();
        match found.next() {
            Some(_) => Err(()),
            None => Ok(first),
        }
    }

    /// An integer that fits `T`; a fraction or an exponent is not an integer.
    pub fn integer<T: TryFrom<i64>>(&self) -> Option<T> {
        match self {
            Value::Number(text) if !text.contains(['.', 'e', 'E']) => {
                T::try_from(text.parse::<i64>().ok()?).ok()
            }
            _ => None,
        }
    }

    pub fn boolean(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn string(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

/// A cursor over the text; every method returns `None` at the first error.
struct Reader<'a> {
    text: &'a str,
    /// Byte offset of the next unread byte.
    at: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// Consumes `word` if the text continues with it.
    fn eat(&mut self, word: &str) -> Option<()> {
        self.text[self.at..]
            .starts_with(word)
            .then(|| self.at += word.len())
    }

    fn value(&mut self, depth: u32) -> Option<Value<'a>> {
        self.skip_space();
        match self.peek()? {
            b'n' => self.eat("null").map(|_| Value::Null),
            b't' => self.eat("true").map(|_| Value::Bool(true)),
            b'f' => self.eat("false").map(|_| Value::Bool(false)),
            b'"' => self.string().map(Value::String),
            b'[' if depth < MAX_DEPTH => self.array(depth + 1),
            b'{' if depth < MAX_DEPTH => self.object(depth + 1),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn array(&mut self, depth: u32) -> Option<Value<'a>> {
        self.at += 1;
        let mut items = Vec::new();
        self.skip_space();
        if self.eat("]").is_some() {
            return Some(Value::Array(items));
        }
        loop {
            items.push(self.value(depth)?);
            self.skip_space();
            if self.eat(",").is_none() {
                self.eat("]")?;
                return Some(Value::Array(items));
            }
        }
    }

    fn object(&mut self, depth: u32) -> Option<Value<'a>> {
        self.at += 1;
        let mut members = Vec::new();
        self.skip_space();
        if self.eat("}").is_some() {
            return Some(Value::Object(members));
        }
        loop {
            self.skip_space();
            if self.peek()? != b'"' {
                return None;
            }
            let key = self.string()?;
            self.skip_space();
            self.eat(":")?;
            members.push((key, self.value(depth)?));
            self.skip_space();
            if self.eat(",").is_none() {
                self.eat("}")?;
                return Some(Value::Object(members));
            }
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Option<Value<'a>> {
        let start = self.at;
        let _ = self.eat("-");
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.eat(".").is_some() {
            self.peek().filter(u8::is_ascii_digit)?;
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            self.peek().filter(u8::is_ascii_digit)?;
            self.digits();
        }
        Some(Value::Number(&self.text[start..self.at]))
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
    }

    /// A string literal, the opening quote next.
    fn string(&mut self) -> Option<String> {
        self.at += 1;
        let mut out = String::new();
        loop {
            // copy the run up to the next quote, backslash or control character at once
            let rest = &self.text[self.at..];
            let run = rest
                .bytes()
                .position(|b| b == b'"' || b == b'\\' || b < 0x20)?;
            out.push_str(&rest[..run]);
            self.at += run;
            match self.peek()? {
                b'"' => {
                    self.at += 1;
                    return Some(out);
                }
                b'\\' => {
                    self.at += 1;
                    let escaped = self.peek()?;
                    self.at += 1;
                    out.push(match escaped {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return None,
                    });
                }
                // a raw control character: not allowed in a JSON string
                _ => return None,
            }
        }
    }

    /// The character of a `\uXXXX` escape (the `\u` read), joining a surrogate pair;
    /// a lone surrogate is an error, as in serde_json.
    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4()?;
        if !(0xD800..0xDC00).contains(&first) {
            return char::from_u32(first);
        }
        self.eat("\\u")?;
        let second = self.hex4()?;
        if !(0xDC00..0xE000).contains(&second) {
            return None;
        }
        char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.at..self.at + 4)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.at += 4;
        u32::from_str_radix(digits, 16).ok()
    }
}

/// Appends `text` to `out` as a JSON string literal, escaped as serde_json does it.
pub fn write_string(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 0xf] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_kind_of_value() {
        let value = parse(r#" {"a": [1, -2.5e3, true, false, null], "b": {"c": "d"}, "e": []} "#);
        assert_eq!(
            value,
            Some(Value::Object(vec![
                (
                    "a".into(),
                    Value::Array(vec![
                        Value::Number("1"),
                        Value::Number("-2.5e3"),
                        Value::Bool(true),
                        Value::Bool(false),
                        Value::Null,
                    ])
                ),
                (
                    "b".into(),
                    Value::Object(vec![("c".into(), Value::String("d".into()))])
                ),
                ("e".into(), Value::Array(vec![])),
            ]))
        );
    }

    #[test]
    fn strings_unescape_as_serde_json_does() {
        for literal in [
            r#""plain""#,
            r#""quote \" backslash \\ slash \/""#,
            r#""\b\f\n\r\t""#,
            r#""\u00e9t\u00C9 \u2603""#,
            r#""pair \ud83d\udd77 spider""#,
            "\"raw non-ascii: \u{1f577} é\"",
        ] {
            let ours = parse(literal).and_then(|v| v.string().map(str::to_owned));
            let theirs: String = serde_json::from_str(literal).expect("serde_json reads it");
            assert_eq!(ours, Some(theirs), "{literal}");
        }
    }

    #[test]
    fn malformed_text_is_none() {
        for text in [
            "",
            " ",
            "nul",
            "tru",
            "01",
            "1.",
            "-",
            "1e",
            ".5",
            "+1",
            "\"unterminated",
            "\"raw\ncontrol\"",
            r#""bad \x escape""#,
            r#""\u12""#,
            r#""lone \ud83d surrogate""#,
            r#""\udd77 trailing surrogate""#,
            "[1,]",
            "[1 2]",
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{a:1}"#,
            "{} {}",
            "[",
            &"[".repeat(100_000),
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn integers_are_checked_against_their_type() {
        let n = |text| parse(text).expect("a number");
        assert_eq!(n("-2147483648").integer::<i32>(), Some(i32::MIN));
        assert_eq!(n("2147483648").integer::<i32>(), None);
        assert_eq!(n("-1").integer::<u32>(), None);
        assert_eq!(n("4294967295").integer::<u32>(), Some(u32::MAX));
        assert_eq!(n("1.0").integer::<i32>(), None);
        assert_eq!(n("1e2").integer::<i32>(), None);
        assert_eq!(n("99999999999999999999").integer::<i32>(), None);
    }

    #[test]
    fn a_duplicate_field_is_an_error() {
        let value = parse(r#"{"a":1,"a":2,"b":3}"#).expect("an object");
        assert_eq!(value.field("a"), Err(()));
        assert_eq!(value.field("b"), Ok(Some(&Value::Number("3"))));
        assert_eq!(value.field("c"), Ok(None));
        assert_eq!(Value::Null.field("a"), Err(()));
    }

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        for text in [
            "",
            "plain",
            "quote \" backslash \\ slash /",
            "\u{8}\u{c}\n\r\t \u{0} \u{1f} \u{7f}",
            "non-ascii: \u{1f577} é \u{2028}",
        ] {
            let mut ours = String::new();
            write_string(&mut ours, text);
            assert_eq!(
                ours,
                serde_json::to_string(text).expect("a string"),
                "{text:?}"
            );
        }
    }
}
