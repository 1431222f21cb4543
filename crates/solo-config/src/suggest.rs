//! "Did you mean …?" for misspelled keys and names.

/// The candidate closest to `input`, if one is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let input = input.to_lowercase();
    let mut best: Option<(f64, &'a str)> = None;
    for candidate in candidates {
        let lower = candidate.to_lowercase();
        if lower == input {
            return Some(candidate);
        }
        let edits = strsim::levenshtein(&input, &lower);
        let similarity = strsim::jaro_winkler(&input, &lower);
        // A couple of typos in a word long enough for that to still be the same word, or a
        // strong shared prefix (`tls_certificate` for `tls_cert`).
        let close = (edits <= 2 && edits * 2 < lower.chars().count().max(2)) || similarity >= 0.9;
        if close && best.is_none_or(|(score, _)| similarity > score) {
            best = Some((similarity, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// "`a`, `b`, `c`"
pub(crate) fn list<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> String {
    names
        .into_iter()
        .map(|name| format!("`{}`", name.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let keys = ["listen", "data_dir"];
        assert_eq!(did_you_mean("lisen", keys), Some("listen"));
        assert_eq!(did_you_mean("LISTEN", keys), Some("listen"));
        assert_eq!(did_you_mean("datadir", keys), Some("data_dir"));
        assert_eq!(did_you_mean("colour", keys), None);
        assert_eq!(did_you_mean("x", keys), None);
        assert_eq!(
            did_you_mean("jsn", ["auto", "json", "pretty"]),
            Some("json")
        );
        assert_eq!(
            did_you_mean("tls_certificate", ["tls_cert", "tls_key"]),
            Some("tls_cert")
        );
        assert_eq!(did_you_mean("ab", ["cd"]), None);
    }

    #[test]
    fn lists() {
        assert_eq!(list(["a", "b"]), "`a`, `b`");
    }
}
