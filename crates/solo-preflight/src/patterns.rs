//! What counts as leftover debugging code, and what looks like a secret.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::Regex;

/// Rust's debugging macro, spelled in two halves so that this source (and
/// solo's own preflight over it) holds the pattern without holding a call.
pub const RUST_DEBUG_MACRO: &str = concat!("dbg", "!(");

/// solo's own patterns, by file extension.
pub fn default_debug_patterns() -> BTreeMap<&'static str, &'static [&'static str]> {
    const JS: &[&str] = &["console.log(", "debugger;", ".only("];
    BTreeMap::from([
        ("rs", &[RUST_DEBUG_MACRO][..]),
        ("js", JS),
        ("mjs", JS),
        ("cjs", JS),
        ("jsx", JS),
        ("ts", JS),
        ("tsx", JS),
        ("py", &["import pdb", "pdb.set_trace(", "breakpoint()"][..]),
        ("rb", &["binding.pry", "byebug"][..]),
        ("php", &["var_dump(", "dd("][..]),
        ("go", &["spew.Dump("][..]),
    ])
}

/// Extension → patterns, the stack's added to solo's.
pub(crate) fn debug_table(extra: &BTreeMap<String, Vec<String>>) -> BTreeMap<String, Vec<String>> {
    let mut table: BTreeMap<String, Vec<String>> = default_debug_patterns()
        .into_iter()
        .map(|(ext, list)| {
            (
                ext.to_owned(),
                list.iter().map(|p| (*p).to_owned()).collect(),
            )
        })
        .collect();
    for (ext, list) in extra {
        table
            .entry(ext.trim_start_matches('.').to_owned())
            .or_default()
            .extend(list.iter().cloned());
    }
    table
}

/// Secrets with a recognisable shape.
pub(crate) fn secret_shapes() -> &'static [(&'static str, Regex)] {
    static SHAPES: OnceLock<Vec<(&'static str, Regex)>> = OnceLock::new();
    SHAPES.get_or_init(|| {
        [
            (
                "a private key",
                r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY",
            ),
            ("an AWS access key id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
            ("a GitHub token", r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
            ("a Slack token", r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
            ("a Stripe live key", r"\b[sr]k_live_[0-9a-zA-Z]{16,}"),
            ("a Google API key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
        ]
        .into_iter()
        .filter_map(|(name, pattern)| Regex::new(pattern).ok().map(|re| (name, re)))
        .collect()
    })
}

/// `name = "value"` where the name says secret.
pub(crate) fn secret_assignment() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r#"(?i)\b[a-z0-9_]*(?:secret|token|passw(?:or)?d|api_?key|private_?key|auth)[a-z0-9_]*["']?\s*(?::=|=>|=|:)\s*["']([^"'\s]{16,})["']"#,
        )
        .expect("static regex")
    })
}

/// Shannon entropy in bits per character.
pub(crate) fn entropy(text: &str) -> f64 {
    let mut counts = [0_u32; 256];
    for b in text.bytes() {
        counts[b as usize] += 1;
    }
    let n = text.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / n;
            -p * p.log2()
        })
        .sum()
}
