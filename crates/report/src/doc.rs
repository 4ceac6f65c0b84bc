//! The report as a list of blocks, rendered to Markdown (`report.md`) and to a self-contained
//! HTML page (`report.html`, SVG figures inlined, no network).
//!
//! Cell and paragraph text may use three pieces of Markdown, `**strong**`, `` `code` `` and
//! `[text](relative/link)`, which HTML renders as `<strong>`, `<code>` and `<a>`; everything
//! else is escaped.

/// A table of text cells.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// One piece of the report.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A heading of level 1–3.
    Heading(u8, String),
    Paragraph(String),
    Table(Table),
    /// Preformatted text with a language tag for Markdown (`toml`, …).
    Code {
        lang: String,
        text: String,
    },
    /// An SVG figure: its path relative to the report and its contents (inlined in HTML).
    Figure {
        path: String,
        svg: String,
        caption: String,
    },
}

impl Table {
    pub fn new(header: Vec<String>) -> Self {
        Table { header, rows: Vec::new() }
    }

    pub fn to_markdown(&self) -> String {
        let row = |cells: &[String]| {
            format!("| {} |\n", cells.iter().map(|c| c.replace('|', "\\|")).collect::<Vec<_>>().join(" | "))
        };
        let mut out = row(&self.header);
        out += &format!("|{}|\n", vec!["---"; self.header.len()].join("|"));
        for r in &self.rows {
            out += &row(r);
        }
        out
    }

    /// Aligned plain text for the terminal (`**` marks dropped).
    pub fn to_text(&self) -> String {
        let plain = |c: &String| c.replace("**", "");
        let header: Vec<String> = self.header.iter().map(plain).collect();
        let rows: Vec<Vec<String>> = self.rows.iter().map(|r| r.iter().map(plain).collect()).collect();
        let widths: Vec<usize> = (0..header.len())
            .map(|i| {
                rows.iter().filter_map(|r| r.get(i)).chain([&header[i]]).map(|c| c.chars().count()).max().unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| -> String {
            let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
            format!("{}\n", padded.join("  ").trim_end())
        };
        let mut out = line(&header);
        out += &line(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>());
        for r in &rows {
            out += &line(r);
        }
        out
    }

    pub fn to_html(&self) -> String {
        let mut out = String::from("<table>\n<thead><tr>");
        for h in &self.header {
            out += &format!("<th>{}</th>", inline_html(h));
        }
        out += "</tr></thead>\n<tbody>\n";
        for r in &self.rows {
            out += "<tr>";
            for c in r {
                let class = if looks_numeric(c) { " class=\"num\"" } else { "" };
                out += &format!("<td{class}>{}</td>", inline_html(c));
            }
            out += "</tr>\n";
        }
        out + "</tbody>\n</table>\n"
    }
}

/// Numbers, `mean ± std`, intervals and counts are right-aligned in HTML.
fn looks_numeric(cell: &str) -> bool {
    !cell.is_empty() && cell.chars().all(|c| c.is_ascii_digit() || " .,+-−±[]/—eE".contains(c))
}

/// Turns `[text](href)` (already escaped) into a link.
fn links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let tail = &rest[open + 1..];
        let Some((label, after)) = tail.split_once("](") else { break };
        let Some((href, next)) = after.split_once(')') else { break };
        if label.contains('[') || href.contains(char::is_whitespace) {
            out += &rest[..open + 1];
            rest = tail;
            continue;
        }
        out += &rest[..open];
        out += &format!("<a href=\"{href}\">{label}</a>");
        rest = next;
    }
    out + rest
}

