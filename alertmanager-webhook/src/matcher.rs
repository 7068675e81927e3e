//! Alertmanager-style label matchers: `name="value"`, `name!="value"`, `name=~"re"`, `name!~"re"`.

use std::fmt;

use regex::Regex;

use crate::payload::KeyValues;

/// How a matcher compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

/// One label matcher. A missing label matches as the empty string, as in Alertmanager.
#[derive(Debug, Clone)]
pub struct Matcher {
    name: String,
    op: Op,
    value: String,
    regex: Option<Regex>,
}

impl Matcher {
    /// Parses `name<op>value`; the value may be double-quoted (with `\"` and `\\` escapes).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let position = text
            .find(['=', '!'])
            .ok_or_else(|| format!("matcher `{text}` has no operator (=, !=, =~, !~)"))?;
        let name = text[..position].trim();
        let rest = &text[position..];
        let (op, value) = if let Some(v) = rest.strip_prefix("=~") {
            (Op::Regex, v)
        } else if let Some(v) = rest.strip_prefix("!~") {
            (Op::NotRegex, v)
        } else if let Some(v) = rest.strip_prefix("!=") {
            (Op::NotEqual, v)
        } else if let Some(v) = rest.strip_prefix('=') {
            (Op::Equal, v)
        } else {
            return Err(format!("matcher `{text}` has no operator (=, !=, =~, !~)"));
        };
        if name.is_empty()
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || name.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(format!("matcher `{text}`: `{name}` is not a label name"));
        }
        let value = unquote(value.trim()).map_err(|e| format!("matcher `{text}`: {e}"))?;
        let regex = match op {
            Op::Regex | Op::NotRegex => Some(
                Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| format!("matcher `{text}`: bad regular expression: {e}"))?,
            ),
            Op::Equal | Op::NotEqual => None,
        };
        Ok(Self {
            name: name.to_owned(),
            op,
            value,
            regex,
        })
    }

    /// Whether the label set satisfies this matcher.
    pub fn matches(&self, labels: &KeyValues) -> bool {
        let actual = labels.get(&self.name).map_or("", String::as_str);
        match (self.op, &self.regex) {
            (Op::Equal, _) => actual == self.value,
            (Op::NotEqual, _) => actual != self.value,
            (Op::Regex, Some(re)) => re.is_match(actual),
            (Op::NotRegex, Some(re)) => !re.is_match(actual),
            (Op::Regex | Op::NotRegex, None) => false,
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            Op::Equal => "=",
            Op::NotEqual => "!=",
            Op::Regex => "=~",
            Op::NotRegex => "!~",
        };
        write!(f, "{}{}{:?}", self.name, op, self.value)
    }
}

fn unquote(value: &str) -> Result<String, String> {
    let Some(inner) = value.strip_prefix('"') else {
        return Ok(value.to_owned());
    };
    let inner = inner
        .strip_suffix('"')
        .ok_or_else(|| "unterminated quoted value".to_owned())?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => return Err("value ends with a lone backslash".into()),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Whether every matcher matches (an empty list matches everything).
pub fn all_match(matchers: &[Matcher], labels: &KeyValues) -> bool {
    matchers.iter().all(|m| m.matches(labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> KeyValues {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_four_operators_match_like_alertmanager() {
        let set = labels(&[("alertname", "HighLatency"), ("service", "checkout")]);
        let matches = |text: &str| Matcher::parse(text).expect(text).matches(&set);
        assert!(matches(r#"alertname="HighLatency""#));
        assert!(matches("alertname=HighLatency"));
        assert!(!matches(r#"service!="checkout""#));
        assert!(matches(r#"service=~"check.*|cart""#));
        // Regular expressions are anchored.
        assert!(!matches(r#"service=~"check""#));
        assert!(matches(r#"service!~"cart""#));
        // A missing label is the empty string.
        assert!(matches(r#"team="""#));
        assert!(!matches(r#"team=~".+""#));
    }

    #[test]
    fn bad_matchers_are_refused_with_the_reason() {
        for (text, reason) in [
            ("alertname", "no operator"),
            (r#"="x""#, "not a label name"),
            (r#"a=~"(""#, "bad regular expression"),
            (r#"a="open"#, "unterminated"),
        ] {
            let error = Matcher::parse(text).expect_err(text);
            assert!(error.contains(reason), "{text}: {error}");
        }
    }

    #[test]
    fn quoted_values_unescape() {
        let m = Matcher::parse(r#"msg="say \"hi\"""#).expect("valid");
        assert!(m.matches(&labels(&[("msg", "say \"hi\"")])));
        assert_eq!(m.to_string(), r#"msg="say \"hi\"""#);
    }
}
