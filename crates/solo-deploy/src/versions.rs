//! Versions from commit messages (Conventional Commits): since the release
//! before, any `BREAKING` change bumps the major, any `feat` the minor,
//! anything else the patch. The first release is `0.1.0`.

/// How far a set of commits moves the version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bump {
    Patch,
    Minor,
    Major,
}

/// The bump one commit subject (or whole message) asks for.
pub fn bump_of(message: &str) -> Bump {
    let subject = message.lines().next().unwrap_or_default().trim();
    let breaking_footer = message
        .lines()
        .any(|line| line.starts_with("BREAKING CHANGE:") || line.starts_with("BREAKING-CHANGE:"));
    let kind = subject.split_once(':').map_or("", |(kind, _)| kind.trim());
    if breaking_footer || kind.starts_with("BREAKING") || kind.ends_with('!') {
        return Bump::Major;
    }
    let kind = kind.split('(').next().unwrap_or_default();
    if kind == "feat" {
        Bump::Minor
    } else {
        Bump::Patch
    }
}

/// The version after `previous` given the commits since it.
pub fn next_version(previous: Option<&str>, messages: &[String]) -> String {
    let Some((major, minor, patch)) = previous.and_then(parse) else {
        return "0.1.0".to_owned();
    };
    let bump = messages
        .iter()
        .map(|m| bump_of(m))
        .max()
        .unwrap_or(Bump::Patch);
    match bump {
        Bump::Major => format!("{}.0.0", major + 1),
        Bump::Minor => format!("{major}.{}.0", minor + 1),
        Bump::Patch => format!("{major}.{minor}.{}", patch + 1),
    }
}

fn parse(version: &str) -> Option<(u64, u64, u64)> {
    let mut parts = version.trim_start_matches('v').splitn(3, '.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = parts
        .next()?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    Some((major, minor, patch))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgs(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_biggest_change_since_the_last_release_sets_the_bump() {
        assert_eq!(next_version(None, &msgs(&["feat: x"])), "0.1.0");
        assert_eq!(
            next_version(Some("1.4.2"), &msgs(&["fix: a", "chore: b"])),
            "1.4.3"
        );
        assert_eq!(
            next_version(Some("1.4.2"), &msgs(&["fix: a", "feat(cart): b"])),
            "1.5.0"
        );
        assert_eq!(
            next_version(Some("1.4.2"), &msgs(&["feat: a", "BREAKING: b"])),
            "2.0.0"
        );
        assert_eq!(
            next_version(Some("1.4.2"), &msgs(&["refactor!: drop v1 api"])),
            "2.0.0"
        );
        assert_eq!(
            next_version(
                Some("1.4.2"),
                &msgs(&["fix: a\n\nBREAKING CHANGE: the flag is gone"])
            ),
            "2.0.0"
        );
        assert_eq!(
            next_version(Some("1.4.2"), &[]),
            "1.4.3",
            "a redeploy is a patch"
        );
        assert_eq!(next_version(Some("not-a-version"), &[]), "0.1.0");
    }

    #[test]
    fn a_word_that_merely_starts_like_a_kind_is_a_patch() {
        assert_eq!(bump_of("feature flags cleanup"), Bump::Patch);
        assert_eq!(bump_of("featured: nothing"), Bump::Patch);
    }
}
