//! Text from clients (player names, chat lines), made safe to show to everyone.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Trims `text`, drops control characters (Unicode Cc) and format characters (Cf: bidi
/// overrides and isolates, zero-width spaces and joiners, soft hyphens, ...), and cuts it
/// to `max` characters. A name or line from one client is drawn on every other client's
/// screen, where such characters could reorder or hide what others see.
pub fn clean(text: &str, max: usize) -> String {
    let kept: String = text
        .chars()
        .filter(|c| {
            !matches!(
                c.general_category(),
                GeneralCategory::Control | GeneralCategory::Format
            )
        })
        .collect();
    kept.trim().chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn client_text_is_trimmed_stripped_of_control_and_format_characters_and_cut() {
        for (input, max, expected) in [
            ("  Ana\u{7}\n ", 32, "Ana"),
            ("ÅÅÅ", 2, "ÅÅ"),
            ("Admin\u{202E}nimda", 32, "Adminnimda"),
            (
                "a\u{200B}b\u{2066}c\u{2069}d\u{FEFF}e\u{AD}f\u{200D}g",
                32,
                "abcdefg",
            ),
            ("\u{200B} Ana \u{200B}", 32, "Ana"),
            ("\u{E0041}tag", 32, "tag"),
            ("spider 🕷 ok", 32, "spider 🕷 ok"),
            ("\u{0}\u{1F}\u{7F}\u{9F}", 32, ""),
        ] {
            assert_eq!(clean(input, max), expected, "{input:?}");
        }
        assert_eq!(clean(&"x".repeat(100), 32).chars().count(), 32);
    }
}
