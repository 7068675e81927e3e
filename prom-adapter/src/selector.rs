//! Series selectors in PromQL syntax (`name{label="v", other=~"re.*"}`) choosing which series are scored.

use regex::Regex;

use crate::labels::LabelPair;

#[derive(Clone, Debug)]
enum Op {
    Equal(String),
    NotEqual(String),
    Matches(Regex),
    NotMatches(Regex),
}

#[derive(Clone, Debug)]
struct Matcher {
    name: String,
    op: Op,
}

impl Matcher {
    fn matches<L: LabelPair>(&self, labels: &[L]) -> bool {
        // A missing label matches as the empty string, as in PromQL.
        let value = labels
            .iter()
            .find(|l| l.name() == self.name.as_bytes())
            .and_then(|l| std::str::from_utf8(l.value()).ok())
            .unwrap_or("");
        match &self.op {
            Op::Equal(v) => value == v,
            Op::NotEqual(v) => value != v,
            Op::Matches(re) => re.is_match(value),
            Op::NotMatches(re) => !re.is_match(value),
        }
    }
}

/// One series selector: every matcher must match.
#[derive(Clone, Debug)]
pub struct Selector {
    text: String,
    matchers: Vec<Matcher>,
}

impl Selector {
    /// Parses a selector such as `http_requests_total{job="api",code!~"5.."}`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let err = |why: &str| format!("invalid selector `{text}`: {why}");
        let mut matchers = Vec::new();
        let s = text.trim();
        let (name, rest) = match s.find('{') {
            Some(i) => (&s[..i], &s[i..]),
            None => (s, ""),
        };
        let name = name.trim();
        if !name.is_empty() {
            matchers.push(Matcher {
                name: "__name__".into(),
                op: Op::Equal(name.into()),
            });
        }
        if !rest.is_empty() {
            let body = rest
                .strip_prefix('{')
                .and_then(|r| r.strip_suffix('}'))
                .ok_or_else(|| err("unbalanced braces"))?;
            let mut chars = body.trim();
            while !chars.is_empty() {
                let op_at = chars
                    .find(['=', '!'])
                    .ok_or_else(|| err("expected an operator"))?;
                let label = chars[..op_at].trim();
                if label.is_empty() || !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    return Err(err(&format!("invalid label name `{label}`")));
                }
                let after = &chars[op_at..];
                let (op, after) = ["=~", "!~", "!=", "="]
                    .iter()
                    .find_map(|op| after.strip_prefix(op).map(|r| (*op, r.trim_start())))
                    .ok_or_else(|| err("expected =, !=, =~ or !~"))?;
                let (value, after) =
                    parse_quoted(after).ok_or_else(|| err("expected a quoted value"))?;
                let anchored =
                    || Regex::new(&format!("^(?:{value})$")).map_err(|e| err(&e.to_string()));
                let op = match op {
                    "=" => Op::Equal(value),
                    "!=" => Op::NotEqual(value),
                    "=~" => Op::Matches(anchored()?),
                    _ => Op::NotMatches(anchored()?),
                };
                matchers.push(Matcher {
                    name: label.into(),
                    op,
                });
                chars = after.trim_start();
                chars = chars.strip_prefix(',').unwrap_or(chars).trim_start();
            }
        }
        if matchers.is_empty() {
            return Err(err("no matchers"));
        }
        Ok(Self {
            text: text.into(),
            matchers,
        })
    }

    /// Whether the label set matches every matcher.
    pub fn matches<L: LabelPair>(&self, labels: &[L]) -> bool {
        self.matchers.iter().all(|m| m.matches(labels))
    }

    /// The selector as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Parses a double-quoted string with `\"`, `\\`, `\n` and `\t` escapes; returns it and the rest.
fn parse_quoted(s: &str) -> Option<(String, &str)> {
    let mut chars = s.strip_prefix('"')?.char_indices();
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 2..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// Which series to score: those matching any `include` selector (all when empty) and no `exclude` one.
#[derive(Clone, Debug, Default)]
pub struct SeriesFilter {
    include: Vec<Selector>,
    exclude: Vec<Selector>,
}

impl SeriesFilter {
    /// Builds the filter from selector strings.
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, String> {
        let parse = |list: &[String]| {
            list.iter()
                .map(|s| Selector::parse(s))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Self {
            include: parse(include)?,
            exclude: parse(exclude)?,
        })
    }

    /// Whether a series is scored.
    pub fn selects<L: LabelPair>(&self, labels: &[L]) -> bool {
        (self.include.is_empty() || self.include.iter().any(|s| s.matches(labels)))
            && !self.exclude.iter().any(|s| s.matches(labels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::v1::Label;
    use bytes::Bytes;

    fn labels(pairs: &[(&'static str, &'static str)]) -> Vec<Label> {
        pairs
            .iter()
            .map(|(n, v)| Label {
                name: Bytes::from_static(n.as_bytes()),
                value: Bytes::from_static(v.as_bytes()),
            })
            .collect()
    }

    #[test]
    fn selectors_match_like_promql() {
        let series = labels(&[
            ("__name__", "http_requests_total"),
            ("code", "500"),
            ("job", "api"),
        ]);
        for (sel, want) in [
            ("http_requests_total", true),
            ("up", false),
            (r#"{job="api"}"#, true),
            (r#"http_requests_total{code=~"5.."}"#, true),
            (r#"{code=~"5"}"#, false),
            (r#"{code!~"2..", job!="web"}"#, true),
            (r#"{missing=""}"#, true),
            (r#"{job="a\"b"}"#, false),
        ] {
            assert_eq!(
                Selector::parse(sel).expect(sel).matches(&series),
                want,
                "{sel}"
            );
        }
    }

    #[test]
    fn bad_selectors_are_refused_readably() {
        for bad in ["{job=api}", "{job=\"a\"", "{=\"a\"}", "{job=~\"(\"}", ""] {
            let err = Selector::parse(bad).expect_err(bad);
            assert!(err.contains("invalid selector"), "{err}");
        }
    }

    #[test]
    fn filter_combines_include_and_exclude() {
        let f = SeriesFilter::new(&["{job=\"api\"}".into()], &["{__name__=~\"go_.*\"}".into()])
            .expect("filter");
        assert!(f.selects(&labels(&[("__name__", "up"), ("job", "api")])));
        assert!(!f.selects(&labels(&[("__name__", "go_goroutines"), ("job", "api")])));
        assert!(!f.selects(&labels(&[("__name__", "up"), ("job", "web")])));
        assert!(SeriesFilter::default().selects(&labels(&[("__name__", "up")])));
    }
}
