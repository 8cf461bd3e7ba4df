//! A strict parser of the Prometheus text exposition format (0.0.4), enough to reject what
//! `promtool check metrics` rejects in practice: bad names, bad label syntax, values that are
//! not numbers, a `# TYPE` after samples of its family or given twice.
#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, HashSet};

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Parses the whole text or says which line is wrong and why.
pub fn parse(text: &str) -> Result<Vec<Sample>, String> {
    let mut samples = Vec::new();
    let mut typed = HashSet::new();
    let mut seen_families = HashSet::new();
    for (number, line) in text.lines().enumerate() {
        let fail = |why: &str| format!("line {}: {why}: {line}", number + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.trim_start().splitn(3, ' ');
            match words.next() {
                Some("TYPE") => {
                    let name = words.next().ok_or_else(|| fail("TYPE without a name"))?;
                    let kind = words.next().ok_or_else(|| fail("TYPE without a type"))?;
                    check_name(name).map_err(|e| fail(&e))?;
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                        return Err(fail("unknown type"));
                    }
                    if !typed.insert(name.to_owned()) {
                        return Err(fail("second TYPE for one family"));
                    }
                    if seen_families.contains(name) {
                        return Err(fail("TYPE after samples of its family"));
                    }
                }
                Some("HELP") => {
                    let name = words.next().ok_or_else(|| fail("HELP without a name"))?;
                    check_name(name).map_err(|e| fail(&e))?;
                }
                _ => {}
            }
            continue;
        }
        let sample = parse_sample(line).map_err(|e| fail(&e))?;
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| sample.name.strip_suffix(suffix))
            .filter(|base| typed.contains(*base))
            .unwrap_or(&sample.name)
            .to_owned();
        seen_families.insert(family);
        samples.push(sample);
    }
    Ok(samples)
}

fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
        Ok(())
    } else {
        Err(format!("invalid metric name `{name}`"))
    }
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("a sample needs a value")?;
    let name = &line[..name_end];
    check_name(name)?;
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices().peekable();
        let mut end = None;
        loop {
            while chars.peek().is_some_and(|(_, c)| *c == ',' || *c == ' ') {
                chars.next();
            }
            match chars.peek() {
                Some((at, '}')) => {
                    end = Some(*at);
                    break;
                }
                None => break,
                _ => {}
            }
            let mut key = String::new();
            for (_, c) in chars.by_ref() {
                if c == '=' {
                    break;
                }
                key.push(c);
            }
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("invalid label name `{key}`"));
            }
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err("label value must be quoted".into());
            }
            let mut value = String::new();
            let mut closed = false;
            while let Some((_, c)) = chars.next() {
                match c {
                    '\\' => match chars.next().map(|(_, c)| c) {
                        Some('n') => value.push('\n'),
                        Some('\\') => value.push('\\'),
                        Some('"') => value.push('"'),
                        _ => return Err("invalid escape in label value".into()),
                    },
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return Err("unterminated label value".into());
            }
            if labels.insert(key.clone(), value).is_some() {
                return Err(format!("label `{key}` given twice"));
            }
        }
        let end = end.ok_or("unterminated label set")?;
        rest = &inner[end + 1..];
    }
    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or("a sample needs a value")?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        other => other
            .parse()
            .map_err(|_| format!("`{other}` is not a number"))?,
    };
    if let Some(timestamp) = fields.next() {
        timestamp
            .parse::<i64>()
            .map_err(|_| format!("`{timestamp}` is not a timestamp"))?;
    }
    if fields.next().is_some() {
        return Err("text after the timestamp".into());
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

#[test]
fn the_parser_rejects_what_it_should() {
    assert!(parse("# TYPE a counter\na 1\n").is_ok());
    assert!(parse("a{b=\"c\",d=\"e\\\"\"} 1.5 17\n").is_ok());
    assert!(parse("a b\n").is_err());
    assert!(parse("1a 1\n").is_err());
    assert!(parse("a{b=c} 1\n").is_err());
    assert!(parse("a 1\n# TYPE a counter\n").is_err());
    assert!(parse("# TYPE a counter\n# TYPE a gauge\n").is_err());
}
