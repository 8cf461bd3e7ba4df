//! The command line of the examples that take options besides a URL: one positional argument,
//! switches such as `--urgent` and options with a value such as `--db PATH`. A mistake prints
//! the usage line and exits with status 2.
#![allow(dead_code, unreachable_pub)]

use std::str::FromStr;

use serde_json::Value;

/// What an example accepts, for parsing and for its usage line.
#[derive(Debug)]
pub struct Spec {
    /// The example's name, as given to `cargo run --example`.
    pub example: &'static str,
    /// The placeholder of the positional argument, such as `base-url`.
    pub positional: &'static str,
    /// Options without a value.
    pub switches: &'static [&'static str],
    /// Options with a value, each with its placeholder: `("--db", "PATH")`.
    pub options: &'static [(&'static str, &'static str)],
}

/// A parsed command line.
#[derive(Debug)]
pub struct Args {
    spec: &'static Spec,
    positional: String,
    switches: Vec<&'static str>,
    values: Vec<(&'static str, String)>,
}

impl Spec {
    /// Parses the process's arguments, or exits with the usage line.
    pub fn parse(&'static self) -> Args {
        self.parse_from(std::env::args().skip(1))
            .unwrap_or_else(|problem| self.usage(&problem))
    }

    fn parse_from(&'static self, given: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut positional = None;
        let mut switches = Vec::new();
        let mut values = Vec::new();
        let mut given = given;
        while let Some(arg) = given.next() {
            if let Some(switch) = self.switches.iter().find(|s| **s == arg) {
                switches.push(*switch);
            } else if let Some((option, placeholder)) = self.options.iter().find(|o| o.0 == arg) {
                let value = given
                    .next()
                    .ok_or_else(|| format!("{option} needs a {placeholder}"))?;
                values.push((*option, value));
            } else if arg.starts_with('-') {
                return Err(format!("unknown option {arg}"));
            } else if positional.is_none() {
                positional = Some(arg);
            } else {
                return Err(format!("unexpected argument {arg}"));
            }
        }
        let positional = positional.ok_or_else(|| format!("the {} is missing", self.positional))?;
        Ok(Args {
            spec: self,
            positional,
            switches,
            values,
        })
    }

    fn usage(&self, problem: &str) -> ! {
        let mut line = format!(
            "usage: cargo run -p pythia --example {} -- <{}>",
            self.example, self.positional
        );
        for switch in self.switches {
            line.push_str(&format!(" [{switch}]"));
        }
        for (option, placeholder) in self.options {
            line.push_str(&format!(" [{option} {placeholder}]"));
        }
        eprintln!("error: {problem}\n{line}");
        std::process::exit(2);
    }
}

impl Args {
    /// The positional argument.
    pub fn positional(&self) -> &str {
        &self.positional
    }

    /// Whether a switch was given.
    pub fn flag(&self, switch: &str) -> bool {
        self.switches.contains(&switch)
    }

    /// The value of an option, the last one when it was given several times.
    pub fn value(&self, option: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(name, _)| *name == option)
            .map(|(_, value)| value.as_str())
    }

    /// The value of an option parsed as `T`; a value that does not parse is a usage error.
    pub fn parsed<T: FromStr>(&self, option: &str) -> Option<T> {
        let text = self.value(option)?;
        match text.parse() {
            Ok(value) => Some(value),
            Err(_) => self.spec.usage(&format!("{option}: cannot read `{text}`")),
        }
    }

    /// The value of an option parsed as JSON; invalid JSON is a usage error.
    pub fn json(&self, option: &str) -> Option<Value> {
        let text = self.value(option)?;
        match serde_json::from_str(text) {
            Ok(value) => Some(value),
            Err(error) => self
                .spec
                .usage(&format!("{option} is not valid json: {error}")),
        }
    }
}