/// Escapes `text` for HTML and turns `**x**` into `<strong>x</strong>`, `` `x` `` into
/// `<code>x</code>` and `[x](y)` into `<a href="y">x</a>`.
pub fn inline_html(text: &str) -> String {
    let wrap = |text: &str, mark: &str, tag: &str| -> String {
        let mut out = String::with_capacity(text.len());
        for (i, part) in text.split(mark).enumerate() {
            if i % 2 == 1 {
                out += &format!("<{tag}>{part}</{tag}>");
            } else {
                out += part;
            }
        }
        out
    };
    links(&wrap(&wrap(&escape(text), "**", "strong"), "`", "code"))
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The blocks as Markdown.
pub fn to_markdown(blocks: &[Block]) -> String {
    let mut out = String::new();
    for b in blocks {
        if !out.is_empty() {
            out.push('\n');
        }
        match b {
            Block::Heading(level, text) => out += &format!("{} {text}\n", "#".repeat(*level as usize)),
            Block::Paragraph(text) => out += &format!("{text}\n"),
            Block::Table(t) => out += &t.to_markdown(),
            Block::Code { lang, text } => out += &format!("```{lang}\n{}\n```\n", text.trim_end()),
            Block::Figure { path, caption, .. } => out += &format!("![{caption}]({path})\n"),
        }
    }
    out
}

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;border-bottom:2px solid #ddd;padding-bottom:.2em}h2{font-size:1.25em;margin-top:1.8em}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}tbody tr:nth-child(even){background:#fafafa}
code{background:#f3f3f3;padding:0 .2em;font-size:.9em}pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:.85em}
figure{margin:1em 0}figure svg{max-width:100%;height:auto;border:1px solid #eee}figcaption{font-size:.9em;color:#555}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:1em}";

/// The blocks as a self-contained HTML page titled `title`, reloading itself every `refresh`
/// seconds when given. Consecutive figures share a grid.
pub fn to_html(title: &str, blocks: &[Block], refresh: Option<u32>) -> String {
    let reload = refresh.map(|s| format!("<meta http-equiv=\"refresh\" content=\"{s}\"/>\n")).unwrap_or_default();
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n{reload}\
         <title>{}</title>\n<style>\n{STYLE}\n</style>\n</head>\n<body>\n",
        escape(title)
    );
    let mut in_figures = false;
    for b in blocks {
        let figure = matches!(b, Block::Figure { .. });
        if figure && !in_figures {
            out += "<div class=\"figures\">\n";
        } else if !figure && in_figures {
            out += "</div>\n";
        }
        in_figures = figure;
        match b {
            Block::Heading(level, text) => out += &format!("<h{level}>{}</h{level}>\n", inline_html(text)),
            Block::Paragraph(text) => out += &format!("<p>{}</p>\n", inline_html(text)),
            Block::Table(t) => out += &t.to_html(),
            Block::Code { text, .. } => out += &format!("<pre>{}</pre>\n", escape(text.trim_end())),
            Block::Figure { svg, caption, .. } => {
                // Drop the XML prolog, if any: it is not allowed inside HTML.
                let svg = svg.find("<svg").map_or(svg.as_str(), |i| &svg[i..]);
                out += &format!("<figure>\n{svg}\n<figcaption>{}</figcaption>\n</figure>\n", inline_html(caption));
            }
        }
    }
    if in_figures {
        out += "</div>\n";
    }
    out + "</body>\n</html>\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escapes_pipes_and_html_escapes_markup() {
        let mut t = Table::new(vec!["a".into(), "b".into()]);
        t.rows.push(vec!["x|y".into(), "**ok** <b> `k`".into()]);
        assert_eq!(t.to_markdown(), "| a | b |\n|---|---|\n| x\\|y | **ok** <b> `k` |\n");
        let html = t.to_html();
        assert!(html.contains("<td><strong>ok</strong> &lt;b&gt; <code>k</code></td>"), "{html}");
        assert!(html.contains("<td>x|y</td>"), "{html}");
    }

    #[test]
    fn links_become_anchors_and_brackets_stay_text() {
        assert_eq!(inline_html("see [parity](parity/report.html)."), "see <a href=\"parity/report.html\">parity</a>.");
        assert_eq!(inline_html("[0.1, 0.2]"), "[0.1, 0.2]");
        assert_eq!(inline_html("[a] (b) [c](d e)"), "[a] (b) [c](d e)");
    }

    #[test]
    fn numbers_are_right_aligned() {
        assert!(looks_numeric("0.9500 ± 0.0707"));
        assert!(looks_numeric("[0.3147, 1.5853]"));
        assert!(looks_numeric("3/10"));
        assert!(!looks_numeric("lstm"));
        assert!(!looks_numeric(""));
    }

    #[test]
    fn figures_are_inlined_without_prolog_and_grouped() {
        let fig = |n: &str| Block::Figure {
            path: format!("plots/{n}.svg"),
            svg: "<?xml version=\"1.0\"?>\n<svg width=\"1\"></svg>".into(),
            caption: n.into(),
        };
        let blocks = [Block::Heading(1, "T".into()), fig("a"), fig("b"), Block::Paragraph("end".into())];
        let html = to_html("T & co", &blocks, None);
        assert!(html.contains("<title>T &amp; co</title>"));
        assert!(!html.contains("<?xml"));
        assert_eq!(html.matches("<div class=\"figures\">").count(), 1);
        assert_eq!(html.matches("<svg").count(), 2);
        let md = to_markdown(&blocks);
        assert_eq!(md, "# T\n\n![a](plots/a.svg)\n\n![b](plots/b.svg)\n\nend\n");
    }
}
