//! Catalog text (about and usage, written by publishers, read by anyone)
//! rendered from Markdown with nothing active left in it: raw HTML is
//! shown as text, links keep only `http`, `https`, `mailto` and relative
//! targets, and images become links (the gallery's CSP loads none from
//! elsewhere anyway).

use pulldown_cmark::{html, CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};

/// `text` as HTML that runs nothing.
pub fn render(text: &str) -> String {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    let events = Parser::new_ext(text, options).map(|event| match event {
        // `<script>` and friends, as the text they are.
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            dest_url,
            title,
            id,
            ..
        }) => Event::Start(Tag::Link {
            link_type: LinkType::Inline,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::End(TagEnd::Image) => Event::End(TagEnd::Link),
        other => other,
    });
    let mut out = String::with_capacity(text.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

/// The URL if its scheme cannot run anything, else `#`.
fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let lower = url.trim_start().to_ascii_lowercase();
    let scheme = lower
        .split_once(':')
        .map(|(s, _)| s)
        .filter(|s| !s.contains('/') && !s.contains('?') && !s.contains('#'));
    match scheme {
        None | Some("http" | "https" | "mailto") => url,
        Some(_) => CowStr::Borrowed("#"),
    }
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn markdown_renders_and_html_in_it_stays_text() {
        let html = render("# Tool\n\nRun **it**.\n\n<script>alert(1)</script>\n\nand <img src=x onerror=alert(1)> inline");
        assert!(html.contains("<h1>Tool</h1>"), "{html}");
        assert!(html.contains("<strong>it</strong>"), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<img"), "{html}");
    }

    #[test]
    fn links_keep_only_harmless_targets() {
        for (md, want) in [
            (
                "[a](https://example.com/x)",
                "href=\"https://example.com/x\"",
            ),
            ("[a](/docs)", "href=\"/docs\""),
            ("[a](mailto:x@example.com)", "href=\"mailto:x@example.com\""),
            ("[a](javascript:alert(1))", "href=\"#\""),
            ("[a]( JavaScript:alert(1))", "href=\"#\""),
            ("[a](data:text/html,hi)", "href=\"#\""),
            ("![logo](javascript:alert(1))", "href=\"#\""),
        ] {
            let html = render(md);
            assert!(html.contains(want), "{md}: {html}");
        }
    }
}
